// The patches are checked against Kubernetes' own strategic merge patch
// (`kubectl patch --local`), not against our reading of it. kubectl is required.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { KubeObject } from '../src/domain/types.js';
import { matchesDesired, strategicPatch } from '../src/targets/compare.js';

const dir = mkdtempSync(join(tmpdir(), 'compare-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function kubectlPatch(live: KubeObject, patch: unknown): KubeObject {
  const liveFile = join(dir, `live-${++n}.json`);
  const patchFile = join(dir, `patch-${n}.json`);
  writeFileSync(liveFile, JSON.stringify(live));
  writeFileSync(patchFile, JSON.stringify(patch));
  const out = execFileSync('kubectl', ['patch', '--local', '-f', liveFile, '--type', 'strategic', '--patch-file', patchFile, '-o', 'json'], {
    env: { ...process.env, KUBECONFIG: '/dev/null' },
    encoding: 'utf8',
  });
  return JSON.parse(out) as KubeObject;
}

/** Patches `live` towards `desired` the way the Kubernetes target does, and checks the result. */
function converge(desired: KubeObject, live: KubeObject): KubeObject {
  expect(matchesDesired(desired, live)).toBe(false);
  const patch = { ...strategicPatch(desired) };
  patch.metadata = { ...(patch.metadata as object), resourceVersion: live.metadata.resourceVersion };
  const result = kubectlPatch(live, patch);
  expect(JSON.stringify(result)).not.toContain('$patch'); // a directive left behind would be an invalid list entry
  expect(matchesDesired(desired, result)).toBe(true);
  return result;
}

const clone = <T>(value: T): T => structuredClone(value);
type Container = Record<string, unknown> & { ports?: unknown[]; env?: unknown[] };

function deployment(container: Partial<Container> = {}, pod: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'kubeflow-metadata', namespace: 'kubeflow', labels: { app: 'kubeflow-metadata' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'kubeflow-metadata' } },
      template: {
        metadata: { labels: { app: 'kubeflow-metadata' } },
        spec: {
          imagePullSecrets: [{ name: 'kubeflow-metadata-registry' }],
          containers: [{
            name: 'metadata',
            image: 'registry.example/metadata@sha256:' + 'a'.repeat(64),
            command: ['./server/server', '--http_port=8080', '--mysql_service_password=$(MYSQL_ROOT_PASSWORD)'],
            env: [{ name: 'MYSQL_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: 'kubeflow-metadata-mysql', key: 'password' } } }],
            ports: [{ name: 'http', containerPort: 8080 }],
            ...container,
          }],
          ...pod,
        },
      },
    },
  };
}

/** What the API server would hold: the object plus server-set fields and defaults. */
function asLive(desired: KubeObject): KubeObject {
  const live = clone(desired) as KubeObject & { spec: any };
  Object.assign(live.metadata, { uid: 'u-1', resourceVersion: '41', generation: 3, annotations: { 'deployment.kubernetes.io/revision': '3' } });
  for (const c of live.spec?.template?.spec?.containers ?? []) {
    Object.assign(c, { terminationMessagePath: '/dev/termination-log', imagePullPolicy: 'IfNotPresent', resources: {} });
    for (const p of c.ports ?? []) p.protocol = 'TCP';
  }
  if (live.kind === 'Deployment') live.status = { observedGeneration: 3, replicas: 1 };
  return live;
}

const containerOf = (o: KubeObject): Container => (o as any).spec.template.spec.containers[0];

test('kubectl is installed (these checks need Kubernetes\' own strategic merge patch)', () => {
  expect(execFileSync('kubectl', ['version', '--client'], { encoding: 'utf8' })).toContain('Client Version');
});

test('Deployment container port 8080 → 9090 leaves exactly one port', () => {
  const result = converge(deployment({ ports: [{ name: 'http', containerPort: 9090 }] }), asLive(deployment()));
  expect(containerOf(result).ports).toEqual([{ name: 'http', containerPort: 9090 }]);
  // Metadata maps merge: the controller's annotation and the server's uid survive.
  expect(result.metadata.annotations).toEqual({ 'deployment.kubernetes.io/revision': '3' });
  expect(result.metadata.uid).toBe('u-1');
});

