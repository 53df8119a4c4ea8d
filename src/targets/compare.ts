// Pure comparison and apply bodies shared by the targets (no client library
// here: the Kubernetes target loads client-node lazily, this module must not).
//
// Ownership model (server-side apply, field manager `kubeflow-metadata-deployer`):
// the deployer owns exactly the fields it sets. The API server records them in
// the object's `metadata.managedFields`; an apply removes an owned field that
// the applied object no longer sets, and leaves fields other managers own (an
// operator's tolerations, resources, labels) alone. `matchesDesired` answers
// "would an apply change anything?", so an identical event writes nothing.
//
// A desired `null` means "this field is not set": on a cluster an apply drops it
// if we owned it; in the directory target (whole objects, no managedFields) it
// must be absent.
import type { KubeObject } from '../domain/types.js';

type Json = Record<string, unknown>;
/** A `fieldsV1` tree: `f:<field>`, `k:<key JSON>` / `v:<value JSON>` / `i:<index>` for list items, `.` for the node itself. */
export type FieldSet = { [key: string]: FieldSet };

export const FIELD_MANAGER = 'kubeflow-metadata-deployer';
/**
 * The manager the API server records for a client that sends neither fieldManager nor User-Agent: the
 * deployer before server-side apply (its strategic merge patches). Its Update entries are adopted as
 * ours, so an upgrade removes what the old version set and the new one does not (kubectl, controllers
 * and curl all send a User-Agent, so an operator's edits never carry this name).
 */
const LEGACY_MANAGER = 'unknown';

const isMap = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Kinds whose `data`/`binaryData` maps are compared exactly when no ownership is recorded (the directory target). */
const DATA_KINDS = new Set(['Secret', 'ConfigMap']);
const OWNED_MAPS = ['data', 'binaryData'];

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: FieldSet;
  subresource?: string;
}

const managedFieldsOf = (live: unknown): ManagedFieldsEntry[] => {
  const entries = isMap(live) && isMap(live.metadata) ? live.metadata.managedFields : undefined;
  return Array.isArray(entries) ? entries.filter(isMap) : [];
};

/** Our entries on the object itself (not a subresource): the Apply one, the Update one a create leaves, the old version's. */
const ours = (entry: ManagedFieldsEntry): boolean =>
  (entry.manager === FIELD_MANAGER || (entry.manager === LEGACY_MANAGER && entry.operation === 'Update'))
  && !entry.subresource && entry.fieldsType === 'FieldsV1' && isMap(entry.fieldsV1);

function union(a: FieldSet, b: FieldSet): FieldSet {
  const out: FieldSet = { ...a };
  for (const [key, value] of Object.entries(b)) out[key] = out[key] ? union(out[key], value) : value;
  return out;
}

/** The fields the deployer owns on `live`, or undefined when the server recorded none (not ours yet, or not a cluster). */
export function ownedFields(live: unknown): FieldSet | undefined {
  const sets = managedFieldsOf(live).filter(ours).map((entry) => entry.fieldsV1 as FieldSet);
  return sets.length > 0 ? sets.reduce(union) : undefined;
}

/**
 * True when applying `desired` would change nothing: every field it sets equals
 * the live value (maps as subsets: live carries defaults and others' fields),
 * and no field we own is one it stopped setting. Lists the server merges by key
 * compare with the items we own only; other lists element-wise, same length.
 * `metadata.resourceVersion` in desired is ignored.
 */
export function matchesDesired(desired: unknown, live: unknown): boolean {
  if (!isMap(desired) || !isMap(live)) return same(desired, live, undefined, false);
  const owned = ownedFields(live);
  const known = owned !== undefined;
  const { metadata, ...content } = desired;
  const compared = isMap(metadata) ? { ...content, metadata: { ...metadata, resourceVersion: undefined } } : desired;
  if (!same(compared, live, owned, known)) return false;
  // Without a record of ownership a stale key in a Secret or ConfigMap could never be told from a
  // key someone else added, so those maps must match exactly.
  if (!known && typeof desired.kind === 'string' && DATA_KINDS.has(desired.kind)) {
    for (const key of OWNED_MAPS) {
      const [mine, theirs] = [desired[key], live[key]];
      if (isMap(mine) && (!isMap(theirs) || Object.keys(theirs).length !== Object.keys(mine).length)) return false;
    }
  }
  return true;
}

/**
 * `owned`: our field set at this node (undefined: we own nothing here). `known`:
 * the object records our ownership at all; without it, compare as whole objects.
 */
function same(desired: unknown, live: unknown, owned: FieldSet | undefined, known: boolean): boolean {
  if (desired === undefined) return true;
  // Known ownership: null is "not set", and the parent's owned-field check below catches a field we dropped.
  if (desired === null) return known || live === null || live === undefined;
  if (Array.isArray(desired)) {
    if (!Array.isArray(live)) return false;
    const items = owned ? ownedItems(owned, live) : undefined;
    const pairs = items ?? live.map((item) => ({ item, owned: undefined }));
    return pairs.length === desired.length && desired.every((value, i) => same(value, pairs[i]?.item, pairs[i]?.owned, known));
  }
  if (isMap(desired)) {
    if (!isMap(live)) return false;
    for (const [key, value] of Object.entries(desired)) {
      if (!same(value, live[key], owned?.[`f:${key}`], known)) return false;
    }
    for (const key of Object.keys(owned ?? {})) {
      if (!key.startsWith('f:')) continue;
      const name = key.slice(2);
      const set = desired[name] !== undefined && desired[name] !== null;
      if (!set && live[name] !== undefined) return false; // ours, no longer desired, still live: the apply removes it
    }
    return true;
  }
  return desired === live;
}

