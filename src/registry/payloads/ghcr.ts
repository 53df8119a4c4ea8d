// GitHub Packages webhooks for GHCR: `registry_package` (package object under
// `registry_package`) or the older `package` event (under `package`). The tag is
// in `package_version.container_metadata.tag`; `version`/`name` hold the digest.
import * as z from 'zod/mini';
import { text } from '../../validation.js';
import type { ParsedPushes } from '../../domain/types.js';
import { badRequest } from '../../errors.js';
import { DIGEST } from '../../image/reference.js';
import { digest, isoTime, lazy, parseAt, parseBody, pushEvent, repository, requireTagOrDigest, tagOrEmpty } from './schema.js';

const PACKAGE_EVENTS = new Set(['registry_package', 'package']);
const CONTAINER_TYPES = new Set(['container', 'docker']);
const login = lazy(() => text(z.regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/, 'must be a GitHub user or organisation name')));

/** An empty body check: anything but a JSON object is refused before the headers are read. */
const objectSchema = lazy(() => z.object({}));

export const ghcrActionSchema = lazy(() => z.object({ action: text(z.minLength(1), z.maxLength(64)) }));

/** Read before the rest: npm, maven, … packages are ignored unvalidated. */
export const ghcrKindSchema = lazy(() =>
  z.object({
    package_type: z.nullish(text(z.maxLength(64))),
    ecosystem: z.nullish(text(z.maxLength(64))),
  }));

export const ghcrPackageSchema = lazy(() =>
  z.object({
    name: text(z.minLength(1), z.maxLength(255)),
    namespace: z.nullish(login()),
    owner: z.nullish(z.object({ login: login() })),
    package_version: z.object({
      version: z.nullish(text(z.maxLength(255))),
      created_at: z.nullish(isoTime()),
      updated_at: z.nullish(isoTime()),
      container_metadata: z.nullish(z.object({ tag: z.nullish(z.object({ name: z.nullish(tagOrEmpty()), digest: z.nullish(digest()) })) })),
    }),
  }));

export const ghcrRepositoryOwnerSchema = lazy(() =>
  z.object({
    repository: z.nullish(z.object({ owner: z.nullish(z.object({ login: login() })) })),
  }));

export function parseGhcr(body: unknown, headers: Record<string, string | undefined> = {}): ParsedPushes {
  parseBody(objectSchema(), body);
  const event = headers['x-github-event'];
  if (event !== undefined && !PACKAGE_EVENTS.has(event)) {
    // `ping` arrives when the hook is created; other events if the hook subscribes to more.
    return { events: [], ignored: [`ghcr: event ${/^[\w.-]{1,64}$/.test(event) ? event : '(unrecognised)'}`] };
  }
  const { action } = parseAt(ghcrActionSchema(), body);
  if (action !== 'published') return { events: [], ignored: [`ghcr: action ${action}`] };
  const record = body as Record<string, unknown>;
  const key = Object.hasOwn(record, 'registry_package') || !Object.hasOwn(record, 'package') ? 'registry_package' : 'package';
  const kind = parseAt(ghcrKindSchema(), record[key], [key]);
  const type = (kind.package_type ?? kind.ecosystem)?.toLowerCase();
  if (type !== undefined && !CONTAINER_TYPES.has(type)) return { events: [], ignored: [`ghcr: package type ${type}`] };

  const pkg = parseAt(ghcrPackageSchema(), record[key], [key]);
  const owner = parseAt(ghcrRepositoryOwnerSchema(), body).repository?.owner?.login;
  const namespace = pkg.namespace ?? pkg.owner?.login ?? owner;
  if (namespace === undefined) throw badRequest(`${key}.namespace: is required`, `${key}.namespace`);
  const name = parseAt(repository(), `${namespace}/${pkg.name}`.toLowerCase(), [key, 'name']);
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
