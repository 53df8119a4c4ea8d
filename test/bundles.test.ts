// The Lambda artifacts themselves: the three handlers bundled the way
// serverless-esbuild bundles them (esbuild.options.cjs, with its lazy chunks and
// on-use stand-ins), built outside the repository so that no node_modules can
// fill a gap, and every invocation in a fresh node process, as Lambda runs it.
import { execFile } from 'node:child_process';
import { builtinModules } from 'node:module';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { startKubeDouble, type KubeDouble } from './support/kube-double.js';
import { ECR_PASSWORD, startAwsStandIn, type AwsStandIn } from './support/aws-stand-in.js';
import { observe, watchSecrets } from './support/leak-guard.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const SECRET = 'local-dev-secret-0123456789'; // what the sample events carry
watchSecrets(SECRET, 'sample-mysql-password', 'bundle-test-secret-access-key', ECR_PASSWORD);
const events = (name: string) => join(root, 'events', name);

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

interface Outcome {
  answer?: { statusCode: number; body: string };
  loadError?: string;
  handlerError?: string;
}

let calls = 0;
/** One event through one bundled handler, in a fresh process with only the given environment. */
async function invoke(handler: 'push' | 'config' | 'status', eventFile: string, env: Record<string, string>): Promise<Outcome & { body: any }> {
  const result = join(work, `result-${(calls += 1)}.json`);
  const { stdout } = await run(process.execPath, [join(root, 'test', 'support', 'invoke-bundle.cjs'), join(dist, `${handler}.cjs`), eventFile, result], {
    cwd: work,
    env: { PATH: process.env.PATH ?? '', HOME: work, AWS_EC2_METADATA_DISABLED: 'true', KFM_WEBHOOK_SECRET: SECRET, ...env },
  });
  observe(`the ${handler} bundle's log`, stdout);
  const outcome = JSON.parse(await readFile(result, 'utf8')) as Outcome;
  observe(`the ${handler} bundle's answer`, JSON.stringify(outcome));
  return { ...outcome, body: outcome.answer ? JSON.parse(outcome.answer.body) : undefined };
}

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

describe('on the directory target', () => {
  let target: string;
  const env = () => ({ KFM_TARGET: `dir:${target}`, KFM_OFFLINE: 'true' });
  beforeAll(async () => {
    target = join(work, 'kfm');
  });

  it('config, push and status end active, with YAML files another parser reads', async () => {
    expect((await invoke('config', events('config.json'), env())).answer?.statusCode).toBe(200);
    const push = await invoke('push', events('push-distribution.json'), env());
    expect(push.answer?.statusCode).toBe(200);
    const status = await invoke('status', events('status.json'), env());
    expect(status.body.status.state).toBe('active');
    const folder = join(target, 'kubeflow');
    const deployment = parse(await readFile(join(folder, 'deployment-kubeflow-metadata.yaml'), 'utf8'));
    expect(deployment.spec.template.spec.containers[0].image).toMatch(/@sha256:[0-9a-f]{64}$/);
    const state = parse(await readFile(join(folder, 'configmap-kubeflow-metadata-deployer-state.yaml'), 'utf8'));
    expect(JSON.parse(state.data['state.json']).flags).toContain('charm.started');
  });

  it('a redelivered push reads the files back (the YAML parser chunk) and writes nothing', async () => {
    const again = await invoke('push', events('push-distribution.json'), env());
    expect(again.answer?.statusCode).toBe(202);
    expect(again.body.changes.filter((change: { outcome: string }) => change.outcome !== 'unchanged')).toEqual([]);
  });

  it('a semver tag policy loads semver on first use; a bad range stops the cold start naming the variable', async () => {
    const fresh = (name: string) => ({ KFM_TARGET: `dir:${join(work, name)}`, KFM_OFFLINE: 'true' });
    const inRange = await invoke('push', events('push-distribution.json'), { ...fresh('semver-in'), KFM_TAG_POLICY: 'semver:^0.1' });
    expect(inRange.answer?.statusCode).toBe(200);
    const outOfRange = await invoke('push', events('push-distribution.json'), { ...fresh('semver-out'), KFM_TAG_POLICY: 'semver:>=9' });
    expect(outOfRange.answer?.statusCode).toBe(202);
    expect(JSON.stringify(outOfRange.body)).toContain('tag outside the policy');
    const bad = await invoke('push', events('push-distribution.json'), { ...fresh('semver-bad'), KFM_TAG_POLICY: 'semver:[[' });
    expect(bad.loadError).toMatch(/KFM_TAG_POLICY/);
  });
});

