// The request shape every HTTP handler sees: API Gateway HTTP API (payload v2),
// plus what the body middlewares add.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export interface HttpEvent extends Omit<APIGatewayProxyEventV2, 'body'> {
  body?: string;
  /** The body bytes as received (HMACs are computed over these, never a re-serialisation). */
  rawBody?: Buffer;
  /** The parsed JSON body, set by `jsonBody`. */
  json?: unknown;
}

export type HttpResult = APIGatewayProxyStructuredResultV2;

export function jsonResponse(statusCode: number, body: unknown): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}
