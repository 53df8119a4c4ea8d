// The baseline of the worker's cold start on the EKS path: a minimal script
// that does the same I/O as one worker step and nothing else. TLS to the same
// stand-in, verified with the same CA, the same reads at once (the step's
// snapshot), then the same writes one after another, with the same bodies.
// `node eks-io-baseline.cjs <plan.json>`; the plan is
// `{ endpoint, ca, token, requests: [{ method, path, contentType, body }] }`
// (recorded from a worker run by bench/queue-figures.ts). Exits 1 when an
// answer is not what the stand-in gives the worker (2xx, or 404 for a read).
const https = require('node:https');
const { readFileSync } = require('node:fs');

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// The process's CPU time at exit, for bench/cold-start.ts on fd 3 when it is open (as bench/cold-invoke.cjs).
process.on('exit', () => {
  const { user, system } = process.cpuUsage();
  try { require('node:fs').writeSync(3, String((user + system) / 1000)); } catch { /* not run by the bench */ }
});
const agent = new https.Agent({ keepAlive: true, ca: plan.ca });
const url = new URL(plan.endpoint);

function send({ method, path, contentType, body }) {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${plan.token}`, accept: 'application/json', ...(contentType ? { 'content-type': contentType } : {}) };
    const request = https.request({ host: url.hostname, port: url.port, method, path, headers, agent, servername: undefined }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => {
        JSON.parse(Buffer.concat(chunks).toString()); // the worker parses every answer too
        const ok = (response.statusCode >= 200 && response.statusCode < 300) || (method === 'GET' && response.statusCode === 404);
        ok ? resolve() : reject(new Error(`${method} ${path}: ${response.statusCode}`));
      });
    });
    request.on('error', reject);
    request.end(body || undefined);
  });
}

(async () => {
  const reads = plan.requests.filter((r) => r.method === 'GET');
  const writes = plan.requests.filter((r) => r.method !== 'GET');
  await Promise.all(reads.map(send));
  for (const write of writes) await send(write);
  agent.destroy();
})().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
