// Credentials written in KFM_REGISTRY_AUTH, looked up by registry host. Hosts
// compare case-insensitively, and Docker Hub's aliases (`index.docker.io`,
// `registry-1.docker.io`, …) all name `docker.io`, so any spelling users copy
// from a docker config file finds the entry.
import type { RegistryCredentials } from '../../domain/types.js';
import { normaliseRegistry } from '../../image/reference.js';
import type { CredentialProvider } from '../port.js';

/** `https://index.docker.io/v1/` → `docker.io`; `Registry.Example:5000` → `registry.example:5000`. */
function hostKey(host: string): string {
  const withoutScheme = host.trim().replace(/^https?:\/\//i, '');
  return normaliseRegistry(withoutScheme.split('/')[0] ?? '');
}

export function createStaticCredentials(auth: Record<string, RegistryCredentials>): CredentialProvider {
  const byHost = new Map<string, RegistryCredentials>();
  for (const [host, credentials] of Object.entries(auth)) byHost.set(hostKey(host), credentials);

  async function credentialsFor(registry: string): Promise<RegistryCredentials | undefined> {
    const found = byHost.get(hostKey(registry));
    // A copy, so callers cannot change what later lookups return.
    return found && { username: found.username, password: found.password };
  }

  return { credentialsFor };
}
