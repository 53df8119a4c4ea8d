// The Lambda artifacts themselves: the three handlers (intake, worker, status)
// bundled the way serverless-esbuild bundles them (esbuild.options.cjs, with its
// lazy chunks and on-use stand-ins), built outside the repository so that no
// node_modules can fill a gap, and every invocation in a fresh node process, as
// Lambda runs it (test/support/invoke-bundle.cjs, which also reports the chunk
// files each invocation loaded).
//
// - intake on Lambda (KFM_QUEUE_URL): its cold start loads no chunk but the shared
//   errors; an accepted event loads the SQS chunk only and reaches a real FIFO queue
//   (moto), from which Lambda's event source (its test double) hands the worker bundle
//   the batch;
// - the embedded default (no KFM_QUEUE_URL): intake's in-process queue and worker run
//   the step in intake's own process;
// - the worker bundle on SQS batches and direct invocations, on the directory target and
//   on the Kubernetes paths (kubeconfig, a socks proxy, EKS as on Lambda);
// - each `osls package` zip carries its handler and every chunk, and nothing else.
import { execFile } from 'node:child_process';
import { createRequire, builtinModules } from 'node:module';
import { readFileSync } from 'node:fs';
import { access, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { SQSEvent } from 'aws-lambda';
import { parse, stringify } from 'yaml';
import { startKubeDouble, type KubeDouble } from './support/kube-double.js';
import { ECR_PASSWORD, startAwsStandIn, type AwsStandIn } from './support/aws-stand-in.js';
import { observe, watchSecrets } from './support/leak-guard.js';
import { startMoto, type Moto } from './support/moto.js';
import { createFifoQueues, startSqsEventSource } from './support/sqs-event-source.js';
import { pushImage, startRegistry, type TestRegistry } from './support/registry.js';
import { scratchService } from './support/osls-package.js';
import type { BatchResult } from '../src/queue/port.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const options = createRequire(import.meta.url)(join(root, 'esbuild.options.cjs')) as {
  chunks: Array<{ specifier: string; importers: string[]; file: string }>;
  checkChunkImports(): string[];
};
/** The credentials the sample events carry, one per power (push, Docker Hub and Quay URL tokens, config, control, status). */
const CREDENTIALS = JSON.parse(readFileSync(join(root, 'events', 'local-credentials.json'), 'utf8')) as Record<string, string>;
const MYSQL_PASSWORD = 'sample-mysql-password';
watchSecrets(...Object.values(CREDENTIALS), MYSQL_PASSWORD, 'bundle-test-secret-access-key', ECR_PASSWORD);
const events = (name: string) => join(root, 'events', name);
const DIGEST = 'sha256:59168bcdb588317a51f6533d5195f22eaed203fdd60eed19732df8e27003f946'; // the samples' digest
const GROUP = 'kubeflow/kubeflow-metadata';
const HANDLERS = ['intake', 'worker', 'status'] as const;
type Handler = (typeof HANDLERS)[number];

let work: string;
let dist: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'kfm-bundles-'));
  dist = join(work, 'dist');
  await run(process.execPath, [join(root, 'scripts', 'build.mjs'), '--json', '--into', dist], { cwd: root });
}, 120_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface LogLine { level: string; message: string; [field: string]: any }
interface Outcome {
  answer?: any;
  loadError?: string;
  handlerError?: string;
  /** Chunk files loaded when the handler answered, and when its process had nothing left to do. */
  loaded?: string[];
  loadedAtExit: string[];
}
interface Invocation extends Outcome {
  /** The answer's JSON body (HTTP handlers). */
  body: any;
  log: LogLine[];
  /** The worker's `step done` lines: one per step, with outcome, status and changes. */
  steps: LogLine[];
}

let calls = 0;
/** One event (a file, or an object) through one bundled handler, in a fresh process with only the given environment. */
async function invoke(handler: Handler, event: string | object, env: Record<string, string>): Promise<Invocation> {
  const n = (calls += 1);
  const result = join(work, `result-${n}.json`);
  let eventFile = typeof event === 'string' ? event : join(work, `event-${n}.json`);
  if (typeof event !== 'string') await writeFile(eventFile, JSON.stringify(event));
  const { stdout } = await run(process.execPath, [join(root, 'test', 'support', 'invoke-bundle.cjs'), join(dist, `${handler}.cjs`), eventFile, result], {
    cwd: work,
    env: { PATH: process.env.PATH ?? '', HOME: work, AWS_EC2_METADATA_DISABLED: 'true', ...CREDENTIALS, ...env },
  });
  observe(`the ${handler} bundle's log`, stdout);
  const outcome = JSON.parse(await readFile(result, 'utf8')) as Outcome;
  observe(`the ${handler} bundle's answer`, JSON.stringify(outcome));
  const log = stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogLine);
  const body = typeof outcome.answer?.body === 'string' ? JSON.parse(outcome.answer.body) : undefined;
  return { ...outcome, body, log, steps: log.filter((line) => line.message === 'step done') };
}

