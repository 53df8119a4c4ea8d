// A real Kubernetes control plane for the tests and for `npm run cluster`: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler of one release, plus kwok with one fake node, so Deployments
// really roll out and report Available. Binaries come from scripts/test-peers/build-control-plane.sh
// (cache ~/.cache/kfm-test-peers, or KFM_PEERS_CACHE); a missing one is an error, never a skip.
//
// STABLE API (other suites build on it; extend, don't rename):
//   const cp = await startControlPlane({ stateDir?, persistent? });
//   cp.server                 https://127.0.0.1:<port>
//   cp.adminKubeconfig        path; CN=kubernetes-admin, O=system:masters
//   cp.deployerKubeconfig     path; CN=O=kubeflow-metadata-deployer (what deploy/rbac.yaml binds), namespace kubeflow
//   cp.caFile, cp.pki         the test CA (pki: every key pair, for proxies that need a client cert)
//   cp.kubectl(args, { as?: 'admin'|'deployer', input? })      → { stdout, stderr, code } (never throws)
//   cp.request(method, path, { as?, body?, contentType? })      → { status, body, headers } (raw HTTPS)
//   cp.applyDeployerRbac()    creates namespace kubeflow, then `kubectl apply -f deploy/rbac.yaml`
//   cp.auditEntries()         every audit event so far (after a marker request proves the log caught up)
//   cp.writeRequests(user?)   create/update/patch/delete(collection) events at ResponseComplete, of `user`
//                             (default the deployer), whatever their answer (a refused write is still a write)
//   cp.createStage(stage)     server-side applies a kwok.x-k8s.io/v1alpha1 Stage (YAML/JSON text or an object);
//                             kwok watches Stages, so it applies to pods from then on
//   cp.pids, cp.startupMs, cp.stateDir;  cp.stop() kills exactly cp.pids and waits for them to exit
//   kubectlPath(), peerBinDir(): the kubectl and binaries the tests use (never the machine's own)
// The audit policy logs every request of non-system users (Metadata; Deployment writes at RequestResponse,
// so the images a Deployment went through can be read back) and nothing of the control plane's own parts.
//
// kwok runs with --enable-crds=Stage: its stages are Stage objects (the CRD and kwok's default "fast" stage
// files come from the peer cache's kwok-<version>/crd and /stages), so a test can add its own; its --config
// is an empty file (kwok refuses stages from both a config and the CRD; empty also keeps ~/.kwok/kwok.yaml out).
//
// One control plane per test file (not a jest globalSetup): files use the same fixed names (namespace
// kubeflow, the objects rbac.yaml names), so sharing would mix their objects and audit counts. Startup
// is ~3 s on an idle 2-core machine; jest runs one worker per spare core. In tests the children stay in jest's process group (a
// Ctrl-C takes them down too) and are killed when the worker exits; `persistent` (npm run cluster) starts
// them detached so they outlive the command.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { createPki, writeKubeconfig, DEPLOYER_USER, type Identity, type Pki } from './control-plane-pki.js';

export { DEPLOYER_USER, DEPLOYER_GROUP, ADMIN_USER, issueCertificate, type Pki } from './control-plane-pki.js';
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FAKE_NODE = 'kwok-node-0';

export interface AuditEvent {
  auditID: string; stage: string; verb: string; requestURI: string; level: string;
  user: { username: string; groups?: string[] };
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; subresource?: string };
  responseStatus?: { code?: number };
  requestObject?: unknown; responseObject?: unknown; userAgent?: string; annotations?: Record<string, string>;
}
export interface ExecResult { stdout: string; stderr: string; code: number }
export interface HttpResult { status: number; body: any; headers: Record<string, string | string[] | undefined> }
type As = 'admin' | 'deployer';

