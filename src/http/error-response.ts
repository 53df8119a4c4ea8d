// middy middleware: every failure becomes a JSON answer. HttpErrors say what
// was wrong (and the field); anything else is logged by name and message only
// (never the request) and answered without detail.
import type { MiddlewareObj } from '@middy/core';
import { HttpError, QueueError, TargetError } from '../errors.js';
import type { Logger } from '../log.js';
import { jsonResponse, type HttpEvent, type HttpResult } from './types.js';

export function errorResponse(logger: Logger): MiddlewareObj<HttpEvent, HttpResult> {
  return {
    onError: function errorResponseOnError(request) {
      const { error } = request;
      if (error instanceof HttpError) {
        request.response = jsonResponse(error.statusCode, error.field ? { error: error.message, field: error.field } : { error: error.message });
        return;
      }
      if (error instanceof TargetError) {
        logger.error('target request failed', { reason: error.message }); // a read or a write: the reason names it
        request.response = jsonResponse(502, { error: error.message });
        return;
      }
      if (error instanceof QueueError) {
        // Not accepted: 503 makes the registry deliver it again (distribution retries anything but 2xx).
        logger.error('queue send failed', { reason: error.message });
        request.response = jsonResponse(503, { error: 'the event could not be queued: try again' });
        return;
      }
      logger.error('unexpected failure', { error: error?.name, reason: error?.message });
      request.response = jsonResponse(500, { error: 'internal error' });
    },
  };
}