/**
 * The live items of a keyed or set list that we own, in live order, each with
 * our field set for it; undefined when `owned` names no items (an atomic list,
 * owned whole: compared whole).
 */
function ownedItems(owned: FieldSet, live: unknown[]): Array<{ item: unknown; owned: FieldSet }> | undefined {
  const keys = Object.keys(owned).filter((key) => /^[kvi]:/.test(key));
  if (keys.length === 0) return undefined;
  const matchers = keys.map((key) => ({ set: owned[key] as FieldSet, test: itemMatcher(key) }));
  const out: Array<{ item: unknown; owned: FieldSet }> = [];
  live.forEach((item, index) => {
    const found = matchers.find((m) => m.test(item, index));
    if (found) out.push({ item, owned: found.set });
  });
  return out;
}

function itemMatcher(key: string): (item: unknown, index: number) => boolean {
  const text = key.slice(2);
  if (key.startsWith('i:')) return (_item, index) => index === Number(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return () => false;
  }
  if (key.startsWith('v:')) return (item) => deepEqual(item, value);
  const fields = isMap(value) ? Object.entries(value) : [];
  return (item) => isMap(item) && fields.every(([field, expected]) => deepEqual(item[field], expected));
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isMap(a)) {
    return isMap(b) && Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => deepEqual(v, b[k]));
  }
  return a === b;
}

/** The object as a cluster would store it: a desired `null` is a field not set. */
export function withoutNulls<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutNulls) as T;
  if (!isMap(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== null).map(([key, item]) => [key, withoutNulls(item)])) as T;
}

/**
 * The server-side apply body: the whole desired object (apiVersion, kind, name,
 * namespace included; no status), and `resourceVersion` as a precondition when
 * given (the API server answers 409 when the object changed since it was read).
 */
export function applyBody(desired: KubeObject, namespace: string, resourceVersion?: string): KubeObject {
  const { status: _status, metadata, ...content } = withoutNulls(desired);
  const { resourceVersion: _ignored, ...meta } = metadata;
  return { ...content, metadata: { ...meta, namespace, ...(resourceVersion ? { resourceVersion } : {}) } } as KubeObject;
}

/**
 * A create (POST) records its fields under an `Update` entry of ours, and with
 * them the defaults the server filled in (strategy, dnsPolicy, ...): an apply
 * would never remove those fields (they look like another manager's), and
 * compare would see owned fields desired does not set. Right after the create,
 * this JSON patch turns that entry into the `Apply` entry an apply of `sent`
 * would have recorded: the entry's fields that `sent` sets. Its test op makes
 * it a no-op failure (422) if the entry changed meanwhile; adoptionPatch
 * covers that case later. Undefined when the create recorded no entry of ours.
 */
export function handoverPatch(created: KubeObject, sent: KubeObject): Json[] | undefined {
  const entries = managedFieldsOf(created);
  const index = entries.findIndex((entry) => ours(entry) && entry.manager === FIELD_MANAGER && entry.operation === 'Update');
  const entry = entries[index];
  if (!entry) return undefined;
  const { metadata: _metadata, ...content } = sent; // name and namespace are never tracked; labels and annotations are
  const fieldsV1 = restrict(entry.fieldsV1 as FieldSet, { ...content, metadata: { labels: sent.metadata.labels, annotations: sent.metadata.annotations } });
  const path = `/metadata/managedFields/${index}`;
  return [{ op: 'test', path, value: entry }, { op: 'replace', path, value: { ...entry, operation: 'Apply', fieldsV1 } }];
}

/** The part of `fields` that `value` sets; `.` (the node itself) kept on list items only, as an apply records it. */
function restrict(fields: FieldSet, value: unknown, item = false): FieldSet {
  const out: FieldSet = {};
  for (const [key, set] of Object.entries(fields)) {
    if (key === '.') {
      if (item) out[key] = set;
    } else if (key.startsWith('f:')) {
      const child = isMap(value) ? value[key.slice(2)] : undefined;
      if (child !== undefined && child !== null) out[key] = restrict(set, child);
    } else if (Array.isArray(value)) {
      const test = itemMatcher(key);
      const index = value.findIndex((candidate, i) => test(candidate, i));
      if (index >= 0) out[key] = restrict(set, value[index], true);
    }
  }
  return out;
}

/**
 * Our `Update` entries left by a create the handover did not follow (it failed,
 * or an older version created the object): this JSON merge patch turns them,
 * with any `Apply` entry of ours, into one `Apply` entry, as `kubectl apply
 * --server-side` does when it takes over from client-side apply; conditioned
 * on `resourceVersion`. It owns the defaults too: the apply after it drops them
 * and the server fills them in again. Undefined when there is nothing to convert.
 */
export function adoptionPatch(live: KubeObject): Json | undefined {
  const entries = managedFieldsOf(live);
  const mine = entries.filter(ours);
  if (!mine.some((entry) => entry.operation !== 'Apply')) return undefined;
  const applied = mine.find((entry) => entry.operation === 'Apply') ?? mine[0]!;
  const merged: ManagedFieldsEntry = {
    manager: FIELD_MANAGER,
    operation: 'Apply',
    apiVersion: applied.apiVersion ?? live.apiVersion,
    ...(applied.time ? { time: applied.time } : {}),
    fieldsType: 'FieldsV1',
    fieldsV1: mine.map((entry) => entry.fieldsV1 as FieldSet).reduce(union),
  };
  const managedFields = [...entries.filter((entry) => !mine.includes(entry)), merged];
  return { metadata: { resourceVersion: live.metadata.resourceVersion, managedFields } };
}
