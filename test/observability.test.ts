// Logs, metrics and the handler wrapper (src/log.ts, src/observability/, src/app/process-defaults.ts):
// Powertools' lines reach process.stdout, where the leak guard and the local server's capture read;
// an invocation's lines carry its request id and cold start, and the event's id once it is known;
// EMF metrics only on Lambda; the default export loads secrets before the handler, retries a failed
// cold start, rebuilds the handler when the secrets change, and flushes the metrics every time.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { Context } from 'aws-lambda';
import { defaultHandler, type FunctionDeps } from '../src/app/process-defaults.js';
import { createLogger } from '../src/log.js';
import { createEmfMetrics, noMetrics, onLambda } from '../src/observability/metrics.js';
import { createTracing, noTracing } from '../src/observability/tracing.js';
import type { SecretSource, SecretValues } from '../src/settings/secrets.js';
import { loadSettings } from '../src/settings/settings.js';
import { pendingLeaks, watchSecrets } from './support/leak-guard.js';

const SECRET = 'observability-test-secret-0123456789ab';
watchSecrets(SECRET);

let out: string[];
let restore: () => void;
beforeEach(() => {
  out = [];
  // Over the leak guard's own patch: what reaches it reaches this too.
  const write = process.stdout.write;
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    out.push(String(chunk));
    return (write as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
  }) as typeof process.stdout.write;
  restore = () => void (process.stdout.write = write);
});
afterEach(() => restore());

