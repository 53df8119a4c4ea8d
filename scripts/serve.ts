// npm run serve: the routes of serverless.yml on http://127.0.0.1:${PORT:-3000}, through the real handlers.
import { startLocalServer } from '../src/local/server.js';
import { CREDENTIAL_VARIABLES, loadSettings } from '../src/settings/settings.js';

try {
  loadSettings(); // fail before listening, naming the bad variable
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}
const [intake, status] = await Promise.all([import('../handlers/intake.js'), import('../handlers/status.js')]);
const port = Number(process.env.PORT ?? 3000);
const { url, stop } = await startLocalServer({ intake: intake.handler, status: status.handler }, { port });
process.stderr.write(`serving on ${url}: POST /webhooks/registry/{provider}, POST /webhooks/config, POST /control, GET /status\n`);
// One credential per power (DESIGN §5): an unset one closes its routes, so say which.
const CLOSES: Record<keyof typeof CREDENTIAL_VARIABLES, string> = {
  push: 'the push webhooks on /webhooks/registry/* (Bearer, GHCR and generic signatures; only the Docker Hub and Quay ?token= stay open)',
  dockerhub: '?token= on /webhooks/registry/dockerhub',
  quay: '?token= on /webhooks/registry/quay',
  config: 'POST /webhooks/config',
  control: 'POST /control',
  status: 'GET /status',
};
for (const [power, name] of Object.entries(CREDENTIAL_VARIABLES) as Array<[keyof typeof CREDENTIAL_VARIABLES, string]>) {
  if (!process.env[name]) process.stderr.write(`${name} is not set: ${CLOSES[power]} will be refused (401)\n`);
}
const shutdown = () => void stop().then(() => process.exit(0));
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
