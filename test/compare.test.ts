// matchesDesired decides 'unchanged' (zero writes) for both targets; the apply
// body and the ownership hand-over go to the real API server (what it does with
// them is proven in kubernetes-target and e2e-server-side-apply). The
// managedFields below have the shape kube-apiserver 1.36 writes (fieldsV1).
import fc from 'fast-check';
import type { KubeObject } from '../src/domain/types.js';
import { FIELD_MANAGER, adoptionPatch, applyBody, handoverPatch, matchesDesired, ownedFields, type FieldSet } from '../src/targets/compare.js';

const clone = <T>(value: T): T => structuredClone(value);
const IMAGE = 'registry.example/metadata@sha256:' + 'a'.repeat(64);
type Container = Record<string, unknown> & { ports?: unknown[]; env?: unknown[] };

function deployment(container: Partial<Container> = {}, pod: Record<string, unknown> = {}, labels: Record<string, string> = { app: 'm' }): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'kubeflow-metadata', namespace: 'kubeflow', labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'm' } },
      template: {
        metadata: { labels: { app: 'm' } },
        spec: {
          imagePullSecrets: [{ name: 'kubeflow-metadata-registry' }],
          containers: [{
            name: 'metadata',
            image: IMAGE,
            command: ['./server/server', '--http_port=8080'],
            env: [{ name: 'MYSQL_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: 'kubeflow-metadata-mysql', key: 'password' } } }],
            ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
            ...container,
          }],
          ...pod,
        },
      },
    },
  };
}

/** What our apply of deployment() makes the server record: keyed lists by their keys, atomic ones (command, selector) whole. */
function appliedFields(port = 8080, pullSecret = true, labels = ['app']): FieldSet {
  const leaf = {};
  return {
    'f:metadata': { 'f:labels': Object.fromEntries(labels.map((l) => [`f:${l}`, leaf])) },
    'f:spec': {
      'f:replicas': leaf,
      'f:selector': leaf,
      'f:template': {
        'f:metadata': { 'f:labels': { 'f:app': leaf } },
        'f:spec': {
          ...(pullSecret ? { 'f:imagePullSecrets': { 'k:{"name":"kubeflow-metadata-registry"}': { '.': leaf, 'f:name': leaf } } } : {}),
          'f:containers': {
            'k:{"name":"metadata"}': {
              '.': leaf, 'f:name': leaf, 'f:image': leaf, 'f:command': leaf,
              'f:env': { 'k:{"name":"MYSQL_ROOT_PASSWORD"}': { '.': leaf, 'f:name': leaf, 'f:valueFrom': { 'f:secretKeyRef': leaf } } },
              'f:ports': { [`k:{"containerPort":${port},"protocol":"TCP"}`]: { '.': leaf, 'f:containerPort': leaf, 'f:name': leaf, 'f:protocol': leaf } },
            },
          },
        },
      },
    },
  };
}

const entry = (fieldsV1: FieldSet, manager = FIELD_MANAGER, operation = 'Apply', subresource?: string) =>
  ({ manager, operation, apiVersion: 'apps/v1', time: '2026-01-01T00:00:00Z', fieldsType: 'FieldsV1', fieldsV1, ...(subresource ? { subresource } : {}) });

/** What the API server holds: the object, server-set fields and defaults, and the managedFields given. */
function asLive(desired: KubeObject, managedFields: unknown[] = []): KubeObject & { spec: any } {
  const live = clone(desired) as KubeObject & { spec: any };
  Object.assign(live.metadata, { uid: 'u-1', resourceVersion: '41', generation: 3, annotations: { 'deployment.kubernetes.io/revision': '3' } });
  if (managedFields.length > 0) (live.metadata as Record<string, unknown>).managedFields = managedFields;
  for (const c of live.spec?.template?.spec?.containers ?? []) {
    Object.assign(c, { terminationMessagePath: '/dev/termination-log', imagePullPolicy: 'IfNotPresent' });
  }
  if (live.kind === 'Deployment') live.status = { observedGeneration: 3, replicas: 1 };
  return live;
}
const ownedLive = (desired: KubeObject, fields = appliedFields()) =>
  asLive(desired, [entry(fields), entry({ 'f:status': { 'f:replicas': {} } }, 'kube-controller-manager', 'Update', 'status')]);
const pod = (o: KubeObject) => (o as any).spec.template.spec;
const container = (o: KubeObject): Container => pod(o).containers[0];

describe('without a record of ownership (the directory target: whole objects)', () => {
  const desired = deployment();
  test('server-set fields, defaults and a desired resourceVersion make no difference', () => {
    const withRv = clone(desired);
    withRv.metadata.resourceVersion = '7';
    expect(matchesDesired(withRv, asLive(desired))).toBe(true);
  });
  test('an extra live list entry, a missing field, an extra data key or a present "null" field is a difference', () => {
    const live = asLive(desired);
    container(live).ports?.push({ containerPort: 9090 });
    expect(matchesDesired(desired, live)).toBe(false);
    expect(matchesDesired({ ...desired, extra: 1 }, asLive(desired))).toBe(false);
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { a: 'YQ==' } };
    expect(matchesDesired(secret, { ...secret, data: { a: 'YQ==', b: 'Yg==' } })).toBe(false);
    expect(matchesDesired(deployment({}, { imagePullSecrets: null }), asLive(desired))).toBe(false);
    const none = asLive(desired);
    delete pod(none).imagePullSecrets;
    expect(matchesDesired(deployment({}, { imagePullSecrets: null }), none)).toBe(true);
  });
});

