// `osls package`, offline, and what the CloudFormation template it writes holds: the FIFO queue, its
// dead-letter queue and alarm, the EventBridge targets, the worker's event source, one least-privilege
// role per function, `arn:${AWS::Partition}` throughout, and not one secret value anywhere under
// `.serverless/` (zips included), although every secret variable is set to a sentinel.
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MAX_RECEIVE_COUNT } from '../src/queue/port.js';
import { encodings } from './support/leak-guard.js';
import { root, scratchService, type ScratchService } from './support/osls-package.js';

const run = promisify(execFile);
const vars = createRequire(import.meta.url)(join(root, 'scripts', 'serverless-vars.cjs'));
const salt = Math.random().toString(36).slice(2, 10);
/** Every secret-looking variable, set: none of these may reach the package. */
const SENTINELS: Record<string, string> = {
  KFM_WEBHOOK_SECRET: `sentinel-webhook-${salt}-0123456789abcdef`,
  KFM_DOCKERHUB_TOKEN: `sentinel-dockerhub-${salt}-0123456789abcdef`,
  KFM_QUAY_TOKEN: `sentinel-quay-${salt}-0123456789abcdef`,
  KFM_CONFIG_SECRET: `sentinel-config-${salt}-0123456789abcdef`,
  KFM_CONTROL_SECRET: `sentinel-control-${salt}-0123456789abcdef`,
  KFM_STATUS_TOKEN: `sentinel-status-${salt}-0123456789abcdef`,
  KFM_REGISTRY_AUTH: JSON.stringify({ 'registry.example': { username: 'ci', password: `sentinel-registry-${salt}-0123456789` } }),
  AWS_ACCESS_KEY_ID: `AKIASENTINEL${salt.toUpperCase()}`,
  AWS_SECRET_ACCESS_KEY: `sentinel-aws-secret-${salt}-0123456789abcdef`,
};
const secretValues = [...Object.values(SENTINELS), `sentinel-registry-${salt}-0123456789`];
const ECR_IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/kubeflow/metadata:v0.1.8';
const ENV = { ...SENTINELS, KFM_SECRETS_FROM: 'ssm:/kfm/prod', KFM_IMAGE: ECR_IMAGE, KFM_EKS_CLUSTER: 'kfm-cluster' };

let service: ScratchService;
let template: any;
let resources: Record<string, any>;
beforeAll(async () => {
  service = await scratchService();
  const packaged = await service.osls(['package'], ENV);
  if (packaged.code !== 0) throw new Error(`osls package failed (${packaged.code}):\n${packaged.stdout}\n${packaged.stderr}`);
  template = await service.template();
  resources = template.Resources;
}, 300_000);
afterAll(() => service?.remove());

const sub = (text: string) => ({ 'Fn::Sub': text });
const getAtt = (name: string) => ({ 'Fn::GetAtt': [name, 'Arn'] });
/** Statements with Fn::If resolved by the template's own (package-time constant) conditions. */
function statements(role: string): Array<{ Action: string[]; Resource: unknown }> {
  const holds = (name: string) => {
    const [a, b] = template.Conditions[name]['Fn::Equals'];
    return a === b;
  };
  const document = resources[role].Properties.Policies[0].PolicyDocument;
  return document.Statement
    .map((s: any) => (s['Fn::If'] ? (holds(s['Fn::If'][0]) ? s['Fn::If'][1] : undefined) : s))
    .filter(Boolean)
    .map((s: any) => { expect(s.Effect).toBe('Allow'); return { Action: s.Action, Resource: s.Resource }; });
}
const logs = (fn: string) => ({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: sub(`arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/kubeflow-metadata-deployer-dev-${fn}:*`) });
const parameters = (...names: string[]) => ({ Action: ['ssm:GetParameter', 'ssm:GetParameters'], Resource: names.map((n) => sub(`arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/kfm/prod/${n}`)) });
const describeCluster = { Action: ['eks:DescribeCluster'], Resource: sub('arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:cluster/kfm-cluster') };

