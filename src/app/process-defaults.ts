// What a handler module's default export is built from: the settings read from the environment
// and the logger, once per process (a cold start), shared by every handler loaded in it; then, per
// function, its secrets (KFM_SECRETS_FROM), metrics and tracing. All of it is built on the first
// invocation, never at import, so a test can import the factories and build instances of its own.
import type { Context } from 'aws-lambda';
import { createLogger, type InvocationLogger, type Logger } from '../log.js';
import { createEmfMetrics, noMetrics, onLambda, type EmfMetrics, type Metrics } from '../observability/metrics.js';
import { createTracing, type Tracing } from '../observability/tracing.js';
import { createSecretLoader, FUNCTION_SECRETS, type FunctionName, type SecretLoaderOptions } from '../settings/secrets.js';
import { loadSettings, type Settings } from '../settings/settings.js';

export interface ProcessDefaults {
  /** From the environment alone: with a store, a function's secrets are not in these (see defaultHandler). */
  settings: Settings;
  logger: InvocationLogger;
}

let defaults: ProcessDefaults | undefined;

export function processDefaults(): ProcessDefaults {
  defaults ??= { settings: loadSettings(), logger: createLogger() };
  return defaults;
}

/** What a function's factory gets: the settings with its secrets, the logger, its metrics. */
export interface FunctionDeps {
  settings: Settings;
  logger: Logger;
  metrics: Metrics;
}

export interface DefaultHandlerOptions extends SecretLoaderOptions {
  /** Another process's defaults (tests); processDefaults() otherwise. */
  defaults?: () => ProcessDefaults;
}

type Handler<E, R> = (event: E, context: Context) => Promise<R>;

interface Ready<E, R> {
  load: () => Promise<Settings>;
  settings: Settings;
  handler: Handler<E, R>;
  logger: InvocationLogger;
  metrics: Metrics & Partial<Pick<EmfMetrics, 'coldStart'>>;
  tracing: Tracing;
}

/**
 * A handler module's default export. Its first call (the cold start) reads the function's secrets
 * (only the names FUNCTION_SECRETS gives it) and validates them with the settings schema before
 * the handler is built: a missing or invalid one throws SettingsError naming it, and the next call
 * tries again. Later calls rebuild the handler only when the secrets changed (read again after
 * their TTL). Every call starts the logger's invocation (request id, cold start), runs in the
 * tracer's subsegment when tracing is on, and flushes the metrics.
 */
export function defaultHandler<E, R>(fn: FunctionName, build: (deps: FunctionDeps) => Handler<E, R>, options: DefaultHandlerOptions = {}): Handler<E, R> {
  let ready: Promise<Ready<E, R>> | undefined;

  async function coldStart(): Promise<Ready<E, R>> {
    const { settings: base, logger } = (options.defaults ?? processDefaults)();
    const load = createSecretLoader(base, FUNCTION_SECRETS[fn], {
      onStale: (reason) => logger.warn('secrets not refreshed: the loaded ones stay in use', { reason }),
      ...options,
    });
    // The store's round trip overlaps the loading of the observability modules.
    const [settings, metrics, tracing] = await Promise.all([
      load(),
      onLambda(options.env) ? createEmfMetrics(fn) : noMetrics,
      createTracing(base.tracing),
    ]);
    return { load, settings, metrics, tracing, logger, handler: build({ settings, logger, metrics }) };
  }

  return async function handleInvocation(event, context) {
    const state = await (ready ??= coldStart().catch((error: unknown) => {
      ready = undefined;
      throw error;
    }));
    state.logger.addContext(context ?? {});
    const settings = await state.load();
    if (settings !== state.settings) {
      state.settings = settings;
      state.handler = build({ settings, logger: state.logger, metrics: state.metrics });
      state.logger.info('secrets changed: handler rebuilt', { function: fn });
    }
    state.metrics.coldStart?.(context ?? {});
    try {
      return await state.tracing.around(fn, () => state.handler(event, context));
    } finally {
      state.metrics.flush();
      state.logger.withCorrelation(undefined);
    }
  };
}
