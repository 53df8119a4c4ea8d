// The requests the bench sends: API Gateway HTTP API (v2) events for the cold
// starts, and the bodies the local server receives for the latency runs.
/** One credential per power (DESIGN §5), each at least 32 bytes: push (KFM_WEBHOOK_SECRET), config, status. */
export const SECRET = 'bench-push-secret-0123456789abcdef';
export const CONFIG_SECRET = 'bench-config-secret-0123456789abcd';
export const STATUS_TOKEN = 'bench-status-token-0123456789abcde';
/** The environment that sets them. */
export const CREDENTIALS = { KFM_WEBHOOK_SECRET: SECRET, KFM_CONFIG_SECRET: CONFIG_SECRET, KFM_STATUS_TOKEN: STATUS_TOKEN };
export const DIST_TYPE = 'application/vnd.docker.distribution.events.v1+json';
export const REPOSITORY = 'kubeflow-images-public/metadata';
export const TAG = 'v0.1.8';
/** The registry the sample pushes name (`request.host`): KFM_IMAGE must be on it, or intake ignores them. */
export const REGISTRY_HOST = 'registry.example:5000';
/** The image the bench deploys: the pushes below are for it. */
export const BENCH_IMAGE = `${REGISTRY_HOST}/${REPOSITORY}:${TAG}`;
/** The credentials and the image the pushes are for (without KFM_IMAGE, the default gcr.io image, every push is ignored). */
export const BENCH_ENV = { ...CREDENTIALS, KFM_IMAGE: BENCH_IMAGE };
const EPOCH = Date.parse('2026-01-01T00:00:00Z');

/** A distinct sha256 digest per number, so every push is a new image. */
export const digestFor = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

/** A distribution notification for one manifest push; `n` orders the pushes in time; `host`: the registry it names (KFM_IMAGE's). */
export function distributionPush(n: number, digest = digestFor(n), host = REGISTRY_HOST): string {
  return JSON.stringify({
    events: [{
      id: `bench-${n}`, timestamp: new Date(EPOCH + n * 1000).toISOString(), action: 'push',
      target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 500, digest, repository: REPOSITORY, tag: TAG },
      request: { id: `r-${n}`, host, method: 'PUT', useragent: 'bench' },
    }],
  });
}

export const configBody = (password = 'bench-mysql-password'): string =>
  JSON.stringify({ config: { port: 8080 }, relations: { mysql: { host: 'mysql', port: 3306, password } } });

export const pushHeaders = { authorization: `Bearer ${SECRET}`, 'content-type': DIST_TYPE };
export const configHeaders = { authorization: `Bearer ${CONFIG_SECRET}`, 'content-type': 'application/json' };

type Route = 'push' | 'config' | 'status';

/** The v2 event API Gateway would send the function for one request of `route`. */
export function httpEvent(route: Route, n: number): Record<string, unknown> {
  const [method, path, body, headers, params] =
    route === 'push' ? ['POST', '/webhooks/registry/distribution', distributionPush(n), pushHeaders, { provider: 'distribution' }]
      : route === 'config' ? ['POST', '/webhooks/config', configBody(), configHeaders, {}]
        : ['GET', '/status', undefined, { authorization: `Bearer ${STATUS_TOKEN}` }, {}];
  const routeKey = route === 'push' ? 'POST /webhooks/registry/{provider}' : `${method} ${path}`;
  return {
    version: '2.0', routeKey, rawPath: path, rawQueryString: '', headers, queryStringParameters: {}, pathParameters: params,
    requestContext: { http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' }, requestId: `bench-${n}`, routeKey, stage: '$default', timeEpoch: EPOCH },
    body, isBase64Encoded: false,
  };
}

/** What intake queues for `distributionPush(n, digest)` (src/intake/commands.ts's shape; the id is the bench's own). */
export function pushCommand(n: number, digest = digestFor(n)): Record<string, unknown> {
  return {
    kind: 'push', id: `push-bench-${n}`, receivedAt: new Date(EPOCH + n * 1000).toISOString(),
    pushes: [{ provider: 'distribution', repository: REPOSITORY, tag: TAG, digest, pushedAt: new Date(EPOCH + n * 1000).toISOString() }],
  };
}

/** A config command: `mysql` false leaves the relation out (the step then only stores the state). */
export function configCommand(n: number, options: { port?: number; mysql?: boolean } = {}): Record<string, unknown> {
  const { relations } = JSON.parse(configBody()) as { relations: { mysql: Record<string, unknown> } };
  return {
    kind: 'config', id: `config-bench-${n}`, receivedAt: new Date(EPOCH + n * 1000).toISOString(),
    config: { port: options.port ?? 8080 },
    ...(options.mysql === false ? {} : { mysql: { user: 'root', ...relations.mysql } }),
  };
}

/** SQS records as Lambda's event source delivers them (the fields the worker reads, and a few more), one group. */
export function sqsBatch(...commands: Array<Record<string, unknown>>): { Records: unknown[] } {
  return {
    Records: commands.map((command, index) => ({
      messageId: `bench-${index + 1}`, receiptHandle: 'bench', body: JSON.stringify(command), messageAttributes: {}, md5OfBody: '',
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(EPOCH), MessageGroupId: 'kubeflow/kubeflow-metadata', MessageDeduplicationId: String(command.id) },
      eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:kfm-bench.fifo', awsRegion: 'eu-west-1',
    })),
  };
}

/** The worker's cold-start batch on a fresh directory target: a config, then a push (the Deployment is written). */
export const workerBatch = (n: number) => sqsBatch(configCommand(n), pushCommand(n));
