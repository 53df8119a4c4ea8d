// Docker Hub repository webhooks: one tag per call, no digest (the fetcher looks
// it up) and no signature (the route takes `?token=`). Official images arrive
// without a namespace (`ubuntu`); the caller adds `library/` when it compares.
import * as z from 'zod/mini';
import type { ParsedPushes } from '../../domain/types.js';
import { lazy, parseBody, pushEvent, repository, tag, unixSeconds } from './schema.js';

export const dockerhubSchema = lazy(() =>
  z.object({
    push_data: z.object({ tag: tag(), pushed_at: z.optional(unixSeconds()) }),
    repository: z.object({ repo_name: repository() }),
  }));

export function parseDockerhub(body: unknown, _headers: Record<string, string | undefined> = {}): ParsedPushes {
  const { push_data: push, repository: repo } = parseBody(dockerhubSchema(), body);
  return {
    events: [
      pushEvent({ provider: 'dockerhub', registry: 'docker.io', repository: repo.repo_name, tag: push.tag, pushedAt: push.pushed_at }),
    ],
    ignored: [],
  };
}
