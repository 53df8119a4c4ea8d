// Harbor webhooks (policy type "http"): one payload per artifact event, with
// every tag/digest of the push in `event_data.resources`.
import * as z from 'zod/mini';
import { text } from '../../validation.js';
import type { ParsedPushes } from '../../domain/types.js';
import {
  digest,
  hostOfReference,
  lazy,
  parseAt,
  parseBody,
  pushEvent,
  repository,
  requireTagOrDigest,
  tagOrEmpty,
  unixSeconds,
} from './schema.js';

/** Read first: pulls, deletes, scans and quota events are ignored unvalidated. */
export const harborTypeSchema = lazy(() => z.object({ type: text(z.minLength(1), z.maxLength(64)) }));

export const harborPushSchema = lazy(() =>
  z.object({
    occur_at: z.optional(unixSeconds()),
    event_data: z.object({
      repository: z.object({ repo_full_name: repository() }),
      resources: z.array(
        z.object({
          tag: z.optional(tagOrEmpty()),
          digest: z.optional(digest()),
          // `harbor.example/project/repo:tag`: names the host Harbor serves on.
          resource_url: z.optional(hostOfReference()),
        }),
      ),
    }),
  }));

export function parseHarbor(body: unknown, _headers: Record<string, string | undefined> = {}): ParsedPushes {
  const { type } = parseBody(harborTypeSchema(), body);
  if (type !== 'PUSH_ARTIFACT') return { events: [], ignored: [`harbor: type ${type}`] };
  const { occur_at: pushedAt, event_data: data } = parseAt(harborPushSchema(), body);
  if (data.resources.length === 0) return { events: [], ignored: ['harbor: no resources'] };
  const events = data.resources.map((resource, index) => {
    requireTagOrDigest(resource, `event_data.resources[${index}].digest`);
    return pushEvent({
      provider: 'harbor',
      registry: resource.resource_url,
      repository: data.repository.repo_full_name,
      tag: resource.tag,
      digest: resource.digest,
      pushedAt,
    });
  });
  return { events, ignored: [] };
}