const lines = () => out.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
const context = (id: string) => ({ awsRequestId: id, functionName: 'kfm-intake', functionVersion: '$LATEST', memoryLimitInMB: '512', invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:kfm-intake', getRemainingTimeInMillis: () => 1000 }) as unknown as Context;

describe('the logger (Powertools)', () => {
  it('writes one JSON line per record to process.stdout, every level, with the fields given', () => {
    const logger = createLogger();
    logger.info('one', { id: 'a', status: { state: 'active' } });
    logger.warn('two');
    logger.error('three', { reason: 'r' });
    expect(lines().map((l) => [l.level, l.message])).toEqual([['INFO', 'one'], ['WARN', 'two'], ['ERROR', 'three']]);
    expect(lines()[0]).toMatchObject({ service: 'kubeflow-metadata-deployer', id: 'a', status: { state: 'active' }, timestamp: expect.any(String) });
    expect(lines()[2]).toMatchObject({ reason: 'r' });
  });

  it('is what the leak guard reads: a secret logged through it is caught', async () => {
    await pendingLeaks(); // what earlier lines left
    createLogger().warn('a careless line', { value: SECRET });
    const leaks = await pendingLeaks(); // consumed here, so this test's own afterEach passes
    expect(leaks).toEqual([expect.stringContaining(`${SECRET} as ${SECRET} in stdout`)]);
  });

  it('tags an invocation\'s lines with its request id and cold start, and the event\'s id from withCorrelation on', () => {
    const logger = createLogger();
    logger.addContext(context('req-1'));
    logger.info('before');
    logger.withCorrelation('push-123');
    logger.info('after');
    logger.addContext(context('req-2')); // the next invocation: no correlation id carried over
    logger.info('next');
    logger.withCorrelation('config-9');
    logger.withCorrelation(undefined);
    logger.info('cleared');
    const [before, after, next, cleared] = lines();
    expect(before).toMatchObject({ function_request_id: 'req-1', function_name: 'kfm-intake', cold_start: expect.any(Boolean) });
    expect(before).not.toHaveProperty('correlation_id');
    expect(after).toMatchObject({ function_request_id: 'req-1', correlation_id: 'push-123' });
    expect(next).toMatchObject({ function_request_id: 'req-2' });
    expect(next).not.toHaveProperty('correlation_id');
    expect(cleared).not.toHaveProperty('correlation_id');
  });

  it('hands lines to a writer instead of stdout when given one (tests collect them)', () => {
    const collected: string[] = [];
    createLogger((line) => collected.push(line)).info('collected', { n: 1 });
    expect(out).toEqual([]);
    expect(JSON.parse(collected[0]!)).toMatchObject({ level: 'INFO', message: 'collected', n: 1 });
  });
});

describe('metrics', () => {
  it('are EMF only on Lambda (not osls invoke local, not a local run)', () => {
    expect(onLambda({})).toBe(false);
    expect(onLambda({ AWS_LAMBDA_FUNCTION_NAME: 'kfm-intake', IS_LOCAL: 'true' })).toBe(false);
    expect(onLambda({ AWS_LAMBDA_FUNCTION_NAME: 'kfm-intake' })).toBe(true);
  });

  // EMF keeps each value of a metric (CloudWatch sums them): two Applied records are [1, 1].
  it('write one EMF document per flush, with the counts, the step duration and the function dimension', async () => {
    const metrics = await createEmfMetrics('worker');
    metrics.count('Applied');
    metrics.count('Applied');
    metrics.count('DeadLettered');
    metrics.stepDuration(42);
    metrics.flush();
    metrics.flush(); // nothing stored: nothing written, no warning either
    const [emf, ...rest] = lines();
    expect(rest).toEqual([]);
    expect(emf).toMatchObject({ Applied: [1, 1], DeadLettered: 1, StepDuration: 42, function: 'worker', service: 'kubeflow-metadata-deployer' });
    const [directive] = (emf!._aws as { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> }).CloudWatchMetrics;
    expect(directive!.Namespace).toBe('KubeflowMetadataDeployer');
    expect(directive!.Dimensions[0]).toEqual(expect.arrayContaining(['service', 'function']));
    expect(directive!.Metrics).toEqual(expect.arrayContaining([{ Name: 'Applied', Unit: 'Count' }, { Name: 'StepDuration', Unit: 'Milliseconds' }]));
  });

  it('tracing is off unless asked for, and then runs the invocation as is outside Lambda', async () => {
    expect(await createTracing(false)).toBe(noTracing);
    const tracing = await createTracing(true);
    expect(tracing).not.toBe(noTracing);
    await expect(tracing.around('intake', async () => 'ran')).resolves.toBe('ran');
  });
});

describe('defaultHandler (the default exports)', () => {
  /** A store whose values the test changes. */
  function store(values: SecretValues): SecretSource & { values: SecretValues; reads: number } {
    const source = {
      values, reads: 0, description: 'test-store', enforcesRequired: true,
      async read() { source.reads += 1; return { ...source.values }; },
      locate: (name: string) => `the test key ${name}`,
    };
    return source;
  }
  const env = { KFM_SECRETS_FROM: 'ssm:/test' };
  const rotated = 'observability-rotated-secret-0123456789';
  watchSecrets(rotated);

  it('loads the secrets before building, builds once, rebuilds when they change after the TTL, clears the correlation id', async () => {
    let now = 0;
    const source = store({ KFM_STATUS_TOKEN: SECRET });
    const logger = createLogger();
    const builds: FunctionDeps[] = [];
    const handler = defaultHandler('status', (deps) => {
      builds.push(deps);
      return async () => {
        deps.logger.withCorrelation('event-1');
        deps.logger.info('handled');
        return deps.settings.credentials.status === SECRET ? 'first' : 'second';
      };
    }, { env, source, now: () => now, defaults: () => ({ settings: loadSettings(env), logger }) });
    expect(await handler({}, context('req-a'))).toBe('first');
    expect(await handler({}, context('req-b'))).toBe('first');
    expect(builds).toHaveLength(1);
    expect(builds[0]!.metrics).toBe(noMetrics); // not on Lambda
    source.values = { KFM_STATUS_TOKEN: rotated };
    now += 5 * 60_000;
    expect(await handler({}, context('req-c'))).toBe('second');
    expect(builds).toHaveLength(2);
    expect(source.reads).toBe(2);
    const handled = lines().filter((l) => l.message === 'handled');
    expect(handled.map((l) => l.function_request_id)).toEqual(['req-a', 'req-b', 'req-c']);
    logger.info('between invocations');
    expect(lines().at(-1)).not.toHaveProperty('correlation_id');
  });

  it('a failed cold start throws the settings error and is tried again by the next invocation', async () => {
    const source = store({});
    let builds = 0;
    const handler = defaultHandler('status', () => (builds += 1, async () => 'ok'), { env, source, defaults: () => ({ settings: loadSettings(env), logger: createLogger(() => undefined) }) });
    await expect(handler({}, context('req-1'))).rejects.toThrow('invalid settings: KFM_STATUS_TOKEN: missing (the test key KFM_STATUS_TOKEN)');
    expect(builds).toBe(0);
    source.values = { KFM_STATUS_TOKEN: SECRET };
    await expect(handler({}, context('req-2'))).resolves.toBe('ok');
    expect(builds).toBe(1);
  });
});