describe('with our managedFields entry (server-side apply)', () => {
  test('fields operators added survive as no difference: resources, a toleration, a label, an annotation, an env var', () => {
    const live = ownedLive(deployment());
    container(live).resources = { limits: { memory: '1Gi' } };
    pod(live).tolerations = [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }];
    Object.assign(live.metadata.labels!, { team: 'ml' });
    Object.assign(live.metadata.annotations!, { 'example.com/owner': 'ml-platform' });
    container(live).env!.push({ name: 'DEBUG', value: '1' }); // a keyed list: the item is theirs, not ours
    expect(matchesDesired(deployment(), live)).toBe(true);
  });

  test('a field we own and stopped setting is a difference while it is live, none once the apply removed it', () => {
    const live = ownedLive(deployment({}, {}, { app: 'm', tier: 'x' }), appliedFields(8080, true, ['app', 'tier']));
    expect(matchesDesired(deployment(), live)).toBe(false); // the label `tier`
    expect(matchesDesired(deployment(), ownedLive(deployment()))).toBe(true); // after the apply: gone, and no longer ours
  });

  test('port 8080 → 9090: the old keyed item we own is a difference; after the apply one port matches', () => {
    const desired = deployment({ ports: [{ name: 'http', containerPort: 9090, protocol: 'TCP' }] });
    expect(matchesDesired(desired, ownedLive(deployment()))).toBe(false);
    const both = ownedLive(deployment()); // what an apply would leave if someone else co-owned 8080
    container(both).ports!.push({ name: 'http', containerPort: 9090, protocol: 'TCP' });
    expect(matchesDesired(desired, asLive(both, [entry(appliedFields(9090)), entry(appliedFields(8080), 'kubectl-edit', 'Update')]))).toBe(true);
    expect(matchesDesired(desired, ownedLive(desired, appliedFields(9090)))).toBe(true);
  });

  test('a desired null drops a field we own; one only an operator owns stays, and matches', () => {
    const anonymous = deployment({}, { imagePullSecrets: null });
    expect(matchesDesired(anonymous, ownedLive(deployment()))).toBe(false);
    expect(matchesDesired(anonymous, ownedLive(deployment(), appliedFields(8080, false)))).toBe(true);
  });

  test('an edit of a field we own is a difference (the next event restores it): image, command, a removed label', () => {
    const edited = ownedLive(deployment());
    container(edited).image = 'evil/metadata:latest';
    expect(matchesDesired(deployment(), edited)).toBe(false);
    const longer = ownedLive(deployment());
    container(longer).command = ['./server/server', '--http_port=8080', '--debug']; // atomic: compared whole
    expect(matchesDesired(deployment(), longer)).toBe(false);
    const unlabelled = ownedLive(deployment());
    delete unlabelled.metadata.labels!.app;
    expect(matchesDesired(deployment(), unlabelled)).toBe(false);
  });

  test('a Secret key we own and dropped is a difference; a key someone else added is not', () => {
    const secret = (data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, type: 'Opaque', data });
    const fields = (...keys: string[]) => ({ 'f:data': Object.fromEntries(keys.map((k) => [`f:${k}`, {}])), 'f:type': {} });
    expect(matchesDesired(secret({ a: 'YQ==' }), asLive(secret({ a: 'YQ==', stale: 'eA==' }), [entry(fields('a', 'stale'))]))).toBe(false);
    expect(matchesDesired(secret({ a: 'YQ==' }), asLive(secret({ a: 'YQ==', theirs: 'eA==' }), [entry(fields('a'))]))).toBe(true);
  });

  test('the Update entry a create leaves counts as ours, and the old version\'s; other managers and the status subresource do not', () => {
    expect(ownedFields(asLive(deployment(), [entry(appliedFields(), FIELD_MANAGER, 'Update')]))).toEqual(appliedFields());
    expect(ownedFields(asLive(deployment(), [entry(appliedFields(), 'unknown', 'Update')]))).toEqual(appliedFields()); // no User-Agent
    expect(ownedFields(asLive(deployment(), [entry(appliedFields(), 'unknown', 'Apply')]))).toBeUndefined();
    expect(ownedFields(asLive(deployment(), [entry(appliedFields(), 'kubectl-edit', 'Update')]))).toBeUndefined();
    expect(ownedFields(asLive(deployment(), [entry(appliedFields(), FIELD_MANAGER, 'Update', 'status')]))).toBeUndefined();
    const desired = deployment({ ports: [{ name: 'http', containerPort: 9090, protocol: 'TCP' }] });
    expect(matchesDesired(desired, asLive(deployment(), [entry(appliedFields(), FIELD_MANAGER, 'Update')]))).toBe(false);
  });
});

