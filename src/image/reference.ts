// Image references as users write them (`KFM_IMAGE`), split the way registries
// address them: the host that serves the v2 API, the repository path, the tag.

export interface ImageRef {
  /** Registry host as written, normalised: `docker.io` for Docker Hub, `host:port` otherwise. */
  registry: string;
  /** Repository path inside the registry (`library/` added for Docker Hub official images). */
  repository: string;
  tag: string;
}

const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);
/**
 * The repository grammar (OCI distribution spec: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`),
 * the one definition: KFM_IMAGE and every push payload's repository are checked against it.
 */
export const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
/** The longest repository name accepted (the spec's clients limit names to 255 characters). */
export const MAX_REPOSITORY_LENGTH = 255;
/** The tag grammar (distribution's reference grammar), the one definition: parsers, client and settings use it. */
export const TAG = /^[\w][\w.-]{0,127}$/;
export const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** The manifest media types a registry serves; without the OCI ones in `Accept`, distribution answers 404 for OCI images. */
export const MANIFEST_TYPES: readonly string[] = Object.freeze([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

/** ECR's registry hosts: `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`. */
export const ECR_HOST = /^(\d{12})\.dkr\.ecr(-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;

export function isEcrHost(host: string): boolean {
  return ECR_HOST.test(host.toLowerCase());
}

/** The host a registry's v2 API answers on (Docker Hub's differs from its name). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

/** Normalises a registry host so `index.docker.io` and `docker.io` compare equal. */
export function normaliseRegistry(host: string): string {
  const lower = host.toLowerCase().replace(/^https?:\/\//, '').replace(/\/+$/, '');
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/** A registry host for comparison only: normalised, and without the scheme's default port (`:443`, `:80`). */
export function registryKey(host: string): string {
  return normaliseRegistry(normaliseRegistry(host).replace(/(?<=[^:]):(?:443|80)$/, ''));
}

/** Whether two registry hosts name the same registry (`Registry.Example:443` is `registry.example`; Docker Hub's aliases are one). */
export function sameRegistry(a: string, b: string): boolean {
  return registryKey(a) === registryKey(b);
}

/** Normalises a repository path for comparison (Docker Hub official images live under `library/`). */
export function normaliseRepository(registry: string, repository: string): string {
  const lower = repository.toLowerCase();
  return normaliseRegistry(registry) === DOCKER_HUB && !lower.includes('/') ? `library/${lower}` : lower;
}

/** Parses `[registry/]repository[:tag]`; throws with a reason when it is not an image reference. */
export function parseImageRef(text: string): ImageRef {
  const trimmed = text.trim();
  if (trimmed.includes('@')) throw new Error('must name a tag to track, not a digest');
  const slash = trimmed.indexOf('/');
  const first = slash === -1 ? '' : trimmed.slice(0, slash);
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  const registry = normaliseRegistry(hasRegistry ? first : DOCKER_HUB);
  const rest = hasRegistry ? trimmed.slice(slash + 1) : trimmed;
  const colon = rest.lastIndexOf(':');
  const repoPart = colon === -1 ? rest : rest.slice(0, colon);
  const tag = colon === -1 ? 'latest' : rest.slice(colon + 1);
  const repository = normaliseRepository(registry, repoPart);
  if (!REPOSITORY.test(repository)) throw new Error(`"${repoPart}" is not a valid repository path`);
  if (!TAG.test(tag)) throw new Error(`"${tag}" is not a valid tag`);
  return { registry, repository, tag };
}

/** `registry/repository@digest`: the pinned reference a Deployment runs. */
export function pinnedReference(image: Pick<ImageRef, 'registry' | 'repository'>, digest: string): string {
  return `${image.registry}/${image.repository}@${digest}`;
}
