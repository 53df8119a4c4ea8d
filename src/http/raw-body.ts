// middy middleware: the body as bytes, refused above the size limit before
// anything else (authentication included) looks at it.
import type { MiddlewareObj } from '@middy/core';
import { payloadTooLarge } from '../errors.js';
import type { HttpEvent, HttpResult } from './types.js';

export const defaults = { maxBytes: 1024 * 1024 };

export function rawBody(options: Partial<typeof defaults> = {}): MiddlewareObj<HttpEvent, HttpResult> {
  const { maxBytes } = { ...defaults, ...options };
  return {
    before: function rawBodyBefore(request) {
      const { body, isBase64Encoded } = request.event;
      // Cheap bound first: base64 is 4/3 of the bytes; every character is at least one byte.
      if (body !== undefined && body.length > (isBase64Encoded ? Math.ceil((maxBytes * 4) / 3) + 4 : maxBytes)) {
        throw payloadTooLarge(maxBytes);
      }
      const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(body, isBase64Encoded ? 'base64' : 'utf8');
      if (bytes.length > maxBytes) throw payloadTooLarge(maxBytes);
      request.event.rawBody = bytes;
    },
  };
}
