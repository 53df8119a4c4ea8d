// JSON log lines, one per record. Callers pass only what is safe to log: no
// payload bodies, no Secrets, no credentials (the leak suite checks).
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function createLogger(write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Logger {
  const record = (level: string) => (message: string, fields: Record<string, unknown> = {}) =>
    write(JSON.stringify({ level, message, ...fields, time: new Date().toISOString() }));
  return { info: record('info'), warn: record('warn'), error: record('error') };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
