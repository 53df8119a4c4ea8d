// JSON log lines, one per record, through Powertools Logger: every line carries the service, the
// Lambda request id and cold start (addContext, once per invocation) and the event's id as
// correlation_id (withCorrelation). Callers pass only what is safe to log: no payload bodies, no
// Secrets, no credentials (the leak suite checks).
//
// Every level goes to process.stdout, as the writer this replaced did: Powertools would send warn
// and error to stderr, which the local server's log capture (and `npm start`'s quiet mode) do not
// see. On Lambda both streams reach CloudWatch alike.
import { Logger as PowertoolsLogger, type LogItem } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /**
   * The event this invocation (or this queue record) is about: every following line carries it as
   * `correlation_id` until the next call; undefined clears it. Intake sets its accepted id, the
   * worker each record's command id.
   */
  withCorrelation(id: string | undefined): void;
}

/** The process's logger: the handler wrapper starts each invocation with the Lambda context. */
export interface InvocationLogger extends Logger {
  /** Request id, function and cold start from the context; clears the previous invocation's correlation id. */
  addContext(context: Partial<Context>): void;
}

export const SERVICE = 'kubeflow-metadata-deployer';

/** Powertools' line (its formatter, its keys), written by `write`. */
class LineLogger extends PowertoolsLogger {
  // A plain field, not #private: Powertools' constructor may print (options warnings) before it is set.
  private write?: (line: string) => void;

  constructor(write: ((line: string) => void) | undefined) {
    super(process.env.POWERTOOLS_SERVICE_NAME ? {} : { serviceName: SERVICE });
    this.write = write;
  }

  protected override printLog(_level: number, log: LogItem): void {
    log.prepareForPrint();
    const line = JSON.stringify(log.getAttributes(), this.getJsonReplacer());
    if (this.write) this.write(line);
    else process.stdout.write(`${line}\n`);
  }
}

/** `write` receives each line without its newline (tests collect them); stdout by default. */
export function createLogger(write?: (line: string) => void): InvocationLogger {
  const logger = new LineLogger(write);
  return {
    info: (message, fields) => (fields ? logger.info(message, fields) : logger.info(message)),
    warn: (message, fields) => (fields ? logger.warn(message, fields) : logger.warn(message)),
    error: (message, fields) => (fields ? logger.error(message, fields) : logger.error(message)),
    withCorrelation(id) {
      if (id === undefined) logger.removeKeys(['correlation_id']);
      else logger.setCorrelationId(id);
    },
    addContext(context) {
      logger.resetKeys();
      // A hand-made context (`npm start`) has no request id: nothing to add then.
      if (typeof context.awsRequestId === 'string') logger.addContext(context as Context);
    },
  };
}

export const silentLogger: InvocationLogger = { info() {}, warn() {}, error() {}, withCorrelation() {}, addContext() {} };