describe('the requests', () => {
  test('the apply body is the whole object, no status and no nulls, with the resourceVersion as a precondition', () => {
    const live = asLive(deployment({}, { imagePullSecrets: null }));
    const body = applyBody(live, 'kubeflow', '41') as any;
    expect(body).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'kubeflow-metadata', namespace: 'kubeflow', resourceVersion: '41' } });
    expect(body.status).toBeUndefined();
    expect(pod(body)).not.toHaveProperty('imagePullSecrets');
    expect(applyBody(deployment(), 'kubeflow').metadata).not.toHaveProperty('resourceVersion');
  });

  test('the hand-over after a create records what an apply would have: the fields sent, not the defaults', () => {
    // Recorded from kube-apiserver 1.36.3: a POST of `sent`, and an apply of the same object.
    const sent: KubeObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'one', namespace: 'kubeflow' },
      spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } },
        spec: { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80, protocol: 'TCP' }] }] } } } };
    const created = JSON.parse('{"f:spec":{"f:progressDeadlineSeconds":{},"f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":{".":{},"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":{"f:labels":{".":{},"f:a":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"c\\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:containerPort":{},"f:protocol":{}}},"f:resources":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}}}');
    const applied = JSON.parse('{"f:spec":{"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:a":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"c\\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:containerPort":{},"f:protocol":{}}}}}}}}}');
    const status = entry({ 'f:status': {} }, 'kube-controller-manager', 'Update', 'status');
    const create = entry(created, FIELD_MANAGER, 'Update');
    const patch = handoverPatch(asLive(sent, [status, create]), sent) as any[];
    expect(patch).toEqual([
      { op: 'test', path: '/metadata/managedFields/1', value: create },
      { op: 'replace', path: '/metadata/managedFields/1', value: { ...create, operation: 'Apply', fieldsV1: applied } },
    ]);
    expect(handoverPatch(asLive(sent, [status]), sent)).toBeUndefined();
  });

  test('the adoption patch turns our create-time Update entry into our Apply entry, keeps the others, and is conditioned', () => {
    const status = entry({ 'f:status': {} }, 'kube-controller-manager', 'Update', 'status');
    const theirs = entry({ 'f:spec': { 'f:template': { 'f:spec': { 'f:tolerations': {} } } } }, 'kubectl-edit', 'Update');
    const created = entry(appliedFields(8080), FIELD_MANAGER, 'Update');
    const applied = entry({ 'f:metadata': { 'f:labels': { 'f:tier': {} } } });
    const patch = adoptionPatch(asLive(deployment(), [created, status, applied, theirs])) as any;
    expect(patch.metadata.resourceVersion).toBe('41');
    expect(patch.metadata.managedFields).toEqual([status, theirs, {
      manager: FIELD_MANAGER, operation: 'Apply', apiVersion: 'apps/v1', time: applied.time, fieldsType: 'FieldsV1',
      fieldsV1: { ...appliedFields(8080), 'f:metadata': { 'f:labels': { 'f:app': {}, 'f:tier': {} } } },
    }]);
    expect(adoptionPatch(asLive(deployment(), [applied, status]))).toBeUndefined();
    expect(adoptionPatch(asLive(deployment()))).toBeUndefined();
  });
});

// Small JSON trees without null (a desired null means "not set", so null has its own rule).
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

/** The field set an apply of `value` records, lists taken as atomic. */
const fieldsOf = (value: unknown): FieldSet => typeof value === 'object' && value !== null && !Array.isArray(value)
  ? Object.fromEntries(Object.entries(value).map(([k, v]) => [`f:${k}`, fieldsOf(v)])) : {};
const owning = (fields: FieldSet, object: Record<string, unknown>) =>
  ({ ...object, metadata: { managedFields: [entry(fields)] } });

test('property: x matches x, and never a mutated x (without and with our ownership recorded)', () => {
  fc.assert(fc.property(fc.dictionary(fc.constantFrom('a', 'b', 'c'), tree, { maxKeys: 3 }), fc.nat(), (x, pick) => {
    expect(matchesDesired(x, clone(x))).toBe(true);
    expect(matchesDesired(x, mutate(x, pick))).toBe(false);
    const changed = mutate(x, pick);
    if (typeof changed === 'object' && changed !== null && !Array.isArray(changed)) {
      expect(matchesDesired(x, owning(fieldsOf(x), changed as Record<string, unknown>))).toBe(false);
    }
    expect(matchesDesired(x, owning(fieldsOf(x), clone(x)))).toBe(true);
  }), { numRuns: 500 });
});

test('property: desired without a field we own never matches a live object that still has it', () => {
  fc.assert(fc.property(fc.dictionary(fc.constantFrom('a', 'b', 'c'), tree, { minKeys: 1, maxKeys: 3 }), (x) => {
    const [dropped] = Object.keys(x);
    const { [dropped!]: _gone, ...desired } = x;
    expect(matchesDesired(desired, owning(fieldsOf(x), clone(x)))).toBe(false);
    expect(matchesDesired(desired, owning(fieldsOf(desired), clone(x)))).toBe(true); // not ours: someone else's field
  }), { numRuns: 300 });
});