it('the FIFO command queue: SSE, visibility 6× the worker timeout, redrive after MAX_RECEIVE_COUNT to a FIFO DLQ kept 14 days', () => {
  const queue = resources.CommandQueue.Properties;
  expect(queue).toMatchObject({ FifoQueue: true, ContentBasedDeduplication: true, SqsManagedSseEnabled: true, QueueName: 'kubeflow-metadata-deployer-dev.fifo' });
  expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * resources.WorkerLambdaFunction.Properties.Timeout);
  // The worker follows a rollout to its verdict: the default progress deadline (300 s) plus a minute.
  expect(resources.WorkerLambdaFunction.Properties.Timeout).toBe(360);
  expect(queue.RedrivePolicy).toEqual({ deadLetterTargetArn: getAtt('DeadLetterQueue'), maxReceiveCount: MAX_RECEIVE_COUNT });
  expect(resources.DeadLetterQueue.Properties).toMatchObject({ FifoQueue: true, SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
});

it('an alarm as soon as one message is in the dead-letter queue', () => {
  expect(resources.DeadLetterAlarm.Properties).toMatchObject({
    Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold',
    Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['DeadLetterQueue', 'QueueName'] } }],
  });
});

it("the ECR rule matches pushes to KFM_IMAGE's repository only, and it and the schedule target the queue with the workload's group", () => {
  const rule = resources.EcrPushRule;
  expect(template.Conditions[rule.Condition]).toEqual({ 'Fn::Equals': ['true', 'true'] });
  expect(rule.Properties.EventPattern).toEqual({
    source: ['aws.ecr'], 'detail-type': ['ECR Image Action'], account: ['123456789012'], region: ['eu-west-1'],
    detail: { 'action-type': ['PUSH'], result: ['SUCCESS'], 'repository-name': ['kubeflow/metadata'] },
  });
  const target = { Id: 'command-queue', Arn: getAtt('CommandQueue'), SqsParameters: { MessageGroupId: 'kubeflow/kubeflow-metadata' } };
  expect(rule.Properties.Targets).toEqual([target]);
  expect(resources.RefreshSchedule.Properties).toMatchObject({ ScheduleExpression: 'rate(6 hours)', Targets: [target] });
  // Only these two rules of this stack may send to the queue.
  const [statement] = resources.CommandQueuePolicy.Properties.PolicyDocument.Statement;
  expect(statement).toMatchObject({ Principal: { Service: 'events.amazonaws.com' }, Action: 'sqs:SendMessage', Resource: getAtt('CommandQueue') });
  expect(statement.Condition.ArnEquals['aws:SourceArn']).toEqual([getAtt('RefreshSchedule'), { 'Fn::If': ['ImageOnEcr', getAtt('EcrPushRule'), { Ref: 'AWS::NoValue' }] }]);
});

it('the worker consumes the queue: batches of 10, ReportBatchItemFailures', () => {
  const mappings = Object.values(resources).filter((r: any) => r.Type === 'AWS::Lambda::EventSourceMapping');
  expect(mappings.map((m: any) => m.Properties)).toEqual([{
    BatchSize: 10, Enabled: true, EventSourceArn: getAtt('CommandQueue'), FunctionName: getAtt('WorkerLambdaFunction'), FunctionResponseTypes: ['ReportBatchItemFailures'],
  }]);
});

