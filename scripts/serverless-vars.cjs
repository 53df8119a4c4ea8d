// The deploy-time settings of serverless.yml (`${file(./scripts/serverless-vars.cjs):<key>}`): the
// same zod schema as the cold start validates the environment, so `osls package` and `osls deploy`
// stop with the cold start's message (naming the variable) instead of deploying a broken function.
// From the validated settings it derives what the template needs: each function's environment (only
// what it reads, never a secret value), the secret-store ARNs each function may read, the ECR
// repository of KFM_IMAGE (the EventBridge filter and the worker's pull grants), the refresh schedule.
//
// Why esbuild and not a copy of the rules: the loader is TypeScript (ESM) and a .cjs resolver cannot
// import it, but esbuild (already the packaging's bundler) builds it in memory in ~100 ms; a second
// copy of the image and host grammar here could disagree with the functions' own.
const { buildSync } = require('esbuild');
const { join } = require('node:path');
const Module = require('node:module');

const root = join(__dirname, '..');

/** The secrets each function reads from KFM_SECRETS_FROM (DESIGN §5: one credential per power). */
const SECRETS = {
  intake: ['KFM_WEBHOOK_SECRET', 'KFM_DOCKERHUB_TOKEN', 'KFM_QUAY_TOKEN', 'KFM_CONFIG_SECRET', 'KFM_CONTROL_SECRET'],
  status: ['KFM_STATUS_TOKEN'],
  worker: ['KFM_REGISTRY_AUTH', 'KFM_NOTIFY_SLACK_URL', 'KFM_NOTIFY_WEBHOOK_SECRET'],
};
const SECRET_NAMES = new Set(Object.values(SECRETS).flat());
/** Settings passed through when set (the loader's defaults apply otherwise), per function. */
const WORKLOAD = ['KFM_TAG_POLICY'];
const CLUSTER = ['KFM_EKS_CLUSTER', 'KFM_EKS_ENDPOINT', 'KFM_EKS_CA'];
const POD = ['KFM_RUN_AS_USER', 'KFM_RUN_AS_GROUP', 'KFM_CPU_REQUEST', 'KFM_MEMORY_REQUEST', 'KFM_MEMORY_LIMIT'];
const ROLLOUT = ['KFM_PROGRESS_DEADLINE_SECONDS', 'KFM_ROLLOUT_CHECK_SECONDS', 'KFM_REVERT', 'KFM_NOTIFY_WEBHOOK_URL'];
const PASSED = {
  intake: WORKLOAD,
  status: [...WORKLOAD, ...CLUSTER],
  worker: [...WORKLOAD, ...CLUSTER, ...POD, ...ROLLOUT, 'KFM_SET_STATUS'],
};
/** Every documented KFM_REFRESH_HOURS: ECR tokens last 12 h, so a refresh must come sooner. */
const REFRESH_HOURS = /^(?:[1-9]|1[01])$/;

class DeploySettingsError extends Error {
  constructor(message) {
    super(message);
    this.name = 'SettingsError';
    this.stack = `${this.name}: ${message}`; // osls prints the stack: the message is the whole story
  }
}

/** src/settings/settings.ts (and the ECR host grammar), bundled in memory and loaded as CommonJS. */
function loadSource() {
  const { outputFiles } = buildSync({
    stdin: {
      contents: "export { loadSettings } from './src/settings/settings.ts';\nexport { ECR_HOST } from './src/image/reference.ts';",
      resolveDir: root,
      loader: 'ts',
      sourcefile: 'serverless-vars-entry.ts',
    },
    bundle: true, platform: 'node', format: 'cjs', target: 'node20', write: false, logLevel: 'silent',
  });
  const module = new Module(join(root, 'serverless-vars-bundle.cjs'));
  module.paths = Module._nodeModulePaths(root);
  module._compile(outputFiles[0].text, module.id);
  const { loadSettings, ECR_HOST } = module.exports;
  // A moved export must stop the package here, not render a template without the ECR grants.
  if (typeof loadSettings !== 'function' || typeof ECR_HOST?.exec !== 'function') { // not instanceof: jest runs tests in another realm
    throw new Error('scripts/serverless-vars.cjs: src/settings/settings.ts must export loadSettings and src/image/reference.ts ECR_HOST');
  }
  return { loadSettings, ECR_HOST };
}

