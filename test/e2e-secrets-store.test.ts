// End to end: the functions' secrets from a real secret-store API (moto in server mode: SSM
// Parameter Store SecureStrings, a Secrets Manager JSON secret), read at cold start through the
// handlers' default exports exactly as on Lambda: a fresh process per cold start, with only
// KFM_SECRETS_FROM, the SDK's own endpoint variables (AWS_ENDPOINT_URL_SSM, …) and KFM_QUEUE_URL
// (moto's SQS) in its environment. Requests authenticate with the stored values and fail with
// others; a missing parameter stops the cold start naming it; the log lines of one invocation share
// its request id and the event's id, and the EMF metrics line counts what was accepted.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { leaksIn, observe, watchSecrets } from './support/leak-guard.js';
import { startMoto, type Moto } from './support/moto.js';
import { createFifoQueues } from './support/sqs-event-source.js';

const root = join(import.meta.dirname, '..');
const STORED = {
  KFM_WEBHOOK_SECRET: 'moto-stored-push-secret-0123456789abcdef',
  KFM_DOCKERHUB_TOKEN: 'moto-stored-dockerhub-token-0123456789a',
  KFM_QUAY_TOKEN: 'moto-stored-quay-token-0123456789abcdef0',
  KFM_CONFIG_SECRET: 'moto-stored-config-secret-0123456789abc',
  KFM_CONTROL_SECRET: 'moto-stored-control-secret-0123456789ab',
  KFM_STATUS_TOKEN: 'moto-stored-status-token-0123456789abcd',
};
/** What the samples carry (events/local-credentials.json): valid locally, not against the store. */
const LOCAL = JSON.parse(await readFile(join(root, 'events', 'local-credentials.json'), 'utf8')) as Record<string, string>;
watchSecrets(...Object.values(STORED), ...Object.values(LOCAL), 'sample-mysql-password');

let moto: Moto;
let work: string;
let queues = 0;
const PREFIX = '/kfm/e2e';

