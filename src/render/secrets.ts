// The two Secrets: the MySQL password (env of the container via secretKeyRef)
// and the registry pull Secret, byte-compatible with `kubectl create secret docker-registry`.
import type { KubeObject, RegistryCredentials } from '../domain/types.js';
import { MYSQL_PASSWORD_KEY, ownedLabels } from './names.js';

interface SecretOptions {
  app: string;
  namespace: string;
  name: string;
}

const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** kubectl keys Docker Hub credentials by its v1 index URL; the kubelet matches docker.io images to it. */
export function dockerConfigServer(registry: string): string {
  return registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}

/** The `.dockerconfigjson` document, with kubectl's field order (username, password, auth). */
export function dockerConfigJson(registry: string, credentials: RegistryCredentials): string {
  const { username, password } = credentials;
  const auths = { [dockerConfigServer(registry)]: { username, password, auth: base64(`${username}:${password}`) } };
  return JSON.stringify({ auths });
}

export function renderPullSecret(options: SecretOptions & { registry: string; credentials: RegistryCredentials }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: options.name, namespace: options.namespace, labels: ownedLabels(options.app) },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': base64(dockerConfigJson(options.registry, options.credentials)) },
  };
}

export function renderMysqlSecret(options: SecretOptions & { password: string }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: options.name, namespace: options.namespace, labels: ownedLabels(options.app) },
    type: 'Opaque',
    data: { [MYSQL_PASSWORD_KEY]: base64(options.password) },
  };
}

/** Reads a value back from a live Secret's `data` (undefined when absent or malformed). */
export function secretValue(secret: KubeObject | undefined, key: string): string | undefined {
  const data = secret?.data as Record<string, unknown> | undefined;
  const value = data?.[key];
  return typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : undefined;
}

/** The credentials stored in a live pull Secret for a registry, if any. */
export function pullSecretCredentials(secret: KubeObject | undefined, registry: string): RegistryCredentials | undefined {
  try {
    const json = secretValue(secret, '.dockerconfigjson');
    const entry = json ? (JSON.parse(json) as { auths?: Record<string, Partial<RegistryCredentials>> }).auths?.[dockerConfigServer(registry)] : undefined;
    return typeof entry?.username === 'string' && typeof entry.password === 'string'
      ? { username: entry.username, password: entry.password }
      : undefined;
  } catch {
    return undefined;
  }
}
