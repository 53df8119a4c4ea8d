// middy middleware: the route's authentication (src/webhook/auth.ts), after the size limit and
// before the body is parsed, so an unauthenticated caller learns nothing about validation. Each
// route checks its own power's credential (DESIGN §5), never another's.
import type { MiddlewareObj } from '@middy/core';
import type { Credentials } from '../settings/settings.js';
import { authenticate, type AuthRoute } from '../webhook/auth.js';
import type { HttpEvent, HttpResult } from './types.js';

export function webhookAuth(route: (event: HttpEvent) => AuthRoute, credentials: Credentials): MiddlewareObj<HttpEvent, HttpResult> {
  return {
    before: function webhookAuthBefore(request) {
      const { event } = request;
      authenticate(route(event), {
        headers: event.headers ?? {},
        query: event.queryStringParameters ?? {},
        rawBody: event.rawBody ?? Buffer.alloc(0),
      }, credentials);
    },
  };
}
