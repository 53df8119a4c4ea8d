// GitHub Packages webhooks for GHCR: `registry_package` (package object under
// `registry_package`) or the older `package` event (under `package`). The tag is
// in `package_version.container_metadata.tag`; `version`/`name` hold the digest.
import { z } from 'zod';
import type { ParsedPushes } from '../../domain/types.js';
import { badRequest } from '../../errors.js';
import { DIGEST } from '../../image/reference.js';
import { digest, isoTime, parseAt, parseBody, pushEvent, repository, requireTagOrDigest, tagOrEmpty } from './schema.js';

const PACKAGE_EVENTS = new Set(['registry_package', 'package']);
const CONTAINER_TYPES = new Set(['container', 'docker']);
const LOGIN = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/, 'must be a GitHub user or organisation name');

export const ghcrActionSchema = z.object({ action: z.string().min(1).max(64) });

/** Read before the rest: npm, maven, … packages are ignored unvalidated. */
export const ghcrKindSchema = z.object({
  package_type: z.string().max(64).nullish(),
  ecosystem: z.string().max(64).nullish(),
});

export const ghcrPackageSchema = z.object({
  name: z.string().min(1).max(255),
  namespace: LOGIN.nullish(),
  owner: z.object({ login: LOGIN }).nullish(),
  package_version: z.object({
    version: z.string().max(255).nullish(),
    created_at: isoTime.nullish(),
    updated_at: isoTime.nullish(),
    container_metadata: z.object({ tag: z.object({ name: tagOrEmpty.nullish(), digest: digest.nullish() }).nullish() }).nullish(),
  }),
});

export const ghcrRepositoryOwnerSchema = z.object({
  repository: z.object({ owner: z.object({ login: LOGIN }).nullish() }).nullish(),
});

export function parseGhcr(body: unknown, headers: Record<string, string | undefined> = {}): ParsedPushes {
  parseBody(z.object({}), body);
  const event = headers['x-github-event'];
  if (event !== undefined && !PACKAGE_EVENTS.has(event)) {
    // `ping` arrives when the hook is created; other events if the hook subscribes to more.
    return { events: [], ignored: [`ghcr: event ${/^[\w.-]{1,64}$/.test(event) ? event : '(unrecognised)'}`] };
  }
  const { action } = parseAt(ghcrActionSchema, body);
  if (action !== 'published') return { events: [], ignored: [`ghcr: action ${action}`] };
  const record = body as Record<string, unknown>;
  const key = Object.hasOwn(record, 'registry_package') || !Object.hasOwn(record, 'package') ? 'registry_package' : 'package';
  const kind = parseAt(ghcrKindSchema, record[key], [key]);
  const type = (kind.package_type ?? kind.ecosystem)?.toLowerCase();
  if (type !== undefined && !CONTAINER_TYPES.has(type)) return { events: [], ignored: [`ghcr: package type ${type}`] };

  const pkg = parseAt(ghcrPackageSchema, record[key], [key]);
  const owner = parseAt(ghcrRepositoryOwnerSchema, body).repository?.owner?.login;
  const namespace = pkg.namespace ?? pkg.owner?.login ?? owner;
  if (namespace === undefined) throw badRequest(`${key}.namespace: is required`, `${key}.namespace`);
  const name = parseAt(repository, `${namespace}/${pkg.name}`.toLowerCase(), [key, 'name']);
  const version = pkg.package_version;
  const tag = version.container_metadata?.tag;
  const fallback = version.version && DIGEST.test(version.version) ? version.version : undefined;
  const image = { tag: tag?.name ?? undefined, digest: tag?.digest ?? fallback };
  requireTagOrDigest(image, `${key}.package_version.container_metadata.tag.digest`);
  return {
    events: [
      pushEvent({
        provider: 'ghcr',
        registry: 'ghcr.io',
        repository: name,
        ...image,
        pushedAt: version.updated_at ?? version.created_at ?? undefined,
      }),
    ],
    ignored: [],
  };
}