/** An HTTP sample event with another body or header. */
async function sample(name: string, change: (event: any) => void): Promise<object> {
  const event = JSON.parse(await readFile(events(name), 'utf8'));
  change(event);
  return event;
}

/** What intake queues for events/config.json (the worker reads commands, not webhooks). */
const configCommand = {
  kind: 'config', id: 'config-bundle-test', receivedAt: '2026-01-01T12:00:00.000Z',
  config: { port: 8080, 'database-name': 'metadb' },
  mysql: { host: 'mysql.kubeflow.svc.cluster.local', port: 3306, user: 'root', password: MYSQL_PASSWORD },
};

/** SQS records as Lambda's event source delivers them, one per body, in one group. */
function sqsBatch(...bodies: Array<string | object>): SQSEvent {
  return {
    Records: bodies.map((body, index) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      const id = typeof body === 'object' && 'id' in body ? String(body.id) : `message-${index}`;
      return {
        messageId: `bundle-test-${index + 1}`, receiptHandle: 'bundle-test', body: text, messageAttributes: {}, md5OfBody: '',
        attributes: {
          ApproximateReceiveCount: '1', SentTimestamp: '1767268800000', SenderId: 'bundle-test', ApproximateFirstReceiveTimestamp: '1767268800000',
          MessageGroupId: GROUP, MessageDeduplicationId: id, SequenceNumber: String(index + 1),
        },
        eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:bundle-test.fifo', awsRegion: 'eu-west-1',
      };
    }),
  };
}

/** The push intake queues for events/push-distribution.json, as the queue delivers it (events/worker-push.json). */
async function workerPushBody(): Promise<string> {
  return (JSON.parse(await readFile(events('worker-push.json'), 'utf8')) as SQSEvent).Records[0]!.body;
}

const written = (step: LogLine) => step.changes.filter((change: { outcome: string }) => change.outcome !== 'unchanged');