describe('on the Kubernetes target (the double)', () => {
  let double: KubeDouble;
  let kubeconfig: string;
  beforeAll(async () => {
    double = await startKubeDouble();
    kubeconfig = join(work, 'kubeconfig');
    await writeFile(kubeconfig, double.kubeconfig());
  });
  afterAll(async () => {
    await double.stop();
  });

  it('a config event creates the objects through the kubeconfig connection, and status reads them', async () => {
    const env = { KFM_TARGET: 'kubernetes', KUBECONFIG: kubeconfig };
    const config = await invoke('config', events('config.json'), env);
    expect(config.answer?.statusCode).toBe(200);
    expect(config.body.changes.map((change: { kind: string }) => change.kind)).toContain('ConfigMap');
    const status = await invoke('status', events('status.json'), env);
    expect(status.answer?.statusCode).toBe(200);
    expect(status.body.config).toEqual({ port: 8080, 'database-name': 'metadb' });
  });

  it("a kubeconfig proxy-url reaches the socks agent through its stand-in (an unreachable proxy is a 5xx naming the proxy's refusal)", async () => {
    const proxied = join(work, 'kubeconfig-socks');
    const config = parse(double.kubeconfig());
    config.clusters[0].cluster['proxy-url'] = 'socks5://127.0.0.1:9'; // nothing listens on the discard port
    await writeFile(proxied, stringify(config));
    const status = await invoke('status', events('status.json'), { KFM_TARGET: 'kubernetes', KUBECONFIG: proxied });
    expect(status.loadError ?? status.handlerError).toBeUndefined();
    expect(status.answer?.statusCode).toBeGreaterThanOrEqual(500);
    // Refused by the proxy's port, not by the API server's: the request went through the socks agent.
    expect(JSON.parse(status.answer!.body).error).toMatch(/ConfigMap .* failed: connect ECONNREFUSED 127\.0\.0\.1:9$/);
  });
});

describe('the AWS paths of the bundled chunks, against a local HTTPS stand-in for AWS and the API server', () => {
  let aws: AwsStandIn;
  const seen = () => aws.requests;
  const ACCESS_KEY = 'AKIDBUNDLETEST';
  beforeAll(async () => {
    aws = await startAwsStandIn();
  });
  afterAll(() => aws.stop());
  beforeEach(() => void aws.requests.splice(0));

  /** Runs `script` in a fresh node; it prints JSON. Credentials in the environment unless `credentials` is false. */
  async function node(script: string, credentials = true): Promise<any> {
    const { stdout } = await run(process.execPath, ['-e', script], {
      cwd: work,
      env: {
        PATH: process.env.PATH ?? '', HOME: work, AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'eu-west-1', ...aws.awsEnv(),
        ...(credentials ? { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: 'bundle-test-secret-access-key' } : {}),
      },
    });
    return JSON.parse(stdout);
  }
  /** A read through the bundled Kubernetes chunk with these EKS settings; also which chunks were loaded. */
  const readThroughEks = (eks: Record<string, string>) => `
    const { createKubernetesTargetFromSettings } = require(${JSON.stringify(join(dist, 'kfm-kubernetes.cjs'))});
    const loaded = () => Object.keys(require.cache).map((file) => file.split('/').pop()).filter((file) => file.startsWith('kfm-')).sort();
    createKubernetesTargetFromSettings({ namespace: 'kubeflow', eks: ${JSON.stringify({ cluster: 'kfm-test', region: 'eu-west-1', ...eks })} }, () => 10000)
      .then((target) => target.read({ kind: 'ConfigMap', name: 'kubeflow-metadata-deployer-state' }))
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

it('the chunks only some paths load (EKS, ECR, OIDC, cloud auth) load on their own and export what the stand-ins call', async () => {
  const probe = `
    const at = (file) => require(${JSON.stringify(dist)} + '/' + file);
    const checks = {
      eks: typeof at('kfm-eks.cjs').connectEks,
      ecr: typeof at('kfm-aws-ecr.cjs').ECRClient,
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
    eks: 'function', ecr: 'function', aws: 'function,function,function', oidc: 'function,function', jsonpath: '7', socks: 'function', yaml: 'a: 1', semver: 'true',
  });
});

it('each Lambda package (osls package) carries its handler and every chunk, and no local state', async () => {
  const out = join(work, 'package');
  await run(join(root, 'node_modules', '.bin', 'osls'), ['package', '--package', out], {
    cwd: root, env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' }, timeout: 120_000,
  });
  const chunks = (await readdir(dist)).filter((file) => file.startsWith('kfm-')).sort();
  expect(chunks.length).toBeGreaterThanOrEqual(8);
  for (const handler of ['push', 'config', 'status']) {
    const { stdout } = await run('unzip', ['-Z1', join(out, `${handler}.zip`)]);
    const entries = stdout.split('\n').filter(Boolean);
    expect(entries).toContain(`handlers/${handler}.cjs`);
    expect(entries.filter((entry) => entry.startsWith('handlers/kfm-')).map((entry) => entry.slice('handlers/'.length)).sort()).toEqual(chunks);
    expect(entries.filter((entry) => !entry.startsWith('handlers/'))).toEqual([]); // no .kfm/, src/, node_modules/
  }
}, 120_000);
