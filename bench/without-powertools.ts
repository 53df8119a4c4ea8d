// A bench-only build of a handler with Powertools Logger replaced by a stand-in that writes one plain
// JSON line per record (same fields as the product's, no Powertools code), for bench/queue-figures.ts:
// run without AWS_LAMBDA_FUNCTION_NAME (so no Powertools Metrics either), it says what a cold start
// costs without the two Powertools libraries, i.e. whether a cold-start target could be met by the
// project's own code and its other libraries at all. Never shipped: it writes into a folder of its own.
import { build, type Plugin } from 'esbuild';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

/** What src/log.ts uses of Powertools' Logger: its LineLogger overrides printLog and writes the line itself. */
const STAND_IN = `export class Logger {
  #keys = {};
  constructor(options = {}) { this.service = options.serviceName ?? process.env.POWERTOOLS_SERVICE_NAME; }
  #log(level, message, fields) {
    const attributes = { level, message, timestamp: new Date().toISOString(), service: this.service, ...this.#keys, ...fields };
    this.printLog(0, { prepareForPrint() {}, getAttributes: () => attributes });
  }
  info(message, fields) { this.#log('INFO', message, fields); }
  warn(message, fields) { this.#log('WARN', message, fields); }
  error(message, fields) { this.#log('ERROR', message, fields); }
  addContext(context) { this.#keys = { ...this.#keys, function_request_id: context.awsRequestId }; }
  setCorrelationId(id) { this.#keys = { ...this.#keys, correlation_id: id }; }
  removeKeys(keys) { for (const key of keys) delete this.#keys[key]; }
  resetKeys() { this.#keys = {}; }
  appendKeys(keys) { this.#keys = { ...this.#keys, ...keys }; }
  getJsonReplacer() { return undefined; }
}`;

function loggerStandIn(): Plugin {
  return {
    name: 'kfm-bench-logger-stand-in',
    setup(b) {
      b.onResolve({ filter: /^@aws-lambda-powertools\/logger$/ }, () => ({ path: 'logger', namespace: 'kfm-bench-logger' }));
      b.onLoad({ filter: /.*/, namespace: 'kfm-bench-logger' }, () => ({ contents: STAND_IN, loader: 'js' }));
    },
  };
}

/** Builds `handlers/<name>.ts` as scripts/build.mjs does, the Logger stand-in aside, into `outdir`; returns the bundle's path. */
export async function buildWithoutPowertools(name: string, outdir: string): Promise<string> {
  const options = createRequire(import.meta.url)(join(root, 'esbuild.options.cjs')) as { plugins: Plugin[] } & Record<string, unknown>;
  await build({
    ...options,
    plugins: [loggerStandIn(), ...options.plugins],
    absWorkingDir: root,
    entryPoints: [{ in: join(root, 'handlers', `${name}.ts`), out: name }],
    outdir,
    logLevel: 'error',
  });
  return join(outdir, `${name}.cjs`);
}
