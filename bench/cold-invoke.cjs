// One cold start: require a bundled handler and run one invocation (the event
// comes as JSON in argv[3]). Exits 1 if the answer is not a 2xx (HTTP
// functions) or reports a failed record (the worker's batch), so a broken
// bundle cannot pass for a fast one.
const started = process.hrtime.bigint();
// The process's CPU time at exit (user + system, all threads), for bench/cold-start.ts on fd 3 when it is open.
process.on('exit', () => {
  const { user, system } = process.cpuUsage();
  try { require('node:fs').writeSync(3, String((user + system) / 1000)); } catch { /* not run by the bench */ }
});
const { handler } = require(process.argv[2]);
const event = JSON.parse(process.argv[3]);
const deadline = Date.now() + 30_000;
const context = { awsRequestId: 'bench', functionName: 'bench', getRemainingTimeInMillis: () => deadline - Date.now() };
// Settings are read on the first call, which may throw synchronously: a rejection either way.
new Promise((resolve) => resolve(handler(event, context))).then((result) => {
  const ok = result && (Array.isArray(result.batchItemFailures) ? result.batchItemFailures.length === 0 : result.statusCode >= 200 && result.statusCode < 300);
  if (!ok) {
    process.stderr.write(`unexpected answer: ${JSON.stringify(result).slice(0, 300)}\n`);
    process.exitCode = 1;
  }
  if (process.env.KFM_BENCH_VERBOSE) process.stderr.write(`require+invoke ${Number(process.hrtime.bigint() - started) / 1e6} ms\n`);
}, (error) => {
  process.stderr.write(`handler failed: ${error && error.stack}\n`);
  process.exitCode = 1;
});