test('env, command and image changes replace the owned lists', () => {
  const live = asLive(deployment({ env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }));
  const desired = deployment({ image: 'other/metadata@sha256:' + 'b'.repeat(64), command: ['./server/server', '--http_port=9090'], env: [{ name: 'B', value: '3' }] });
  const result = converge(desired, live);
  expect(containerOf(result).env).toEqual([{ name: 'B', value: '3' }]);
  expect(containerOf(result).command).toEqual(['./server/server', '--http_port=9090']);
  expect(containerOf(result).image).toBe('other/metadata@sha256:' + 'b'.repeat(64));
});

test('imagePullSecrets change leaves only the new reference; null removes them, and then matches', () => {
  const live = asLive(deployment());
  const result = converge(deployment({}, { imagePullSecrets: [{ name: 'other-registry' }] }), live);
  expect((result as any).spec.template.spec.imagePullSecrets).toEqual([{ name: 'other-registry' }]);
  const none = converge(deployment({}, { imagePullSecrets: null }), live);
  expect((none as any).spec.template.spec).not.toHaveProperty('imagePullSecrets');
  expect(matchesDesired(deployment({}, { imagePullSecrets: null }), none)).toBe(true); // no write on the next event
});

test('every merge-keyed pod list is replaced, atomic lists too, and no directive is left behind', () => {
  const rich = (suffix: string) => deployment(
    { volumeMounts: [{ name: `v${suffix}`, mountPath: `/m${suffix}` }] },
    {
      volumes: [{ name: `v${suffix}`, emptyDir: {} }],
      initContainers: [{ name: `init${suffix}`, image: 'busybox', ports: [{ containerPort: 1 }] }],
      hostAliases: [{ ip: `10.0.0.${suffix}`, hostnames: ['db'] }],
      topologySpreadConstraints: [{ topologyKey: `zone${suffix}`, maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule' }],
      tolerations: [{ key: `k${suffix}`, operator: 'Exists' }],
      nodeSelector: { disk: 'ssd' },
    },
  );
  const result = converge(rich('2'), asLive(rich('1')));
  const pod = (result as any).spec.template.spec;
  expect(pod.volumes).toEqual([{ name: 'v2', emptyDir: {} }]);
  expect(pod.hostAliases).toHaveLength(1);
  expect(pod.topologySpreadConstraints).toHaveLength(1);
  expect(pod.tolerations).toEqual([{ key: 'k2', operator: 'Exists' }]);
  // A desired null deletes the field (and an absent live field matches it).
  const dropped = converge(deployment({}, { nodeSelector: null }), asLive(rich('1')));
  expect((dropped as any).spec.template.spec.nodeSelector).toBeUndefined();
});

test('why directives go on merge-keyed lists only: SMP keeps them as entries in atomic and nested lists', () => {
  const live = asLive(deployment({}, { tolerations: [{ key: 'a', operator: 'Exists' }] }));
  const naive = { spec: { template: { spec: {
    tolerations: [{ $patch: 'replace' }, { key: 'b', operator: 'Exists' }],
    containers: [{ $patch: 'replace' }, { name: 'metadata', image: 'i', ports: [{ $patch: 'replace' }, { containerPort: 9090 }] }],
  } } } };
  const pod = (kubectlPatch(live, naive) as any).spec.template.spec;
  expect(pod.tolerations).toContainEqual({ $patch: 'replace' });
  expect(pod.containers[0].ports).toContainEqual({ $patch: 'replace' });
});

test('Service port change leaves exactly one port and keeps the cluster IP', () => {
  const service = (port: number): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kubeflow-metadata', namespace: 'kubeflow' },
    spec: { selector: { app: 'kubeflow-metadata' }, ports: [{ name: 'http', port, targetPort: port }] },
  });
  const live = asLive(service(8080)) as any;
  Object.assign(live.spec, { clusterIP: '10.96.0.7', type: 'ClusterIP' });
  live.spec.ports[0].protocol = 'TCP';
  const result = converge(service(9090), live) as any;
  expect(result.spec.ports).toEqual([{ name: 'http', port: 9090, targetPort: 9090 }]);
  expect(result.spec.clusterIP).toBe('10.96.0.7');
});

