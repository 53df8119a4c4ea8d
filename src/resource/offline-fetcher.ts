// The offline adapter of the resource-fetch port, for `npm start` and local
// invokes only (settings refuse it with a cluster target): no registry is
// contacted, so the event's digest is taken as is and a fetch without one fails.
import { FetchError } from '../errors.js';
import { pinnedReference } from '../image/reference.js';
import type { ResourceFetcher } from './port.js';

export const OFFLINE_REASON = 'offline (KFM_OFFLINE=true): the registry lookup was skipped and no event carried a digest';

export function createOfflineFetcher(): ResourceFetcher {
  return {
    async fetch(request) {
      if (!request.digest) throw new FetchError(OFFLINE_REASON, { transient: false }); // retrying cannot help
      return {
        registryPath: pinnedReference(request.image, request.digest),
        digest: request.digest,
        tag: request.tag ?? request.image.tag,
        pushedAt: request.pushedAt,
      };
    },
  };
}
