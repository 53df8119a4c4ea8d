// One invocation of a bundled handler in a fresh process, as Lambda runs it:
// `node invoke-bundle.cjs <bundle.cjs> <event.json> <result.json>`. The answer
// (or the load/handler error) goes to the result file, with the chunk files
// (`kfm-*.cjs`) loaded when the handler answered and when the process ran out of
// work: locally (no KFM_QUEUE_URL) intake's in-process worker runs the step in
// this same process after the 202, and the result is written once it is done.
// The handler's own log lines stay on stdout.
const { readFileSync, writeFileSync } = require('node:fs');
const { basename } = require('node:path');

const [bundle, eventFile, resultFile] = process.argv.slice(2);
const deadline = Date.now() + 20_000;
const context = { awsRequestId: 'bundle-test', functionName: 'bundle-test', getRemainingTimeInMillis: () => deadline - Date.now() };
const chunks = () => Object.keys(require.cache).map((file) => basename(file)).filter((file) => file.startsWith('kfm-')).sort();
const result = {};
let written = false;
const write = () => {
  if (written) return;
  written = true;
  writeFileSync(resultFile, JSON.stringify({ ...result, loadedAtExit: chunks() }));
};
process.on('beforeExit', write);

let handler;
try {
  ({ handler } = require(bundle));
} catch (error) {
  result.loadError = String(error && error.message);
  write();
  process.exit(0);
}
// A handler may also throw synchronously (settings are read on the first call): Lambda reports both alike.
new Promise((resolve) => resolve(handler(JSON.parse(readFileSync(eventFile, 'utf8')), context))).then(
  (answer) => Object.assign(result, { answer, loaded: chunks() }),
  (error) => Object.assign(result, { handlerError: String(error && error.stack), loaded: chunks() }),
);