export interface ControlPlane {
  server: string; stateDir: string; adminKubeconfig: string; deployerKubeconfig: string; caFile: string; pki: Pki;
  pids: number[]; startupMs: number;
  kubectl(args: string[], opts?: { as?: As; input?: string }): Promise<ExecResult>;
  request(method: string, path: string, opts?: { as?: As; body?: unknown; contentType?: string }): Promise<HttpResult>;
  applyDeployerRbac(): Promise<void>;
  auditEntries(): Promise<AuditEvent[]>;
  writeRequests(user?: string): Promise<AuditEvent[]>;
  createStage(stage: string | object): Promise<void>;
  stop(): Promise<void>;
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
const INSTALL_HINT = 'run `bash scripts/install-test-peers.sh`';

function versions(): Record<string, string> {
  const text = readFileSync(join(REPO_ROOT, 'scripts/test-peers/versions.env'), 'utf8');
  return Object.fromEntries([...text.matchAll(/^(KFM_\w+)=(\S+)/gm)].map((m) => [m[1], m[2]]));
}
export const peersCache = (): string => process.env.KFM_PEERS_CACHE ?? join(homedir(), '.cache', 'kfm-test-peers');
/** The directory holding kube-apiserver, kube-controller-manager, kube-scheduler and kubectl. */
export const peerBinDir = (): string => join(peersCache(), `k8s-${versions().KFM_K8S_VERSION}`, 'bin');
function binary(path: string): string {
  if (!existsSync(path)) throw new Error(`test control plane: ${path} is missing: ${INSTALL_HINT}`);
  return path;
}
export const kubectlPath = (): string => binary(join(peerBinDir(), 'kubectl'));
function binaries() {
  const v = versions();
  const kwok = join(peersCache(), `kwok-${v.KFM_KWOK_VERSION}`);
  return {
    etcd: binary(join(peersCache(), `etcd-${v.KFM_ETCD_VERSION}`, 'bin', 'etcd')),
    apiserver: binary(join(peerBinDir(), 'kube-apiserver')),
    controllerManager: binary(join(peerBinDir(), 'kube-controller-manager')),
    scheduler: binary(join(peerBinDir(), 'kube-scheduler')),
    kubectl: kubectlPath(), kwok: binary(join(kwok, 'bin', 'kwok')), kwokStages: binary(join(kwok, 'stages')),
    kwokStageCrd: binary(join(kwok, 'crd', 'kwok.x-k8s.io_stages.yaml')),
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
omitManagedFields: true
rules:
- level: None
  users: [system:kube-controller-manager, system:kube-scheduler, kwok, system:apiserver]
- level: None
  userGroups: [system:nodes, system:serviceaccounts:kube-system]
- level: RequestResponse
  verbs: [create, update, patch, delete]
  resources: [{group: apps, resources: [deployments]}]
- level: Metadata
`;

/** Runs `bin` with its output in logs/<name>.log; in tests it dies with the jest worker. */
function launch(stateDir: string, name: string, bin: string, args: string[], persistent: boolean): ChildProcess {
  const fd = openSync(join(stateDir, 'logs', `${name}.log`), 'a');
  const child = spawn(bin, args, { detached: persistent, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (persistent) child.unref();
  return child;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DEFAULT_STAGES = ['node-initialize', 'node-heartbeat-with-lease', 'pod-ready', 'pod-complete', 'pod-delete'];
const STAGE_CRD = 'stages.kwok.x-k8s.io';
/** Server-side apply: creates or updates, so a persistent state dir's second start is no conflict. */
const APPLY = '?fieldManager=kfm-test-control-plane&force=true';

export interface StartOptions {
  /** Where certificates, kubeconfigs, etcd data, the audit log and logs go (default: a temp dir that stop() removes). */
  stateDir?: string;
  /** Detached children that outlive this process (npm run cluster); default false (tests). */
  persistent?: boolean;
}

export async function startControlPlane(options: StartOptions = {}): Promise<ControlPlane> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      // Ports are picked free before the components bind them: another process may take one meanwhile.
      if (attempt >= 3 || !/address already in use/.test((error as Error).message)) throw error;
      if (options.stateDir) await rm(join(options.stateDir, 'etcd'), { recursive: true, force: true });
    }
  }
}

async function startOnce(options: StartOptions): Promise<ControlPlane> {
  const t0 = Date.now();
  const bin = binaries();
  const persistent = options.persistent ?? false;
  const ownDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? await mkdtemp(join(tmpdir(), 'kfm-cp-'));
  await mkdir(join(stateDir, 'logs'), { recursive: true });
  const [pki, etcdPort, peerPort, apiPort, kwokPort] = await Promise.all([createPki(stateDir), freePort(), freePort(), freePort(), freePort()]);
  const server = `https://127.0.0.1:${apiPort}`;
  const file = (name: string) => join(stateDir, name);
  const [stageCrd, ...defaultStages] = await Promise.all([bin.kwokStageCrd, ...DEFAULT_STAGES.map((s) => join(bin.kwokStages, `${s}.yaml`))]
    .map(async (path) => parseYaml(await readFile(path, 'utf8')) as { metadata: { name: string } }));
  const [adminKubeconfig, deployerKubeconfig, ...componentConfigs] = await Promise.all([
    writeKubeconfig(file('admin.kubeconfig'), server, pki, 'admin'),
    writeKubeconfig(file('deployer.kubeconfig'), server, pki, 'deployer', 'kubeflow'),
    ...(['controller-manager', 'scheduler', 'kwok'] as const).map((id) => writeKubeconfig(file(`${id}.kubeconfig`), server, pki, id)),
    writeFile(file('audit-policy.yaml'), AUDIT_POLICY), writeFile(file('kwok.yaml'), ''),
  ]);
  const [cmConfig, schedulerConfig, kwokConfig] = componentConfigs as string[];
  const children: Array<[string, ChildProcess]> = [];
  const start = (name: string, path: string, args: string[]) => void children.push([name, launch(stateDir, name, path, args, persistent)]);
  const logTail = (name: string) => { try { return readFileSync(join(stateDir, 'logs', `${name}.log`), 'utf8').slice(-2000); } catch { return ''; } };
  const exitHook = () => { for (const [, c] of children) try { c.kill('SIGKILL'); } catch { /* already gone */ } };
  if (!persistent) process.once('exit', exitHook);

  const request = (method: string, path: string, opts: { as?: As | Identity; body?: unknown; contentType?: string } = {}) =>
    new Promise<HttpResult>((done, fail) => {
      const pair = pki.client[opts.as ?? 'admin'];
      const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      const req = httpsRequest(`${server}${path}`, {
        method, ca: readFileSync(pki.caFile), cert: readFileSync(pair.certFile), key: readFileSync(pair.keyFile), agent: false,
        headers: payload === undefined ? {} : { 'content-type': opts.contentType ?? 'application/json' },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try { body = JSON.parse(text); } catch { /* not JSON (readyz says "ok") */ }
          done({ status: res.statusCode ?? 0, body, headers: res.headers });
        });
      });
      req.on('error', fail).setTimeout(10_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.end(payload);
    });

  /** Polls `check` until it answers true; a component that exits meanwhile fails the start with its log. */
  async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(100)) {
      const dead = children.find(([, c]) => c.exitCode !== null || c.signalCode !== null);
      if (dead) throw new Error(`test control plane: ${dead[0]} exited while waiting for ${what}:\n${logTail(dead[0])}`);
      if (await check().catch(() => false)) return;
    }
    throw new Error(`test control plane: ${what} not reached in ${timeoutMs} ms (logs in ${join(stateDir, 'logs')})\n${logTail('kube-apiserver')}`);
  }

  const apply = async (what: string, path: string, body: unknown) => {
    const res = await request('PATCH', `${path}${APPLY}`, { body, contentType: 'application/apply-patch+yaml' });
    if (res.status !== 200 && res.status !== 201) throw new Error(`test control plane: applying ${what}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  const stagePath = (name: string) => `/apis/kwok.x-k8s.io/v1alpha1/stages/${encodeURIComponent(name)}`;
  async function createStage(stage: string | object): Promise<void> {
    const object = (typeof stage === 'string' ? parseYaml(stage) : stage) as { metadata?: { name?: string } };
    const name = object?.metadata?.name;
    if (!name) throw new Error('createStage: the Stage has no metadata.name');
    await apply(`Stage ${name}`, stagePath(name), object);
  }

  async function stop(): Promise<void> {
    process.off('exit', exitHook);
    // Reverse start order: clients first, etcd last, so nothing logs errors about a vanished server.
    for (const [, child] of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (ownDir) await rm(stateDir, { recursive: true, force: true });
  }

  try {
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    // The API server retries etcd until it answers, so both start at once.
    start('etcd', bin.etcd, ['--name=kfm', `--data-dir=${file('etcd')}`, `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`, `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=kfm=${peerUrl}`, '--unsafe-no-fsync', '--log-level=warn']);
    start('kube-apiserver', bin.apiserver, [`--etcd-servers=${etcdUrl}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`, `--cert-dir=${file('apiserver')}`, `--tls-cert-file=${pki.serving.certFile}`,
      `--tls-private-key-file=${pki.serving.keyFile}`, `--client-ca-file=${pki.caFile}`, '--authorization-mode=Node,RBAC',
      `--service-account-issuer=${server}`, `--service-account-key-file=${pki.serviceAccountPublicKeyFile}`,
      `--service-account-signing-key-file=${pki.serviceAccountKeyFile}`, '--service-cluster-ip-range=10.96.0.0/12',
      '--allow-privileged=true', `--audit-policy-file=${file('audit-policy.yaml')}`, `--audit-log-path=${file('audit.log')}`,
      '--profiling=false']);
    // The others only after /readyz: the controller-manager gives up (exits) when the API server is not
    // healthy within its own short wait, which a loaded machine exceeds.
    await until('kube-apiserver /readyz', async () => (await request('GET', '/readyz')).status === 200);
    start('kube-controller-manager', bin.controllerManager, [`--kubeconfig=${cmConfig}`, '--leader-elect=false', '--secure-port=0',
      `--service-account-private-key-file=${pki.serviceAccountKeyFile}`, `--root-ca-file=${pki.caFile}`]);
    start('kube-scheduler', bin.scheduler, [`--kubeconfig=${schedulerConfig}`, '--leader-elect=false', '--secure-port=0']);
    // The kwok Stage CRD, then kwok's default Stages as objects.
    const crdPath = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${STAGE_CRD}`;
    await apply('the kwok Stage CRD', crdPath, stageCrd);
    await until(`CRD ${STAGE_CRD} Established`, async () =>
      ((await request('GET', crdPath)).body?.status?.conditions ?? []).some((c: any) => c.type === 'Established' && c.status === 'True'));
    // Established can precede the resource being served for a moment (a 404 then): retried.
    await until('the default kwok Stages', async () => { for (const stage of defaultStages) await createStage(stage); return true; });
    // kwok only once its Stages exist: started earlier it would find none.
    start('kwok', bin.kwok, [`--kubeconfig=${kwokConfig}`, '--enable-crds=Stage', `--config=${file('kwok.yaml')}`,
      '--manage-all-nodes=false', '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--node-lease-duration-seconds=40', `--server-address=127.0.0.1:${kwokPort}`, '--cidr=10.244.0.0/16']);
    const node = await request('POST', '/api/v1/nodes', { body: {
      apiVersion: 'v1', kind: 'Node',
      metadata: { name: FAKE_NODE, annotations: { 'kwok.x-k8s.io/node': 'fake' },
        labels: { 'kubernetes.io/hostname': FAKE_NODE, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' } },
      status: { allocatable: { cpu: '32', memory: '256Gi', pods: '110' }, capacity: { cpu: '32', memory: '256Gi', pods: '110' } },
    } });
    if (node.status !== 201 && node.status !== 409) throw new Error(`test control plane: creating the fake node: ${node.status} ${JSON.stringify(node.body)}`);
    await until(`node ${FAKE_NODE} Ready`, async () => {
      const { body } = await request('GET', `/api/v1/nodes/${FAKE_NODE}`);
      return (body?.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const pids = children.map(([, c]) => c.pid as number);
  await writeFile(file('control-plane.json'), JSON.stringify({ server, pids, names: children.map(([n]) => n),
    adminKubeconfig, deployerKubeconfig, caFile: pki.caFile }, null, 2));

  const kubectl = (args: string[], opts: { as?: As; input?: string } = {}) => new Promise<ExecResult>((done, fail) => {
    const kubeconfig = opts.as === 'deployer' ? deployerKubeconfig : adminKubeconfig;
    const child = spawn(bin.kubectl, [`--kubeconfig=${kubeconfig}`, ...args], { env: { ...process.env, KUBECONFIG: kubeconfig } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', fail).on('close', (code) => done({ stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), code: code ?? -1 }));
    child.stdin.end(opts.input ?? '');
  });

  async function auditEntries(): Promise<AuditEvent[]> {
    // Events are written as requests finish; a marker request sent after ours shows the log has caught up.
    const marker = `kfm-audit-marker=${randomUUID()}`;
    await request('GET', `/version?${marker}`);
    let text = '';
    await until('the audit log to catch up', async () => (text = await readFile(file('audit.log'), 'utf8')).includes(marker), 10_000);
    return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as AuditEvent);
  }

  return {
    server, stateDir, adminKubeconfig, deployerKubeconfig, caFile: pki.caFile, pki, pids, startupMs: Date.now() - t0,
    kubectl, request, auditEntries, createStage, stop,
    async writeRequests(user = DEPLOYER_USER) {
      return (await auditEntries()).filter((e) => e.stage === 'ResponseComplete' && WRITE_VERBS.has(e.verb) && e.user.username === user);
    },
    async applyDeployerRbac() {
      const ns = await request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kubeflow' } } });
      if (ns.status !== 201 && ns.status !== 409) throw new Error(`creating namespace kubeflow: ${ns.status} ${JSON.stringify(ns.body)}`);
      const applied = await kubectl(['apply', '-f', join(REPO_ROOT, 'deploy/rbac.yaml')]);
      if (applied.code !== 0) throw new Error(`kubectl apply -f deploy/rbac.yaml: ${applied.stderr}`);
    },
  };
}
