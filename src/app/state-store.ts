// The reactive state as a Kubernetes object (a ConfigMap), identical in both
// targets, so it is written with the same optimistic concurrency as the workload.
import { stringify, parse } from 'yaml';
import type { KubeObject } from '../domain/types.js';
import { charmStateSchema, type CharmState } from '../charm/state.js';
import { ownedLabels } from '../render/names.js';
import { configureZod } from '../validation.js';

const KEY = 'state.yaml';

export function renderStateObject(state: CharmState, options: { app: string; namespace: string; name: string }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: options.name, namespace: options.namespace, labels: ownedLabels(options.app) },
    // Parsed first so keys come in schema order: the same state is always the same text.
    data: { [KEY]: stringify(charmStateSchema().parse(state)) },
  };
}

/** The stored state, or undefined before the first step; a corrupt object is an error, not a reset. */
export function readStateObject(object: KubeObject | undefined): CharmState | undefined {
  if (!object) return undefined;
  const text = (object.data as Record<string, unknown> | undefined)?.[KEY];
  configureZod();
  const parsed = charmStateSchema().safeParse(typeof text === 'string' ? parse(text) : undefined);
  if (!parsed.success) throw new Error(`the state ConfigMap ${object.metadata.name} is not readable: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}
