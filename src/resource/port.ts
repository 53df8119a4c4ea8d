// The resource-fetch port of the docker-resource layer: resolve the oci-image's
// credentials and its digest. Adapters: the registry (v2 API) and offline.
import type { ImageInfo, RegistryCredentials } from '../domain/types.js';
import type { ImageRef } from '../image/reference.js';

export interface FetchRequest {
  image: ImageRef;
  /** The tag to resolve (defaults to `image.tag`). */
  tag?: string;
  /** A digest the event carries: verified against the registry, never trusted as is. */
  digest?: string;
  pushedAt?: string;
}

export interface ResourceFetcher {
  /** Resolves the image to a pinned digest with the credentials to pull it; throws FetchError. */
  fetch(request: FetchRequest): Promise<ImageInfo>;
  /** The repository's tags (the scheduled refresh under a semver or regex policy); throws FetchError. Absent offline. */
  listTags?(image: ImageRef): Promise<string[]>;
}

export interface CredentialProvider {
  /** Credentials for a registry host, or undefined for anonymous access; throws FetchError. */
  credentialsFor(registry: string): Promise<RegistryCredentials | undefined>;
}
