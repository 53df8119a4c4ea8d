// A Logger that keeps its lines, for tests that pin what is logged (level, message, fields).
import type { Logger } from '../../../src/log.js';

export type Line = [level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>];

export function recordingLogger(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const logger: Logger = {
    info: (message, fields) => void lines.push(['info', message, fields]),
    warn: (message, fields) => void lines.push(['warn', message, fields]),
    error: (message, fields) => void lines.push(['error', message, fields]),
    withCorrelation: () => undefined,
  };
  return { logger, lines };
}
