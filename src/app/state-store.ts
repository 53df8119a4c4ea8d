// The reactive state as a Kubernetes object (a ConfigMap), identical in both
// targets, so it is written with the same optimistic concurrency as the workload.
// The document is JSON: read on every event, and a YAML parser costs cold start.
import type { KubeObject } from '../domain/types.js';
import { canonicalJson } from '../domain/canonical-json.js';
import { charmStateSchema, type CharmState } from '../charm/state.js';
import { ownedLabels } from '../render/names.js';
import { TargetError } from '../errors.js';

const KEY = 'state.json';

export function renderStateObject(state: CharmState, options: { app: string; namespace: string; name: string }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: options.name, namespace: options.namespace, labels: ownedLabels(options.app) },
    // Sorted keys: the same state is always the same text, so an unchanged state is never rewritten.
    data: { [KEY]: canonicalJson(state, 2) },
  };
}

/** The stored state, or undefined before the first step; a corrupt object is an error, not a reset. */
export function readStateObject(object: KubeObject | undefined): CharmState | undefined {
  if (!object) return undefined;
  // A 502 that says what to do, not a bare 500: the object on the target is what is wrong.
  const unreadable = (problem: string) =>
    new TargetError(`the state ConfigMap ${object.metadata.name} is not readable (${problem}): restore it, or delete it and send the config again`);
  const text = (object.data as Record<string, unknown> | undefined)?.[KEY];
  if (typeof text !== 'string') throw unreadable(`no ${KEY} key`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw unreadable(`${KEY} is not JSON`);
  }
  const parsed = charmStateSchema().safeParse(json); // the schema's lazy() applies the zod settings
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  // Stryker disable next-line OptionalChaining,Regex: equivalent, a failed parse has at least one issue, with a path and a message; zod's own messages start with "Invalid input: " when they have it at all
  throw unreadable(`${[KEY, ...(issue?.path ?? [])].map(String).join('.')}: ${(issue?.message ?? 'invalid').replace(/^Invalid input: /, '')}`);
}
