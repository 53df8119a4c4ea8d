// Quay repository-push notifications: no digest (the fetcher looks it up) and
// no signature (the route takes `?token=`). `updated_tags` is a list, or in
// older payloads an object keyed by tag name.
import * as z from 'zod/mini';
import type { ParsedPushes } from '../../domain/types.js';
import { hostOfReference, lazy, parseBody, pushEvent, repository, tag } from './schema.js';

// The object form's keys are the tags. Object.keys, not a zod record, so a tag
// spelt `__proto__` stays a string instead of becoming an assignment target.
// (zod/mini has no preprocess: it is what classic zod builds, a transform piped into the schema.)
const tagList = () =>
  z.pipe(
    z.transform((value: unknown) => (typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.keys(value) : value)),
    z.array(tag(), 'must be a list of tags or an object keyed by tag'),
  );

export const quaySchema = lazy(() =>
  z.object({
    repository: repository(),
    // `quay.io/kubeflow/metadata`: names the host Quay serves on.
    docker_url: z.optional(hostOfReference()),
    updated_tags: tagList(),
  }));

export function parseQuay(body: unknown, _headers: Record<string, string | undefined> = {}): ParsedPushes {
  const payload = parseBody(quaySchema(), body);
  if (payload.updated_tags.length === 0) return { events: [], ignored: ['quay: no updated tags'] };
  return {
    events: [...new Set(payload.updated_tags)].map((name) =>
      pushEvent({ provider: 'quay', registry: payload.docker_url, repository: payload.repository, tag: name }),
    ),
    ignored: [],
  };
}