it('one role per function, each with exactly its own powers', () => {
  const roles = ['Intake', 'Worker', 'Status'].map((fn) => resources[`${fn}LambdaFunction`].Properties.Role);
  expect(roles).toEqual([getAtt('IntakeRole'), getAtt('WorkerRole'), getAtt('StatusRole')]);
  expect(Object.values(resources).filter((r: any) => r.Type === 'AWS::IAM::Role')).toHaveLength(3); // no shared default role
  expect(statements('IntakeRole')).toEqual([
    logs('intake'), { Action: ['sqs:SendMessage'], Resource: getAtt('CommandQueue') },
    parameters('KFM_WEBHOOK_SECRET', 'KFM_DOCKERHUB_TOKEN', 'KFM_QUAY_TOKEN', 'KFM_CONFIG_SECRET', 'KFM_CONTROL_SECRET'),
  ]);
  expect(statements('StatusRole')).toEqual([logs('status'), parameters('KFM_STATUS_TOKEN'), describeCluster]);
  expect(statements('WorkerRole')).toEqual([
    logs('worker'),
    { Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'], Resource: getAtt('CommandQueue') },
    { Action: ['sqs:SendMessage'], Resource: getAtt('CommandQueue') }, // a rollout check for a rollout that outlives the invocation
    parameters('KFM_REGISTRY_AUTH', 'KFM_NOTIFY_SLACK_URL', 'KFM_NOTIFY_WEBHOOK_SECRET'),
    { Action: ['ecr:GetAuthorizationToken'], Resource: '*' },
    { Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'], Resource: sub('arn:${AWS::Partition}:ecr:eu-west-1:123456789012:repository/kubeflow/metadata') },
    describeCluster,
  ]);
});

it('each function gets only the settings it reads, the queue URL for intake and the worker (its rollout checks), and no secret', () => {
  const env = (fn: string) => resources[`${fn}LambdaFunction`].Properties.Environment.Variables;
  const common = { KFM_NAMESPACE: 'kubeflow', KFM_APP: 'kubeflow-metadata', KFM_IMAGE: ECR_IMAGE, KFM_SECRETS_FROM: 'ssm:/kfm/prod', AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1' };
  expect(env('Intake')).toEqual({ ...common, KFM_QUEUE_URL: { Ref: 'CommandQueue' } });
  expect(env('Status')).toEqual({ ...common, KFM_TARGET: 'kubernetes', KFM_EKS_CLUSTER: 'kfm-cluster' });
  expect(env('Worker')).toEqual({ ...common, KFM_TARGET: 'kubernetes', KFM_REFRESH_HOURS: '6', KFM_EKS_CLUSTER: 'kfm-cluster', KFM_QUEUE_URL: { Ref: 'CommandQueue' } });
});

it('the HTTP API: the four routes, throttled, with access logs', () => {
  const routes = Object.values(resources).filter((r: any) => r.Type === 'AWS::ApiGatewayV2::Route').map((r: any) => r.Properties.RouteKey).sort();
  expect(routes).toEqual(['GET /status', 'POST /control', 'POST /webhooks/config', 'POST /webhooks/registry/{provider}']);
  const stage = resources.HttpApiStage.Properties;
  expect(stage.DefaultRouteSettings).toMatchObject({ ThrottlingRateLimit: expect.any(Number), ThrottlingBurstLimit: expect.any(Number) });
  expect(stage.AccessLogSettings.DestinationArn).toEqual({ 'Fn::GetAtt': ['HttpApiLogGroup', 'Arn'] });
  expect(stage.AccessLogSettings.Format).not.toMatch(/querystring|rawQueryString|headers/i); // ?token= must not be logged
});

it('no literal arn:aws: anywhere: every ARN is arn:${AWS::Partition}', () => {
  const text = JSON.stringify(template);
  expect(text.match(/arn:aws[\w-]*:[^"]*/g) ?? []).toEqual([]);
  expect(text).toContain('arn:${AWS::Partition}:ecr:');
});

it('no sentinel secret value anywhere under .serverless/, zips included (unzipped)', async () => {
  const folder = join(service.dir, '.serverless');
  const files = await readdir(folder);
  expect(files.filter((f) => f.endsWith('.zip')).sort()).toEqual(['intake.zip', 'status.zip', 'worker.zip']);
  const found: string[] = [];
  for (const file of files) {
    const path = join(folder, file);
    const text = file.endsWith('.zip')
      ? (await run('unzip', ['-p', path], { maxBuffer: 256 * 1024 * 1024 })).stdout
      : await readFile(path, 'utf8');
    expect(text.length).toBeGreaterThan(0);
    for (const secret of secretValues) for (const form of encodings(secret)) if (text.includes(form)) found.push(`${file}: ${secret.slice(0, 16)}…`);
  }
  expect(found).toEqual([]);
}, 60_000);

describe('deploy-time settings: the cold start schema, at package time', () => {
  it('an image outside ECR and a cluster with its endpoint and CA: no ECR rule, no ECR or EKS grants', async () => {
    const printed = await service.osls(['print', '--format', 'json'], {
      KFM_SECRETS_FROM: 'secretsmanager:kfm/prod', KFM_EKS_CLUSTER: 'c', KFM_EKS_ENDPOINT: 'https://eks.example', KFM_EKS_CA: 'Y2E=',
    });
    expect(printed.stderr).toBe('');
    const config = JSON.parse(printed.stdout);
    expect(config.resources.Conditions).toEqual({ ImageOnEcr: { 'Fn::Equals': ['false', 'true'] }, DescribeCluster: { 'Fn::Equals': ['false', 'true'] } });
    // Secrets Manager: one JSON secret (with AWS's 6-character suffix) for every function that reads one.
    expect(config.custom.vars.secrets).toEqual({
      actions: ['secretsmanager:GetSecretValue'],
      resources: Object.fromEntries(['intake', 'status', 'worker'].map((fn) => [fn, [sub('arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:kfm/prod-??????')]])),
    });
  }, 120_000);

  it.each([
    [{}, /KFM_SECRETS_FROM: a deployment reads its secrets from a store/],
    [{ KFM_SECRETS_FROM: 'ssm:/kfm', KFM_NAMESPACE: 'Not_A_Label' }, /invalid settings: KFM_NAMESPACE: must be a DNS-1123 label/],
    [{ KFM_SECRETS_FROM: 'ssm:/kfm', KFM_TAG_POLICY: 'semver:[[' }, /invalid settings: KFM_TAG_POLICY/],
    [{ KFM_SECRETS_FROM: 'ssm:/kfm', KFM_TARGET: 'dir:/tmp/x' }, /KFM_TARGET: a deployment needs "kubernetes"/],
    [{ KFM_SECRETS_FROM: 'ssm:/kfm', KFM_REFRESH_HOURS: '12' }, /KFM_REFRESH_HOURS: must be a whole number of hours from 1 to 11/],
  ])('osls refuses %j, naming the variable', async (env, message) => {
    const printed = await service.osls(['print'], { ...SENTINELS, ...env });
    expect(printed.code).not.toBe(0);
    expect(printed.stdout + printed.stderr).toMatch(message);
    for (const secret of secretValues) expect(printed.stdout + printed.stderr).not.toContain(secret);
  }, 120_000);

  it('every documented KFM_REFRESH_HOURS (1 to 11, default 6) renders a valid rate expression; others are refused', () => {
    const rate = (hours?: string) => vars.resolve({ KFM_SECRETS_FROM: 'ssm:/kfm', ...(hours === undefined ? {} : { KFM_REFRESH_HOURS: hours }) }).refreshSchedule;
    expect(rate()).toBe('rate(6 hours)');
    expect(rate('1')).toBe('rate(1 hour)'); // EventBridge refuses "rate(1 hours)"
    for (let hours = 2; hours <= 11; hours++) expect(rate(String(hours))).toBe(`rate(${hours} hours)`);
    for (const bad of ['0', '12', '24', '1.5', '06', '6 hours', '-1']) expect(() => rate(bad)).toThrow(/KFM_REFRESH_HOURS/);
  });
});
