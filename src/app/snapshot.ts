// Everything one step is computed from, read from the target in one go; the
// writes then carry these objects' resourceVersions, so a concurrent change
// answers 409 and the step is recomputed from a fresh snapshot.
import type { KubeObject, RegistryCredentials } from '../domain/types.js';
import type { CharmState } from '../charm/state.js';
import type { CallOptions, Target } from '../targets/port.js';
import { MYSQL_PASSWORD_KEY, type WorkloadNames } from '../render/names.js';
import { pullSecretCredentials, secretValue } from '../render/secrets.js';
import { readStateObject } from './state-store.js';

export interface Snapshot {
  state: CharmState | undefined;
  /** Live objects by `Kind/name`. */
  objects: Map<string, KubeObject | undefined>;
  live: { mysqlPassword?: string; registryCredentials?: RegistryCredentials };
}

export const objectKey = (kind: string, name: string): string => `${kind}/${name}`;

export async function readSnapshot(target: Target, names: WorkloadNames, registry: string, options: CallOptions = {}): Promise<Snapshot> {
  const keys = [
    { kind: 'ConfigMap', name: names.state },
    { kind: 'Secret', name: names.mysqlSecret },
    { kind: 'Secret', name: names.pullSecret },
    { kind: 'Service', name: names.service },
    { kind: 'Deployment', name: names.deployment },
  ];
  const found = await Promise.all(keys.map((key) => target.read(key, options)));
  const objects = new Map(keys.map((key, index) => [objectKey(key.kind, key.name), found[index]]));
  const mysqlSecret = objects.get(objectKey('Secret', names.mysqlSecret));
  return {
    state: readStateObject(objects.get(objectKey('ConfigMap', names.state))),
    objects,
    live: {
      mysqlPassword: secretValue(mysqlSecret, MYSQL_PASSWORD_KEY),
      registryCredentials: pullSecretCredentials(objects.get(objectKey('Secret', names.pullSecret)), registry),
    },
  };
}