/** `ssm:/prefix` or `secretsmanager:<name or ARN>` → the actions and resource ARNs per function. */
function secretGrants(from) {
  const fail = (reason) => { throw new DeploySettingsError(`invalid settings: KFM_SECRETS_FROM: ${reason}`); };
  if (!from || from === 'env') {
    fail('a deployment reads its secrets from a store: set "ssm:/<path prefix>" or "secretsmanager:<secret id>" (the template never holds a secret value; "env" is for local runs)');
  }
  const sub = (arn) => ({ 'Fn::Sub': arn });
  if (from.startsWith('ssm:')) {
    const prefix = from.slice(4).replace(/\/+$/, '');
    if (!/^(\/[\w.-]+)+$/.test(prefix)) fail('ssm: needs a path prefix like "ssm:/kubeflow-metadata-deployer/prod"');
    const arns = (names) => names.map((name) => sub(`arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${prefix}/${name}`));
    return { actions: ['ssm:GetParameter', 'ssm:GetParameters'], resources: Object.fromEntries(Object.entries(SECRETS).map(([fn, names]) => [fn, arns(names)])) };
  }
  if (from.startsWith('secretsmanager:')) {
    const id = from.slice('secretsmanager:'.length);
    let arn;
    if (/^arn:[\w-]+:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$/.test(id)) arn = id.replace(/^arn:[\w-]+:/, 'arn:${AWS::Partition}:');
    else if (/^[\w/+=.@-]{1,512}$/.test(id)) arn = `arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${id}-??????`; // the 6-character suffix AWS adds
    else fail('secretsmanager: needs a secret name or ARN');
    // One JSON secret holds every key: each function that needs a key can read the whole secret.
    return { actions: ['secretsmanager:GetSecretValue'], resources: Object.fromEntries(Object.keys(SECRETS).map((fn) => [fn, [sub(arn)]])) };
  }
  return fail('must be "ssm:/<path prefix>" or "secretsmanager:<secret id>"');
}

function resolve(env) {
  const { loadSettings, ECR_HOST } = loadSource();
  // Secrets are not read at package time (they live in the store), so none can reach an error message.
  const settingsEnv = Object.fromEntries(Object.entries(env).filter(([name]) => !SECRET_NAMES.has(name)));
  settingsEnv.KFM_TARGET ??= 'kubernetes';
  let settings;
  try {
    settings = loadSettings(settingsEnv);
  } catch (error) {
    throw new DeploySettingsError(error.message);
  }
  if (settings.target.kind !== 'kubernetes') {
    throw new DeploySettingsError(`invalid settings: KFM_TARGET: a deployment needs "kubernetes" (a Lambda's file system does not keep a dir: target)`);
  }
  // The loader's own value once it reads KFM_REFRESH_HOURS (the worker's token margin needs it too).
  const refreshHours = settings.refreshHours !== undefined ? String(settings.refreshHours) : env.KFM_REFRESH_HOURS || '6';
  if (!REFRESH_HOURS.test(refreshHours)) {
    throw new DeploySettingsError(`invalid settings: KFM_REFRESH_HOURS: must be a whole number of hours from 1 to 11 (ECR tokens last 12 hours), not "${String(refreshHours).slice(0, 20)}"`);
  }
  const { image, namespace, app, eks } = settings;
  const ecr = ECR_HOST.exec(image.registry);
  const pick = (names) => Object.fromEntries(names.filter((name) => env[name]).map((name) => [name, env[name]]));
  const common = {
    KFM_NAMESPACE: namespace,
    KFM_APP: app,
    KFM_IMAGE: `${image.registry}/${image.repository}:${image.tag}`,
    KFM_SECRETS_FROM: env.KFM_SECRETS_FROM,
    AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
  };
  const secrets = secretGrants(env.KFM_SECRETS_FROM);
  // The worker follows a rollout to its verdict in one invocation when it can: the progress deadline
  // plus a minute, within Lambda's 15; the queue's visibility timeout is 6× it (AWS guidance).
  const workerTimeout = Math.min(900, settings.pod.progressDeadlineSeconds + 60);
  return {
    workerTimeout,
    visibilityTimeout: 6 * workerTimeout,
    messageGroupId: `${namespace}/${app}`, // the port's groupId: the workload
    refreshSchedule: refreshHours === '1' ? 'rate(1 hour)' : `rate(${refreshHours} hours)`,
    image: {
      onEcr: ecr ? 'true' : 'false',
      // ECR publishes push events in the repository's own account and region.
      ecrAccount: ecr ? ecr[1] : '000000000000',
      ecrRegion: ecr ? ecr[3] : 'none',
      repository: image.repository,
      repositoryArn: { 'Fn::Sub': `arn:\${AWS::Partition}:ecr:${ecr ? ecr[3] : 'none'}:${ecr ? ecr[1] : '000000000000'}:repository/${image.repository}` },
    },
    // Only without an endpoint and CA does the connection call eks:DescribeCluster (src/targets/kubernetes/eks.ts).
    describeCluster: eks && !(eks.endpoint && eks.caData) ? 'true' : 'false',
    clusterArn: { 'Fn::Sub': `arn:\${AWS::Partition}:eks:\${AWS::Region}:\${AWS::AccountId}:cluster/${eks ? eks.cluster : 'none'}` },
    secrets,
    environment: {
      intake: { ...common, KFM_QUEUE_URL: { Ref: 'CommandQueue' }, ...pick(PASSED.intake) },
      status: { ...common, KFM_TARGET: 'kubernetes', ...pick(PASSED.status) },
      // The queue too: a rollout that outlives the invocation gets a check message in its group.
      worker: { ...common, KFM_TARGET: 'kubernetes', KFM_REFRESH_HOURS: refreshHours, KFM_QUEUE_URL: { Ref: 'CommandQueue' }, ...pick(PASSED.worker) },
    },
  };
}

let resolved;
/** osls calls this for every `${file(...)}` reference: resolve (and validate) once per run. */
module.exports = async () => (resolved ??= resolve(process.env));
module.exports.resolve = resolve; // for tests: another environment than the process's
module.exports.SECRETS = SECRETS;
