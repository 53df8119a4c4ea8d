// One invocation of a bundled handler in a fresh process, as Lambda runs it:
// `node invoke-bundle.cjs <bundle.cjs> <event.json> <result.json>`. The answer
// (or the load/handler error) goes to the result file; the handler's own log
// lines stay on stdout.
const { readFileSync, writeFileSync } = require('node:fs');

const [bundle, eventFile, resultFile] = process.argv.slice(2);
const deadline = Date.now() + 20_000;
const context = { awsRequestId: 'bundle-test', functionName: 'bundle-test', getRemainingTimeInMillis: () => deadline - Date.now() };
const write = (result) => writeFileSync(resultFile, JSON.stringify(result));

let handler;
try {
  ({ handler } = require(bundle));
} catch (error) {
  write({ loadError: String(error && error.message) });
  process.exit(0);
}
handler(JSON.parse(readFileSync(eventFile, 'utf8')), context).then(
  (answer) => write({ answer }),
  (error) => write({ handlerError: String(error && error.stack) }),
);