test('Secret and ConfigMap data: a removed key vanishes (the data map is replaced)', () => {
  const secret = (data: Record<string, string>): KubeObject =>
    ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'kubeflow-metadata-mysql', namespace: 'kubeflow' }, type: 'Opaque', data });
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const result = converge(secret({ password: b64('new') }), asLive(secret({ password: b64('old'), stale: b64('x') })));
  expect(result.data).toEqual({ password: b64('new') });
  expect(strategicPatch(secret({ a: 'YQ==' })).data).toEqual({ $patch: 'replace', a: 'YQ==' });
  const cm = (data: Record<string, string>): KubeObject =>
    ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kubeflow-metadata-deployer-state', namespace: 'kubeflow' }, data });
  expect(converge(cm({ state: '{}' }), asLive(cm({ state: '{"a":1}', old: 'x' }))).data).toEqual({ state: '{}' });
});

describe('matchesDesired', () => {
  const desired = deployment();
  test('ignores server-set fields, defaults and desired resourceVersion', () => {
    const withRv = clone(desired);
    withRv.metadata.resourceVersion = '7';
    expect(matchesDesired(withRv, asLive(desired))).toBe(true);
  });
  test('an extra live list entry, a missing field or an extra owned data key is a difference', () => {
    const live = asLive(desired);
    containerOf(live).ports?.push({ containerPort: 9090 });
    expect(matchesDesired(desired, live)).toBe(false);
    expect(matchesDesired({ ...desired, extra: 1 }, asLive(desired))).toBe(false);
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { a: 'YQ==' } };
    expect(matchesDesired(secret, { ...secret, data: { a: 'YQ==', b: 'Yg==' } })).toBe(false);
  });
  test('strategicPatch keeps only labels and annotations of metadata, and no apiVersion/kind/status', () => {
    const patch = strategicPatch({ ...asLive(desired), metadata: { ...asLive(desired).metadata, resourceVersion: undefined } });
    expect(Object.keys(patch).sort()).toEqual(['metadata', 'spec']);
    expect(Object.keys(patch.metadata as object).sort()).toEqual(['annotations', 'labels']);
  });
});

// Small JSON trees without null (a desired null means "absent", so null has its own rule).
const leaf = fc.oneof(fc.string({ maxLength: 3 }), fc.integer({ min: -5, max: 5 }), fc.boolean());
const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf,
    fc.array(tie('tree'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), tie('tree'), { maxKeys: 3 })),
}));

/** Changes one node (chosen by `pick`) in a way a subset comparison must notice. */
function mutate(value: unknown, pick: number): unknown {
  const children = Array.isArray(value) ? value.map((v, i) => [i, v] as const)
    : typeof value === 'object' && value !== null ? Object.entries(value) : [];
  if (children.length > 0 && pick % 3 !== 0) {
    const [key, child] = children[pick % children.length]!;
    const copy: any = Array.isArray(value) ? [...value] : { ...(value as object) };
    copy[key] = mutate(child, Math.floor(pick / 3));
    return copy;
  }
  if (Array.isArray(value)) return [...value, 'extra'];
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value);
    if (keys.length === 0) return 'not a map';
    const copy: any = { ...value };
    delete copy[keys[0]!];
    return copy;
  }
  if (typeof value === 'string') return `${value}x`;
  if (typeof value === 'number') return value + 1;
  return !value;
}

test('property: x matches x, and never a mutated x', () => {
  fc.assert(fc.property(tree, fc.nat(), (x, pick) => {
    expect(matchesDesired(x, clone(x))).toBe(true);
    expect(matchesDesired(x, mutate(x, pick))).toBe(false);
  }), { numRuns: 500 });
});
