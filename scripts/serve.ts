// npm run serve: the routes of serverless.yml on http://127.0.0.1:${PORT:-3000}, through the real handlers.
import { startLocalServer } from '../src/local/server.js';
import { loadSettings } from '../src/settings/settings.js';

try {
  loadSettings(); // fail before listening, naming the bad variable
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}
const [intake, status] = await Promise.all([import('../handlers/intake.js'), import('../handlers/status.js')]);
const port = Number(process.env.PORT ?? 3000);
const { url, stop } = await startLocalServer({ intake: intake.handler, status: status.handler }, { port });
process.stderr.write(`serving on ${url}: POST /webhooks/registry/{provider}, POST /webhooks/config, GET /status\n`);
if (!process.env.KFM_WEBHOOK_SECRET) process.stderr.write('KFM_WEBHOOK_SECRET is not set: every request will be refused (401)\n');
const shutdown = () => void stop().then(() => process.exit(0));
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
