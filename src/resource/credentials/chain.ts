// Which credentials a registry gets: ECR hosts get a token from ECR (IAM),
// hosts in KFM_REGISTRY_AUTH get those, any other host is pulled anonymously.
import type { Settings } from '../../settings/settings.js';
import type { CredentialProvider } from '../port.js';
import { createEcrCredentials, isEcrHost, type EcrCredentialsOptions } from './ecr.js';
import { createStaticCredentials } from './static.js';

export interface CredentialProviderOptions {
  registryAuth?: Settings['registryAuth'];
  ecr?: Partial<EcrCredentialsOptions>;
}

export function createCredentialProvider(options: CredentialProviderOptions = {}): CredentialProvider {
  const configured = createStaticCredentials(options.registryAuth ?? {});
  // Created on first use: the ECR provider's SDK is loaded lazily as well.
  let ecr: CredentialProvider | undefined;

  async function credentialsFor(registry: string) {
    if (isEcrHost(registry)) {
      ecr ??= createEcrCredentials(options.ecr);
      return ecr.credentialsFor(registry);
    }
    return configured.credentialsFor(registry);
  }

  return { credentialsFor };
}
