// Docker Hub repository webhooks: one tag per call, no digest (the fetcher looks
// it up) and no signature (the route takes `?token=`). Official images arrive
// without a namespace (`ubuntu`); the caller adds `library/` when it compares.
import { z } from 'zod';
import type { ParsedPushes } from '../../domain/types.js';
import { parseBody, pushEvent, repository, tag, unixSeconds } from './schema.js';

export const dockerhubSchema = z.object({
  push_data: z.object({ tag, pushed_at: unixSeconds.optional() }),
  repository: z.object({ repo_name: repository }),
});

export function parseDockerhub(body: unknown, _headers: Record<string, string | undefined> = {}): ParsedPushes {
  const { push_data: push, repository: repo } = parseBody(dockerhubSchema, body);
  return {
    events: [
      pushEvent({ provider: 'dockerhub', registry: 'docker.io', repository: repo.repo_name, tag: push.tag, pushedAt: push.pushed_at }),
    ],
    ignored: [],
  };
}
