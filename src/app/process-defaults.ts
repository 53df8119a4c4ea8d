// What a handler module's default export is built from: the settings read from the
// environment and the logger, once per process (a cold start), shared by every
// handler loaded in it, and built on the first invocation, never at import, so a
// test can import the factories and build instances of its own.
import { createLogger, type Logger } from '../log.js';
import { loadSettings, type Settings } from '../settings/settings.js';

let defaults: { settings: Settings; logger: Logger } | undefined;

export function processDefaults(): { settings: Settings; logger: Logger } {
  defaults ??= { settings: loadSettings(), logger: createLogger() };
  return defaults;
}

/** A handler built on its first call (the environment is read then, not when the module is imported). */
export function onFirstCall<E, C, R>(build: () => (event: E, context: C) => Promise<R>): (event: E, context: C) => Promise<R> {
  let built: ((event: E, context: C) => Promise<R>) | undefined;
  return (event, context) => (built ??= build())(event, context);
}