beforeAll(async () => {
  moto = await startMoto();
  work = await mkdtemp(join(tmpdir(), 'kfm-secrets-e2e-'));
  const ssm = new SSMClient(moto.clientConfig);
  for (const [name, value] of Object.entries(STORED)) {
    await ssm.send(new PutParameterCommand({ Name: `${PREFIX}/${name}`, Value: value, Type: 'SecureString' }));
  }
  ssm.destroy();
  const sm = new SecretsManagerClient(moto.clientConfig);
  await sm.send(new CreateSecretCommand({ Name: 'kfm/e2e', SecretString: JSON.stringify(STORED) }));
  sm.destroy();
  await writeFile(join(work, 'driver.mts'), DRIVER);
}, 60_000);
afterAll(async () => {
  await moto?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/**
 * One cold start in a process of its own: the function's default export, the given events in
 * order (each its own invocation: request ids req-0, req-1, …). stdout is the function's log.
 */
const DRIVER = `
import { writeFileSync } from 'node:fs';
const fn = process.env.DRIVER_FUNCTION;
const { handler } = await import(${JSON.stringify(join(root, 'handlers'))} + '/' + fn + '.ts');
const results = [];
for (const [i, event] of JSON.parse(process.env.DRIVER_EVENTS).entries()) {
  const context = { awsRequestId: 'req-' + i, functionName: 'kfm-' + fn, functionVersion: '$LATEST', memoryLimitInMB: '512',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:kfm-' + fn, getRemainingTimeInMillis: () => 10000 };
  try {
    const answer = await handler(event, context);
    results.push({ status: answer.statusCode, body: answer.body });
  } catch (error) {
    results.push({ error: error.name + ': ' + error.message });
  }
}
writeFileSync(process.env.DRIVER_RESULTS, JSON.stringify(results));
`;

interface Answer { status?: number; body?: string; error?: string }

/** A FIFO queue of its own (the samples' event ids repeat: one queue would deduplicate them). */
async function freshQueue(): Promise<string> {
  const sqs = new SQSClient(moto.clientConfig);
  const { queueUrl } = await createFifoQueues(sqs, `kfm-secrets-e2e-${(queues += 1)}`, 30);
  sqs.destroy();
  return queueUrl;
}

async function coldStart(fn: 'intake' | 'status', secretsFrom: string, events: unknown[], queueUrl?: string): Promise<{ answers: Answer[]; log: string[] }> {
  queueUrl ??= await freshQueue();
  const results = join(work, `results-${Math.random().toString(36).slice(2)}.json`);
  const env = {
    PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '',
    // What Lambda gives a function, and what the template sets (never a secret value).
    AWS_LAMBDA_FUNCTION_NAME: `kfm-${fn}`, AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand', AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_EC2_METADATA_DISABLED: 'true',
    KFM_SECRETS_FROM: secretsFrom, KFM_QUEUE_URL: queueUrl, KFM_TARGET: `dir:${join(work, 'target')}`, KFM_OFFLINE: 'true',
    // The SDK's service endpoints, as a developer points it at an emulator: no code path of ours knows moto.
    AWS_ENDPOINT_URL_SSM: moto.endpoint, AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.endpoint, AWS_ENDPOINT_URL_SQS: moto.endpoint,
    DRIVER_FUNCTION: fn, DRIVER_EVENTS: JSON.stringify(events), DRIVER_RESULTS: results,
  };
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(work, 'driver.mts')], { cwd: root, env, timeout: 90_000, maxBuffer: 16 << 20 })
    .catch((error: { stdout?: string; stderr?: string; message: string }) => { throw new Error(`the driver failed: ${error.message}\n${error.stderr ?? ''}`); });
  observe(`the ${fn} function's stdout`, stdout);
  observe(`the ${fn} function's stderr`, stderr);
  const answers = JSON.parse(await readFile(results, 'utf8')) as Answer[];
  for (const answer of answers) observe(`an answer of ${fn}`, JSON.stringify(answer));
  return { answers, log: stdout.split('\n').filter((line) => line.startsWith('{')) };
}

const sample = async (file: string) => JSON.parse(await readFile(join(root, 'events', file), 'utf8')) as Record<string, any>;
const bearer = (event: Record<string, any>, value: string) => ({ ...event, headers: { ...event.headers, authorization: `Bearer ${value}` } });
const token = (event: Record<string, any>, value: string) => ({ ...event, rawQueryString: `token=${value}`, queryStringParameters: { token: value } });
const json = (answer: Answer) => JSON.parse(answer.body ?? 'null');

async function queued(queueUrl: string): Promise<string[]> {
  const sqs = new SQSClient(moto.clientConfig);
  const ids: string[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 600 }));
    if (Messages.length === 0) break;
    ids.push(...Messages.map((m) => (JSON.parse(m.Body!) as { id: string }).id));
  }
  sqs.destroy();
  return ids;
}

