// The SQS adapter's mapping onto SendMessage, with the SDK mocked
// (aws-sdk-client-mock): the real SQS API is exercised in test/e2e-sqs.test.ts.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SendMessageCommand, SQSClient, SQSServiceException } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { QueueError } from '../src/errors.js';
import { createSqsQueue, sqsDeduplicationId } from '../src/queue/sqs.js';

const sqs = mockClient(SQSClient);
const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/kubeflow-metadata-deployer-prod.fifo';
const client = new SQSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });

beforeEach(() => sqs.reset());

it('sends one message with the group, the deduplication id and the body, to the queue', async () => {
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
  const queue = createSqsQueue({ client, queueUrl });
  await queue.send({ groupId: 'kubeflow/kubeflow-metadata', deduplicationId: 'distribution:evt-1', body: '{"kind":"refresh"}' });
  expect(sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input)).toEqual([{
    QueueUrl: queueUrl,
    MessageGroupId: 'kubeflow/kubeflow-metadata',
    MessageDeduplicationId: 'distribution:evt-1',
    MessageBody: '{"kind":"refresh"}',
  }]);
  expect(queue.description).toBe(`sqs:${queueUrl}`);
});

it('an SQS refusal becomes a QueueError that names the call and the cause, never the body', async () => {
  const refusal = new SQSServiceException({ name: 'InvalidParameterValue', $fault: 'client', $metadata: {}, message: 'Value too long' });
  sqs.on(SendMessageCommand).rejects(refusal);
  const queue = createSqsQueue({ client, queueUrl });
  const body = '{"kind":"config","mysql":{"password":"queue-test-mysql-password"}}';
  const error = await queue.send({ groupId: 'kubeflow/app', deduplicationId: 'config:abc', body }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(QueueError);
  expect((error as QueueError).message).toBe(`sqs:${queueUrl}: SendMessage failed: InvalidParameterValue: Value too long`);
  expect((error as QueueError).message).not.toContain('queue-test-mysql-password');
  expect((error as QueueError).cause).toBe(refusal);
});

it('a network failure (no SQS answer) is a QueueError too', async () => {
  sqs.on(SendMessageCommand).rejects(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { name: 'Error' }));
  const error = await createSqsQueue({ client, queueUrl }).send({ groupId: 'kubeflow/app', deduplicationId: 'd', body: '{}' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(QueueError);
  expect((error as Error).message).toMatch(/SendMessage failed: Error: connect ECONNREFUSED/);
});

it('refuses a standard queue URL: SQS would take MessageGroupId there (fair queues) and drop the order', () => {
  expect(() => createSqsQueue({ client, queueUrl: queueUrl.replace(/\.fifo$/, '') })).toThrow(QueueError);
  expect(() => createSqsQueue({ client, queueUrl: 'not a url.fifo' })).toThrow(/FIFO queue/);
  expect(() => createSqsQueue({ client, queueUrl: 'http://127.0.0.1:4566/000000000000/q.fifo' })).not.toThrow(); // moto, localstack
});

it('a group id SQS cannot take is refused before any call (it is a bug, not an input)', async () => {
  const queue = createSqsQueue({ client, queueUrl });
  await expect(queue.send({ groupId: '', deduplicationId: 'd', body: '{}' })).rejects.toThrow(QueueError);
  await expect(queue.send({ groupId: 'a b', deduplicationId: 'd', body: '{}' })).rejects.toThrow(/invalid message group id/);
  expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
});

describe('deduplication ids outside SQS grammar keep their identity', () => {
  it('valid ids pass unchanged, up to 128 printable ASCII characters', () => {
    expect(sqsDeduplicationId('ecr:kubeflow/metadata:v1@sha256:0123')).toBe('ecr:kubeflow/metadata:v1@sha256:0123');
    expect(sqsDeduplicationId('x'.repeat(128))).toBe('x'.repeat(128));
  });

  it('too long, a space or non-ASCII: the SHA-256, the same for the same id and different for another', () => {
    const long = sqsDeduplicationId('y'.repeat(129));
    expect(long).toMatch(/^sha256-[0-9a-f]{64}$/);
    expect(sqsDeduplicationId('y'.repeat(129))).toBe(long);
    expect(sqsDeduplicationId('y'.repeat(130))).not.toBe(long);
    expect(sqsDeduplicationId('event id')).toMatch(/^sha256-/);
    expect(sqsDeduplicationId('évènement')).toMatch(/^sha256-/);
    expect(sqsDeduplicationId('')).toMatch(/^sha256-/); // SQS needs at least one character
  });

  it('the hashed id is what SQS receives', async () => {
    sqs.on(SendMessageCommand).resolves({});
    await createSqsQueue({ client, queueUrl }).send({ groupId: 'kubeflow/app', deduplicationId: 'z'.repeat(300), body: '{}' });
    expect(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input.MessageDeduplicationId).toBe(sqsDeduplicationId('z'.repeat(300)));
  });
});

it('the module imports nothing from the AWS SDK but @aws-sdk/client-sqs (the intake cold start)', async () => {
  const source = await readFile(join(import.meta.dirname, '..', 'src', 'queue', 'sqs.ts'), 'utf8');
  const imports = [...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
  expect(imports.filter((name) => name!.startsWith('@'))).toEqual(['@aws-sdk/client-sqs']);
});
