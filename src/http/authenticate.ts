// middy middleware: the route's webhook authentication (src/webhook/auth.ts),
// after the size limit and before the body is parsed, so an unauthenticated
// caller learns nothing about validation.
import type { MiddlewareObj } from '@middy/core';
import { authenticate, type AuthRoute } from '../webhook/auth.js';
import type { HttpEvent, HttpResult } from './types.js';

export function webhookAuth(route: (event: HttpEvent) => AuthRoute, secret: string | undefined): MiddlewareObj<HttpEvent, HttpResult> {
  return {
    before: function webhookAuthBefore(request) {
      const { event } = request;
      authenticate(route(event), {
        headers: event.headers ?? {},
        query: event.queryStringParameters ?? {},
        rawBody: event.rawBody ?? Buffer.alloc(0),
      }, secret);
    },
  };
}
