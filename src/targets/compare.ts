// Pure comparison and patch building shared by the targets (no client library
// here: the Kubernetes target loads client-node lazily, this module must not).
//
// Ownership model: the deployer owns every field it sets. Maps merge (the
// server and other controllers add fields), lists it sets are owned whole, and
// the `data`/`binaryData` maps of Secrets and ConfigMaps are owned whole (a
// stale key must vanish). A desired `null` means "this field must be absent".
import type { KubeObject } from '../domain/types.js';

type Json = Record<string, unknown>;

const isMap = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Kinds whose `data`/`binaryData` maps are owned whole (compared exactly, patched with replace). */
const DATA_KINDS = new Set(['Secret', 'ConfigMap']);
const OWNED_MAPS = ['data', 'binaryData'];

/**
 * Lists that strategic merge patch merges by key, per kind (from the Kubernetes
 * API's patchStrategy=merge tags). Only these get a `{"$patch":"replace"}`
 * element: kubectl shows that SMP keeps the directive as a literal element in
 * atomic lists and inside lists that are themselves replaced, so it must be
 * placed exactly on the outermost merge-keyed lists and nowhere else.
 */
const POD_SPEC_LISTS = [
  'containers', 'initContainers', 'ephemeralContainers', 'volumes', 'imagePullSecrets',
  'hostAliases', 'topologySpreadConstraints', 'resourceClaims', 'schedulingGates',
];
const POD_SPEC_PATH: Record<string, string> = {
  Pod: 'spec',
  Deployment: 'spec.template.spec',
  StatefulSet: 'spec.template.spec',
  DaemonSet: 'spec.template.spec',
  ReplicaSet: 'spec.template.spec',
  Job: 'spec.template.spec',
  CronJob: 'spec.jobTemplate.spec.template.spec',
};
const OTHER_MERGE_LISTS: Record<string, string[]> = { Service: ['spec.ports'] };

/** Dotted paths of the lists in `kind` that must carry a replace directive. */
export function mergeKeyedLists(kind: string): ReadonlySet<string> {
  const podSpec = POD_SPEC_PATH[kind];
  const lists = podSpec ? POD_SPEC_LISTS.map((name) => `${podSpec}.${name}`) : [];
  return new Set([...lists, ...(OTHER_MERGE_LISTS[kind] ?? [])]);
}

/**
 * True when every field `desired` sets equals the live value: maps compare as
 * subsets (live may carry server-set fields and defaults), lists element-wise
 * with the same length, owned data maps exactly. `metadata.resourceVersion`
 * in desired is ignored; a desired `null` matches an absent live field.
 */
export function matchesDesired(desired: unknown, live: unknown): boolean {
  if (!isMap(desired) || !isMap(live)) return matches(desired, live);
  const owned = typeof desired.kind === 'string' && DATA_KINDS.has(desired.kind);
  for (const [key, value] of Object.entries(desired)) {
    if (key === 'metadata' && isMap(value)) {
      const { resourceVersion: _ignored, ...rest } = value;
      if (!matches(rest, live.metadata)) return false;
    } else if (owned && OWNED_MAPS.includes(key) && isMap(value)) {
      const other = live[key];
      if (!isMap(other) || Object.keys(other).length !== Object.keys(value).length) return false;
      if (!matches(value, other)) return false;
    } else if (!matches(value, live[key])) {
      return false;
    }
  }
  return true;
}

function matches(desired: unknown, live: unknown): boolean {
  if (desired === undefined) return true;
  if (desired === null) return live === null || live === undefined;
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length && desired.every((item, i) => matches(item, live[i]));
  }
  if (isMap(desired)) {
    return isMap(live) && Object.entries(desired).every(([key, value]) => matches(value, live[key]));
  }
  return desired === live;
}

/**
 * The strategic-merge-patch body that makes a live object match `desired`:
 * its content without apiVersion/kind/status, metadata reduced to labels,
 * annotations (and resourceVersion when desired carries one), a replace
 * directive on every merge-keyed list and on Secret/ConfigMap data maps.
 */
export function strategicPatch(desired: KubeObject): Record<string, unknown> {
  const { apiVersion: _a, kind, status: _s, metadata, ...content } = desired;
  const patch: Json = structuredClone(content);
  const meta: Json = {};
  for (const key of ['labels', 'annotations', 'resourceVersion'] as const) {
    if (metadata[key] !== undefined) meta[key] = structuredClone(metadata[key]);
  }
  if (Object.keys(meta).length > 0) patch.metadata = meta;
  for (const path of mergeKeyedLists(kind)) {
    const parent = walk(patch, path.split('.').slice(0, -1));
    const name = path.split('.').at(-1) ?? '';
    const list = parent?.[name];
    if (parent && Array.isArray(list)) parent[name] = [{ $patch: 'replace' }, ...list];
  }
  if (DATA_KINDS.has(kind)) {
    for (const key of OWNED_MAPS) {
      const map = patch[key];
      if (isMap(map)) patch[key] = { $patch: 'replace', ...map };
    }
  }
  return patch;
}

function walk(root: Json, path: string[]): Json | undefined {
  let node: unknown = root;
  for (const part of path) node = isMap(node) ? node[part] : undefined;
  return isMap(node) ? node : undefined;
}