it('no bundle or chunk requires a package at run time: everything is inside the artifact', async () => {
  const builtins = new Set(builtinModules);
  const outside: string[] = [];
  for (const file of await readdir(dist)) {
    const text = await readFile(join(dist, file), 'utf8');
    // Not after `[`: the AWS SDK's error text quotes `[require("@aws-sdk/signature-v4-crt");]` as advice.
    for (const [, specifier] of text.matchAll(/(?<![\w$.[])require\("([^"]+)"\)/g)) {
      if (specifier!.startsWith('./kfm-') || specifier!.startsWith('node:') || builtins.has(specifier!)) continue;
      outside.push(`${file}: ${specifier}`);
    }
  }
  expect(outside).toEqual([]);
});

it("every lazy chunk's import() is still in each of its importers, and every chunk is built", async () => {
  // A renamed file or specifier would inline the chunk again, silently (esbuild.options.cjs checkChunkImports).
  expect(options.checkChunkImports()).toEqual([]);
  const built = await readdir(dist);
  expect(options.chunks.map((chunk) => chunk.file).filter((file) => !built.includes(file))).toEqual([]);
  for (const handler of HANDLERS) expect(built).toContain(`${handler}.cjs`);
  // The bundles themselves contain the chunks' require() in place of their import().
  const intake = await readFile(join(dist, 'intake.cjs'), 'utf8');
  expect(intake).toContain('require("./kfm-local-runtime.cjs")');
  expect(intake).toContain('require("./kfm-aws-sqs.cjs")');
  expect(intake).not.toMatch(/SendMessageCommand|KubeConfig|docker-resource\.auto-fetch/);
});

describe('intake on Lambda (KFM_QUEUE_URL set): the SQS path, with a real SQS API (moto)', () => {
  let moto: Moto;
  let client: SQSClient;
  let queueUrl: string;
  let target: string;
  const awsEnv = () => ({
    AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'bundle-test-secret-access-key', AWS_ENDPOINT_URL_SQS: moto.endpoint,
  });
  const intakeEnv = () => ({ ...awsEnv(), KFM_QUEUE_URL: queueUrl });
  // The worker and status functions of the same deployment, on a directory target (offline: the samples' digest as is).
  const deployedEnv = () => ({ KFM_QUEUE_URL: queueUrl, KFM_TARGET: `dir:${target}`, KFM_OFFLINE: 'true' });
  beforeAll(async () => {
    moto = await startMoto();
    client = new SQSClient(moto.clientConfig);
    ({ queueUrl } = await createFifoQueues(client, 'kfm-bundles', 2));
    target = join(work, 'deployed');
  }, 60_000);
  afterAll(async () => {
    client?.destroy();
    await moto?.stop();
  });
  async function drain(): Promise<void> {
    for (;;) {
      const { Messages = [] } = await client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      if (Messages.length === 0) return;
      for (const message of Messages) await client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
  }

  it('a push intake ignores and a failed authentication load no chunk but the shared errors (nothing of the worker, the cluster or SQS)', async () => {
    const ignored = await invoke('intake', events('push-distribution.json'), { ...intakeEnv(), KFM_IMAGE: 'registry.example:5000/another/repository:v1' });
    expect(ignored.answer?.statusCode).toBe(202);
    expect(ignored.body.ignored).toMatch(/pull/);
    expect(ignored.loadedAtExit).toEqual(['kfm-errors.cjs']);
    const refused = await invoke('intake', await sample('push-distribution.json', (e) => void (e.headers.authorization = 'Bearer wrong-secret')), intakeEnv());
    expect(refused.answer?.statusCode).toBe(401);
    expect(refused.loadedAtExit).toEqual(['kfm-errors.cjs']);
  });

  it('as on Lambda (AWS_LAMBDA_FUNCTION_NAME, secrets in SSM): the SSM chunk reads the credentials at cold start, the metrics chunk writes the EMF line', async () => {
    const ssm = new SSMClient(moto.clientConfig);
    try {
      for (const name of ['KFM_WEBHOOK_SECRET', 'KFM_CONFIG_SECRET']) {
        await ssm.send(new PutParameterCommand({ Name: `/kfm/bundles/${name}`, Value: CREDENTIALS[name], Type: 'SecureString', Overwrite: true }));
      }
    } finally {
      ssm.destroy();
    }
    // No credential in the environment: only the store has them.
    const noCredentials = Object.fromEntries(Object.keys(CREDENTIALS).map((name) => [name, '']));
    const push = await invoke('intake', events('push-distribution.json'), {
      ...intakeEnv(), ...noCredentials, KFM_SECRETS_FROM: 'ssm:/kfm/bundles', AWS_ENDPOINT_URL_SSM: moto.endpoint, AWS_LAMBDA_FUNCTION_NAME: 'kfm-bundles-intake',
    });
    expect(push.handlerError).toBeUndefined();
    expect(push.answer?.statusCode).toBe(202);
    expect(push.body.accepted).toMatch(/^push-/);
    expect(push.loadedAtExit).toEqual(['kfm-aws-sqs.cjs', 'kfm-aws-ssm.cjs', 'kfm-errors.cjs', 'kfm-metrics.cjs']);
    const emf = push.log.find((line) => '_aws' in line) as { _aws: { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string }> }> } } | undefined;
    expect(emf?._aws.CloudWatchMetrics[0]!.Metrics.map((metric) => metric.Name)).toContain('Accepted');
    // Drain what it queued: the next test reads the queue from its start.
    await drain();
  });

  it("the SQS chunk's QueueError is the handler's QueueError (one kfm-errors.cjs): a standard queue URL is a 503, not a 500", async () => {
    const standard = await invoke('intake', events('push-distribution.json'), { ...awsEnv(), KFM_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/not-fifo' });
    expect(standard.answer?.statusCode).toBe(503);
    expect(standard.log.find((line) => line.message === 'queue send failed')?.reason).toMatch(/must name an SQS FIFO queue/);
    expect(standard.loadedAtExit).toEqual(['kfm-aws-sqs.cjs', 'kfm-errors.cjs']);
  });

  it("accepted config and push go to the FIFO queue (the SQS chunk only), and the worker bundle applies the event source's batch", async () => {
    const config = await invoke('intake', events('config.json'), intakeEnv());
    expect(config.answer?.statusCode).toBe(202);
    const push = await invoke('intake', events('push-distribution.json'), intakeEnv());
    expect(push.answer?.statusCode).toBe(202);
    expect(push.body.accepted).toMatch(/^push-[0-9a-f]{40}$/);
    for (const accepted of [config, push]) expect(accepted.loadedAtExit).toEqual(['kfm-aws-sqs.cjs', 'kfm-errors.cjs']);
    // The command intake queued for the distribution sample is the one events/worker-push.json carries.
    expect(push.body.accepted).toBe(JSON.parse(await workerPushBody()).id);

    const answers: Array<{ batch: SQSEvent; result: Invocation }> = [];
    const source = await startSqsEventSource({
      client, queueUrl, waitTimeSeconds: 1,
      handler: async (batch) => {
        const result = await invoke('worker', batch, deployedEnv());
        answers.push({ batch: batch as SQSEvent, result });
        return result.answer as BatchResult;
      },
    });
    try {
      await source.waitFor(() => answers.flatMap((a) => a.result.steps).length >= 2, 30_000, 'both commands applied');
    } finally {
      await source.stop();
    }
    const records = answers.flatMap((a) => a.batch.Records);
    expect(records.map((r) => [r.attributes.MessageGroupId, r.attributes.MessageDeduplicationId])).toEqual([[GROUP, config.body.accepted], [GROUP, push.body.accepted]]);
    expect(answers.map((a) => a.result.answer)).toEqual(answers.map(() => ({ batchItemFailures: [] })));
    const steps = answers.flatMap((a) => a.result.steps);
    expect(steps.map((step) => [step.id, step.outcome])).toEqual([[config.body.accepted, 'applied'], [push.body.accepted, 'applied']]);
    expect(steps[1]!.status).toEqual({ state: 'active', message: '' });
    // The worker on Lambda never loads the local runtime or the SQS client.
    for (const { result } of answers) expect(result.loadedAtExit).not.toContain('kfm-local-runtime.cjs');
    for (const { result } of answers) expect(result.loadedAtExit).not.toContain('kfm-aws-sqs.cjs');
    const deployment = parse(await readFile(join(target, 'kubeflow', 'deployment-kubeflow-metadata.yaml'), 'utf8'));
    expect(deployment.spec.template.spec.containers[0].image).toBe(`gcr.io/kubeflow-images-public/metadata@${DIGEST}`);

    const status = await invoke('status', events('status.json'), deployedEnv());
    expect(status.answer?.statusCode).toBe(200);
    expect(status.body.status.state).toBe('active');
    expect(status.body.recent.map((r: { id: string; outcome: string }) => [r.id, r.outcome])).toEqual([[config.body.accepted, 'applied'], [push.body.accepted, 'applied']]);
    expect(status.loadedAtExit).not.toContain('kfm-local-runtime.cjs');
  }, 90_000);
});

describe('the embedded default (no KFM_QUEUE_URL): intake runs the in-process queue and worker in its own process', () => {
  let target: string;
  const env = () => ({ KFM_TARGET: `dir:${target}`, KFM_OFFLINE: 'true' });
  beforeAll(async () => {
    target = join(work, 'kfm');
  });

  it('config and push are accepted (202), applied by the worker in the same process, and status ends active, with YAML files another parser reads', async () => {
    const config = await invoke('intake', events('config.json'), env());
    expect(config.answer?.statusCode).toBe(202);
    expect(config.steps.map((step) => [step.id, step.outcome])).toEqual([[config.body.accepted, 'applied']]);
    const push = await invoke('intake', events('push-distribution.json'), env());
    expect(push.answer?.statusCode).toBe(202);
    expect(push.steps.map((step) => [step.id, step.outcome])).toEqual([[push.body.accepted, 'applied']]);
    expect(push.loadedAtExit).toContain('kfm-local-runtime.cjs');
    expect(push.loadedAtExit).not.toContain('kfm-aws-sqs.cjs');
    const status = await invoke('status', events('status.json'), env());
    expect(status.body.status.state).toBe('active');
    expect(status.loadedAtExit).not.toContain('kfm-local-runtime.cjs'); // no in-process worker runs in its process
    const folder = join(target, 'kubeflow');
    const deployment = parse(await readFile(join(folder, 'deployment-kubeflow-metadata.yaml'), 'utf8'));
    expect(deployment.spec.template.spec.containers[0].image).toMatch(/@sha256:[0-9a-f]{64}$/);
    const state = parse(await readFile(join(folder, 'configmap-kubeflow-metadata-deployer-state.yaml'), 'utf8'));
    expect(JSON.parse(state.data['state.json']).flags).toContain('charm.started');
  });

  it('a redelivered push reads the files back (the YAML parser chunk) and writes nothing', async () => {
    const again = await invoke('intake', events('push-distribution.json'), env());
    expect(again.answer?.statusCode).toBe(202);
    expect(again.steps).toHaveLength(1);
    expect(written(again.steps[0]!)).toEqual([]);
    expect(again.loadedAtExit).toContain('kfm-js-yaml.cjs');
  });

  it('a semver tag policy loads semver on first use; a bad range stops the cold start naming the variable', async () => {
    const fresh = (name: string) => ({ KFM_TARGET: `dir:${join(work, name)}`, KFM_OFFLINE: 'true' });
    const inRange = await invoke('intake', events('push-distribution.json'), { ...fresh('semver-in'), KFM_TAG_POLICY: 'semver:^0.1' });
    expect(inRange.answer?.statusCode).toBe(202);
    expect(inRange.body.accepted).toBeDefined();
    expect(inRange.loaded).toContain('kfm-semver.cjs');
    const outOfRange = await invoke('intake', events('push-distribution.json'), { ...fresh('semver-out'), KFM_TAG_POLICY: 'semver:>=9' });
    expect(outOfRange.answer?.statusCode).toBe(202);
    expect(JSON.stringify(outOfRange.body)).toContain('tag outside the policy');
    expect(outOfRange.steps).toEqual([]);
    const bad = await invoke('intake', events('push-distribution.json'), { ...fresh('semver-bad'), KFM_TAG_POLICY: 'semver:[[' });
    expect(bad.loadError ?? bad.handlerError).toMatch(/KFM_TAG_POLICY/);
  });
});

describe('the worker bundle on the directory target', () => {
  const fresh = (name: string) => ({ KFM_TARGET: `dir:${join(work, name)}`, KFM_OFFLINE: 'true' });

  it('an SQS batch (config, then the push of events/worker-push.json) writes the Deployment; a poison record is acknowledged, not retried', async () => {
    const env = fresh('worker-batch');
    const result = await invoke('worker', sqsBatch(configCommand, await workerPushBody(), 'not a command'), env);
    expect(result.handlerError).toBeUndefined();
    expect(result.answer).toEqual({ batchItemFailures: [] });
    expect(result.steps.map((step) => step.outcome)).toEqual(['applied', 'applied']);
    expect(result.log.find((line) => line.message === 'queue message refused')?.reason).toMatch(/not JSON/);
    const deployment = parse(await readFile(join(work, 'worker-batch', 'kubeflow', 'deployment-kubeflow-metadata.yaml'), 'utf8'));
    expect(deployment.spec.template.spec.containers[0].image).toBe(`gcr.io/kubeflow-images-public/metadata@${DIGEST}`);
    expect(result.loadedAtExit).not.toContain('kfm-local-runtime.cjs');
  });

  it('events/worker-push.json on its own: the step waits for mysql and stores the state', async () => {
    const result = await invoke('worker', events('worker-push.json'), fresh('worker-sample'));
    expect(result.answer).toEqual({ batchItemFailures: [] });
    expect(result.steps.map((step) => [step.outcome, step.status.state])).toEqual([['applied', 'waiting']]);
  });

  it('direct invocations with an EventBridge event (ECR push, the schedule) are a batch of one', async () => {
    const ecr = await invoke('worker', events('push-ecr.json'), { ...fresh('worker-ecr'), KFM_IMAGE: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/kubeflow/metadata:v0.1.8', KFM_TAG_POLICY: 'semver:>=0.1.8' });
    expect(ecr.answer).toEqual({ batchItemFailures: [] });
    expect(ecr.steps).toHaveLength(1);
    expect(ecr.steps[0]!.changes.map((change: { kind: string }) => change.kind)).toContain('ConfigMap');
    const refresh = await invoke('worker', events('refresh.json'), fresh('worker-refresh'));
    expect(refresh.answer).toEqual({ batchItemFailures: [] });
    expect(refresh.steps).toHaveLength(1);
  });
});

describe('on the Kubernetes target (the double)', () => {
  let double: KubeDouble;
  let registry: TestRegistry;
  let kubeconfig: string;
  let image: string;
  beforeAll(async () => {
    double = await startKubeDouble();
    registry = await startRegistry({ auth: false });
    await pushImage(registry, { repository: 'kubeflow-images-public/metadata', tag: 'v0.1.8', mediaType: 'oci' });
    image = `${registry.host}/kubeflow-images-public/metadata:v0.1.8`;
    kubeconfig = join(work, 'kubeconfig');
    await writeFile(kubeconfig, double.kubeconfig());
  }, 60_000);
  afterAll(async () => {
    await double?.stop();
    await registry?.stop();
  });

  it('a config command makes the worker create the objects through the kubeconfig connection (digest from the registry), and status reads them', async () => {
    const env = { KFM_TARGET: 'kubernetes', KUBECONFIG: kubeconfig, KFM_IMAGE: image };
    const worker = await invoke('worker', sqsBatch(configCommand), env);
    expect(worker.handlerError).toBeUndefined();
    expect(worker.answer).toEqual({ batchItemFailures: [] });
    expect(worker.steps[0]!.changes.map((change: { kind: string }) => change.kind)).toEqual(expect.arrayContaining(['ConfigMap', 'Deployment']));
    expect(worker.loadedAtExit).toEqual(expect.arrayContaining(['kfm-kubernetes.cjs', 'kfm-js-yaml.cjs']));
    expect(worker.loadedAtExit).not.toContain('kfm-eks.cjs');
    const deployment = double.objects().find((o: any) => o.kind === 'Deployment') as any;
    expect(deployment.spec.template.spec.containers[0].image).toMatch(new RegExp(`^${registry.host}/kubeflow-images-public/metadata@sha256:[0-9a-f]{64}$`));
    const status = await invoke('status', events('status.json'), env);
    expect(status.answer?.statusCode).toBe(200);
    expect(status.body.config).toEqual({ port: 8080, 'database-name': 'metadb' });
  });

  it("a kubeconfig proxy-url reaches the socks agent through its stand-in (an unreachable proxy: status 502 naming the proxy's refusal, the worker's record failed for a retry)", async () => {
    const proxied = join(work, 'kubeconfig-socks');
    const config = parse(double.kubeconfig());
    config.clusters[0].cluster['proxy-url'] = 'socks5://127.0.0.1:9'; // nothing listens on the discard port
    await writeFile(proxied, stringify(config));
    const env = { KFM_TARGET: 'kubernetes', KUBECONFIG: proxied, KFM_IMAGE: image };
    const status = await invoke('status', events('status.json'), env);
    expect(status.loadError ?? status.handlerError).toBeUndefined();
    // 502: the Kubernetes chunk's TargetError is the handler's (one kfm-errors.cjs); a second copy would be a 500.
    expect(status.answer?.statusCode).toBe(502);
    // Refused by the proxy's port, not by the API server's: the request went through the socks agent.
    expect(status.body.error).toMatch(/ConfigMap .* failed: connect ECONNREFUSED 127\.0\.0\.1:9$/);
    expect(status.loadedAtExit).toContain('kfm-socks-proxy-agent.cjs');
    const worker = await invoke('worker', sqsBatch(configCommand), env);
    expect(worker.answer).toEqual({ batchItemFailures: [{ itemIdentifier: 'bundle-test-1' }] });
    expect(worker.log.find((line) => line.message === 'step failed')?.reason).toMatch(/ECONNREFUSED 127\.0\.0\.1:9/);
  });
});

describe('the AWS paths of the bundled chunks, against a local HTTPS stand-in for AWS and the API server', () => {
  let aws: AwsStandIn;
  const seen = () => aws.requests;
  const ACCESS_KEY = 'AKIDBUNDLETEST';
  const credentials = { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: 'bundle-test-secret-access-key' };
  beforeAll(async () => {
    aws = await startAwsStandIn();
  });
  afterAll(() => aws.stop());
  beforeEach(() => void aws.requests.splice(0));

  /** Runs `script` in a fresh node; it prints JSON. Credentials in the environment unless `withCredentials` is false. */
  async function node(script: string, withCredentials = true): Promise<any> {
    const { stdout } = await run(process.execPath, ['-e', script], {
      cwd: work,
      env: { PATH: process.env.PATH ?? '', HOME: work, AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'eu-west-1', ...aws.awsEnv(), ...(withCredentials ? credentials : {}) },
    });
    return JSON.parse(stdout);
  }
  /** A read through the bundled Kubernetes chunk with these EKS settings; also which chunks were loaded. */
  const readThroughEks = (eks: Record<string, string>) => `
    const { createKubernetesAdaptersFromSettings } = require(${JSON.stringify(join(dist, 'kfm-kubernetes.cjs'))});
    const loaded = () => Object.keys(require.cache).map((file) => file.split('/').pop()).filter((file) => file.startsWith('kfm-')).sort();
    createKubernetesAdaptersFromSettings({ namespace: 'kubeflow', app: 'kubeflow-metadata', rollout: { checkIntervalMs: 5000 }, eks: ${JSON.stringify({ cluster: 'kfm-test', region: 'eu-west-1', ...eks })} })
      .then(({ target }) => target.read({ kind: 'ConfigMap', name: 'kubeflow-metadata-deployer-state' }))
      .then((found) => process.stdout.write(JSON.stringify({ found: found ?? null, loaded: loaded() })),
        (error) => process.stdout.write(JSON.stringify({ error: String(error), loaded: loaded() })));`;

  function expectEksToken(authorization: string) {
    const token = authorization.replace(/^Bearer k8s-aws-v1\./, '');
    expect(token).not.toBe(authorization);
    const presigned = new URL(Buffer.from(token, 'base64url').toString());
    expect(presigned.host).toBe('sts.eu-west-1.amazonaws.com');
    expect(presigned.searchParams.get('X-Amz-Credential')).toMatch(/^AKIDBUNDLETEST\/\d{8}\/eu-west-1\/sts\/aws4_request$/);
    expect(presigned.searchParams.get('X-Amz-SignedHeaders')).toBe('host;x-k8s-aws-id');
  }

  it('endpoint and CA configured, credentials in the environment (Lambda): a signed token over verified TLS, and neither the credential chain nor the EKS client is loaded', async () => {
    const result = await node(readThroughEks({ endpoint: aws.endpoint, caData: Buffer.from(aws.cert).toString('base64') }));
    expect(result.found).toBeNull();
    expect(seen().map((request) => request.path)).toEqual(['/api/v1/namespaces/kubeflow/configmaps/kubeflow-metadata-deployer-state']);
    expectEksToken(seen()[0]!.authorization);
    expect(result.loaded).toEqual(['kfm-aws-credentials-env.cjs', 'kfm-eks.cjs', 'kfm-errors.cjs', 'kfm-kubernetes.cjs']);
  });

  it('the worker bundle on EKS as on Lambda: its step reads the workload over verified TLS with a signed token (the stand-in refuses writes: the record is failed for a retry)', async () => {
    const env = {
      ...aws.awsEnv(), ...credentials, AWS_REGION: 'eu-west-1',
      KFM_TARGET: 'kubernetes', KFM_EKS_CLUSTER: 'kfm-test', KFM_EKS_ENDPOINT: aws.endpoint, KFM_EKS_CA: Buffer.from(aws.cert).toString('base64'),
      KFM_IMAGE: '127.0.0.1:9/kubeflow-images-public/metadata:v0.1.8', // no registry: the fetch fails fast, the state write is tried
    };
    const result = await invoke('worker', events('worker-push.json'), env);
    expect(result.handlerError).toBeUndefined();
    expect(result.answer?.batchItemFailures).toHaveLength(1);
    const reads = seen().filter((request) => request.path.startsWith('/api') || request.path.startsWith('/apis'));
    expect(reads.length).toBeGreaterThanOrEqual(5); // the snapshot: state, two Secrets, Service, Deployment
    for (const request of reads) expectEksToken(request.authorization);
    expect(result.loadedAtExit).toEqual(['kfm-aws-credentials-env.cjs', 'kfm-eks.cjs', 'kfm-errors.cjs', 'kfm-kubernetes.cjs']);
  }, 40_000);

  it('no endpoint or CA: eks:DescribeCluster (the bundled EKS client, SigV4-signed) finds them', async () => {
    const result = await node(readThroughEks({}));
    expect(result.found).toBeNull();
    expect(seen().map((request) => request.path)).toEqual(['/clusters/kfm-test', '/api/v1/namespaces/kubeflow/configmaps/kubeflow-metadata-deployer-state']);
    expect(seen()[0]!.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDBUNDLETEST\/\d{8}\/eu-west-1\/eks\/aws4_request/);
    expectEksToken(seen()[1]!.authorization);
    expect(result.loaded).toContain('kfm-aws-eks.cjs');
  });

  it('no credentials in the environment: the full default chain is loaded, and its failure names the cause', async () => {
    const result = await node(readThroughEks({ endpoint: aws.endpoint, caData: Buffer.from(aws.cert).toString('base64') }), false);
    expect(result.error).toMatch(/credential/i);
    expect(result.loaded).toContain('kfm-aws-credentials.cjs');
    expect(seen()).toEqual([]); // nothing sent without a token
  });

  it('the bundled ECR client gets an authorization token (SigV4-signed GetAuthorizationToken)', async () => {
    const result = await node(`
      const { ECRClient, GetAuthorizationTokenCommand } = require(${JSON.stringify(join(dist, 'kfm-aws-ecr.cjs'))});
      new ECRClient({ region: 'eu-west-1' }).send(new GetAuthorizationTokenCommand({}))
        .then((answer) => process.stdout.write(JSON.stringify({ token: answer.authorizationData[0].authorizationToken })),
          (error) => process.stdout.write(JSON.stringify({ error: String(error) })));`);
    expect(Buffer.from(result.token, 'base64').toString()).toBe(`AWS:${ECR_PASSWORD}`);
    expect(seen()[0]!.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDBUNDLETEST\/\d{8}\/eu-west-1\/ecr\/aws4_request/);
  });
});

it('the chunks only some paths load (EKS, ECR, SQS, SSM, Secrets Manager, metrics, tracing, OIDC, cloud auth) load on their own and export what the stand-ins call', async () => {
  const probe = `
    const at = (file) => require(${JSON.stringify(dist)} + '/' + file);
    const checks = {
      eks: typeof at('kfm-eks.cjs').connectEks,
      ecr: typeof at('kfm-aws-ecr.cjs').ECRClient,
      sqs: typeof at('kfm-aws-sqs.cjs').SQSClient + ',' + typeof at('kfm-aws-sqs.cjs').createSqsQueue,
      local: typeof at('kfm-local-runtime.cjs').localRuntime,
      stores: typeof at('kfm-aws-ssm.cjs').SSMProvider + ',' + typeof at('kfm-aws-secrets.cjs').SecretsProvider,
      observability: typeof at('kfm-metrics.cjs').Metrics + ',' + typeof at('kfm-metrics.cjs').MetricUnit + ',' + typeof at('kfm-tracer.cjs').Tracer,
      aws: [typeof at('kfm-aws-eks.cjs').DescribeClusterCommand, typeof at('kfm-aws-credentials.cjs').defaultProvider, typeof at('kfm-aws-credentials-env.cjs').fromEnv].join(','),
      oidc: typeof at('kfm-openid-client.cjs').discovery + ',' + typeof at('kfm-openid-client.cjs').refreshTokenGrant,
      jsonpath: JSON.stringify(at('kfm-jsonpath-plus.cjs').JSONPath({ path: '$.a.b', json: { a: { b: 7 } }, wrap: false })),
      socks: typeof at('kfm-socks-proxy-agent.cjs').SocksProxyAgent,
      yaml: at('kfm-js-yaml.cjs').dump({ a: 1 }).trim(),
      semver: String(at('kfm-semver.cjs').satisfies('1.2.3', '^1')),
    };
    process.stdout.write(JSON.stringify(checks));`;
  const { stdout } = await run(process.execPath, ['-e', probe], { cwd: work, env: { PATH: process.env.PATH ?? '' } });
  expect(JSON.parse(stdout)).toEqual({
    eks: 'function', ecr: 'function', sqs: 'function,function', local: 'function', stores: 'function,function', observability: 'function,object,function', aws: 'function,function,function', oidc: 'function,function', jsonpath: '7', socks: 'function', yaml: 'a: 1', semver: 'true',
  });
});

it('each Lambda package (osls package) carries its handler and every chunk, and nothing else', async () => {
  // In a scratch copy of the service (test/support/osls-package.ts): parallel packages cannot clobber each other.
  const service = await scratchService();
  try {
    const packaged = await service.osls(['package'], { KFM_SECRETS_FROM: 'ssm:/kfm/bundle-test' });
    if (packaged.code !== 0) throw new Error(`osls package failed (${packaged.code}):\n${packaged.stdout}\n${packaged.stderr}`);
    const chunks = (await readdir(dist)).filter((file) => file.startsWith('kfm-')).sort();
    expect(chunks.length).toBeGreaterThanOrEqual(options.chunks.length);
    for (const handler of HANDLERS) {
      const zip = join(service.dir, '.serverless', `${handler}.zip`);
      await access(zip);
      const { stdout } = await run('unzip', ['-Z1', zip]);
      const entries = stdout.split('\n').filter(Boolean);
      expect(entries).toContain(`handlers/${handler}.cjs`);
      expect(entries.filter((entry) => entry.startsWith('handlers/kfm-')).map((entry) => entry.slice('handlers/'.length)).sort()).toEqual(chunks);
      // Nothing but the handler and the chunks: no other function's bundle, no .kfm/, src/, node_modules/.
      expect(entries.filter((entry) => entry !== `handlers/${handler}.cjs` && !entry.startsWith('handlers/kfm-'))).toEqual([]);
    }
  } finally {
    await service.remove();
  }
}, 300_000);
