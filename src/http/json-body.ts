// middy middleware: a JSON body or a clear 4xx. Unlike @middy/http-json-body-parser
// it answers 400 (not 415) for malformed JSON, bounds nesting, refuses compressed
// bodies, and keeps the raw bytes for signature checks.
import type { MiddlewareObj } from '@middy/core';
import { badRequest, unsupportedMediaType } from '../errors.js';
import type { HttpEvent, HttpResult } from './types.js';

export const defaults = { maxDepth: 32 };

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

/** Deepest array/object nesting of a JSON text, scanning outside strings; O(n), no recursion. */
export function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === 0x5c) index += 1; // skip the escaped character
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x7b || char === 0x5b) deepest = Math.max(deepest, (depth += 1));
    else if (char === 0x7d || char === 0x5d) depth -= 1;
  }
  return deepest;
}

export function jsonBody(options: Partial<typeof defaults> = {}): MiddlewareObj<HttpEvent, HttpResult> {
  const { maxDepth } = { ...defaults, ...options };
  return {
    before: function jsonBodyBefore(request) {
      const headers = request.event.headers ?? {};
      const encoding = (headers['content-encoding'] ?? 'identity').trim().toLowerCase();
      if (encoding !== 'identity') throw unsupportedMediaType(`Content-Encoding "${encoding.slice(0, 40)}" is not supported: send the body uncompressed`);
      const type = headers['content-type'];
      if (type === undefined || !JSON_TYPE.test(type)) {
        throw unsupportedMediaType('Content-Type must be application/json or a +json type');
      }
      const text = (request.event.rawBody ?? Buffer.alloc(0)).toString('utf8');
      if (text.trim() === '') throw badRequest('body: a JSON body is required', 'body');
      if (nestingDepth(text) > maxDepth) throw badRequest(`body: nested deeper than ${maxDepth} levels`, 'body');
      try {
        request.event.json = JSON.parse(text);
      } catch (error) {
        throw badRequest(`body: not valid JSON (${(error as Error).message.slice(0, 120)})`, 'body');
      }
    },
  };
}
