// The one middy stack every HTTP route uses, in this order: normalise headers,
// answer errors as JSON, bound the body, authenticate, parse JSON.
import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { Context } from 'aws-lambda';
import type { Logger } from '../log.js';
import type { Credentials } from '../settings/settings.js';
import type { AuthRoute } from '../webhook/auth.js';
import { webhookAuth } from './authenticate.js';
import { errorResponse } from './error-response.js';
import { jsonBody } from './json-body.js';
import { rawBody } from './raw-body.js';
import type { HttpEvent, HttpResult } from './types.js';

export interface StackOptions {
  /** Which route (and so which power's credential) a request is for. */
  route: (event: HttpEvent) => AuthRoute;
  credentials: Credentials;
  logger: Logger;
  /** Whether the route takes a JSON body (GET /status does not). */
  body: boolean;
}

export function httpStack(options: StackOptions, handler: (event: HttpEvent, context: Context) => Promise<HttpResult>) {
  const stack = middy<HttpEvent, HttpResult>()
    .use(httpHeaderNormalizer())
    // A request is about no event until intake accepts one: no line may carry the previous one's id.
    .use({ before: () => options.logger.withCorrelation(undefined) })
    .use(errorResponse(options.logger))
    .use(rawBody())
    .use(webhookAuth(options.route, options.credentials));
  return (options.body ? stack.use(jsonBody()) : stack).handler(handler);
}