describe.each([
  ['SSM Parameter Store SecureStrings', `ssm:${PREFIX}`],
  ['a Secrets Manager JSON secret', 'secretsmanager:kfm/e2e'],
])('intake with its secrets in %s', (_store, secretsFrom) => {
  it('authenticates each route with its stored credential, and refuses the samples\' local ones and other powers\'', async () => {
    const [push, config, dockerhub] = await Promise.all([sample('push-distribution.json'), sample('config.json'), sample('push-dockerhub.json')]);
    const queueUrl = await freshQueue();
    const { answers, log } = await coldStart('intake', secretsFrom, [
      bearer(push, STORED.KFM_WEBHOOK_SECRET),
      bearer(config, STORED.KFM_CONFIG_SECRET),
      token(dockerhub, STORED.KFM_DOCKERHUB_TOKEN),
      push, // the sample's own (local) credential
      config,
      bearer(config, STORED.KFM_WEBHOOK_SECRET), // push cannot reconfigure
      token(bearer(config, STORED.KFM_DOCKERHUB_TOKEN), STORED.KFM_DOCKERHUB_TOKEN), // nor can a Docker Hub URL token
      bearer(push, STORED.KFM_STATUS_TOKEN), // intake never read the status token
    ], queueUrl);
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 401, 401, 401, 401, 401]);
    const accepted = answers.slice(0, 2).map((a) => json(a).accepted as string);
    expect(accepted.every((id) => typeof id === 'string')).toBe(true);
    expect(json(answers[2]!).ignored).toBeDefined(); // authenticated; another image than KFM_IMAGE
    // On the real queue (moto's SQS), as on Lambda.
    expect((await queued(queueUrl)).sort()).toEqual([...accepted].sort());

    // Every line of an invocation carries its request id; those after the acceptance the event's id.
    const lines = log.map((line) => JSON.parse(line) as Record<string, unknown>);
    const acceptedLine = lines.find((l) => l.message === 'event accepted' && l.function_request_id === 'req-1')!;
    expect(acceptedLine).toMatchObject({ level: 'INFO', service: 'kubeflow-metadata-deployer', correlation_id: accepted[1], id: accepted[1], function_name: 'kfm-intake', cold_start: false });
    expect(lines.find((l) => l.function_request_id === 'req-0' && l.message === 'event accepted')).toMatchObject({ cold_start: true, correlation_id: accepted[0] });
    for (const line of lines.filter((l) => l.level !== undefined)) expect(line.function_request_id).toMatch(/^req-\d$/);
    // EMF: the Accepted count of an invocation that accepted one.
    const emf = lines.filter((l) => typeof l._aws === 'object');
    expect(emf.some((l) => l.Accepted === 1 && l.function === 'intake')).toBe(true);
    expect(leaksIn(log.join('\n'), [...Object.values(STORED), ...Object.values(LOCAL)])).toEqual([]);
  }, 120_000);
});

describe('a missing parameter', () => {
  it('stops the cold start naming it and where it was looked for, never a value; the next invocation tries again', async () => {
    const ssm = new SSMClient(moto.clientConfig);
    await ssm.send(new PutParameterCommand({ Name: '/kfm/partial/KFM_WEBHOOK_SECRET', Value: STORED.KFM_WEBHOOK_SECRET, Type: 'SecureString' }));
    ssm.destroy();
    const push = bearer(await sample('push-distribution.json'), STORED.KFM_WEBHOOK_SECRET);
    const { answers } = await coldStart('intake', 'ssm:/kfm/partial', [push, push]);
    const expected = 'SettingsError: invalid settings: KFM_CONFIG_SECRET: missing (the SecureString parameter /kfm/partial/KFM_CONFIG_SECRET)';
    expect(answers).toEqual([{ error: expected }, { error: expected }]);
  }, 120_000);

  it('the status function needs only its own token: with it, GET /status answers; a deleted one stops it', async () => {
    const status = await sample('status.json');
    const ok = await coldStart('status', `ssm:${PREFIX}`, [bearer(status, STORED.KFM_STATUS_TOKEN), bearer(status, STORED.KFM_WEBHOOK_SECRET), status]);
    expect(ok.answers.map((a) => a.status)).toEqual([200, 401, 401]);
    const ssm = new SSMClient(moto.clientConfig);
    await ssm.send(new DeleteParameterCommand({ Name: `${PREFIX}/KFM_STATUS_TOKEN` }));
    ssm.destroy();
    const gone = await coldStart('status', `ssm:${PREFIX}`, [bearer(status, STORED.KFM_STATUS_TOKEN)]);
    expect(gone.answers).toEqual([{ error: `SettingsError: invalid settings: KFM_STATUS_TOKEN: missing (the SecureString parameter ${PREFIX}/KFM_STATUS_TOKEN)` }]);
  }, 120_000);
});
