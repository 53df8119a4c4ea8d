// The registry adapter of the resource-fetch port: credentials for the
// configured registry, then the digest from the registry itself. An event's
// digest is verified by digest; a tag is resolved with brief retries, because
// distribution notifies before it links the tag.
import { BogusEventError } from '../errors.js';
import type { ImageInfo } from '../domain/types.js';
import { DIGEST, pinnedReference } from '../image/reference.js';
import { registryClient, RegistryError, type RegistryClient } from '../registry/client.js';
import type { CredentialProvider, FetchRequest, ResourceFetcher } from './port.js';

export interface RetryOptions {
  /** Lookups in all, the first included. */
  attempts: number;
  /** Delay before the second lookup; doubled each time. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** No retry starts after this much time since the first lookup. */
  maxTotalMs: number;
  sleep: (ms: number) => Promise<void>;
}

export interface RegistryFetcherOptions {
  credentials: CredentialProvider;
  client?: RegistryClient;
  retry?: Partial<RetryOptions>;
  /** Per HTTP request (the client's default otherwise). */
  timeoutMs?: number;
}

// 200, 400, 800, 1600 ms: about 3 s of waiting, bounded at 4 s in all.
const defaultRetry: RetryOptions = {
  attempts: 5,
  initialDelayMs: 200,
  maxDelayMs: 1600,
  maxTotalMs: 4000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Runs `lookup` again while it fails with a transient RegistryError (404 right after a push, 5xx, network). */
async function withRetries<T>(lookup: () => Promise<T>, retry: RetryOptions): Promise<T> {
  const started = Date.now();
  let delay = retry.initialDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await lookup();
    } catch (error) {
      const transient = error instanceof RegistryError && error.retryable;
      const late = Date.now() - started + delay > retry.maxTotalMs;
      if (!transient || attempt >= retry.attempts || late) throw error;
    }
    await retry.sleep(delay);
    delay = Math.min(delay * 2, retry.maxDelayMs);
  }
}

export function createRegistryFetcher(options: RegistryFetcherOptions): ResourceFetcher {
  const client = options.client ?? registryClient;
  const retry = { ...defaultRetry, ...options.retry };

  async function fetchImage(request: FetchRequest): Promise<ImageInfo> {
    const { image } = request;
    // Always the registry of KFM_IMAGE: a payload never chooses where credentials go.
    const credentials = await options.credentials.credentialsFor(image.registry);
    const lookup = { credentials, timeoutMs: options.timeoutMs };
    const head = (reference: string) => client.headManifest({ ...image, reference }, lookup);
    let digest: string;
    let tag: string | undefined = request.tag;
    if (request.digest !== undefined) {
      digest = await verifyDigest(request.digest, head);
    } else {
      tag ??= image.tag;
      const resolved = await withRetries(() => head(tag as string), retry);
      digest = resolved.digest;
    }
    return {
      registryPath: pinnedReference(image, digest),
      digest,
      tag,
      pushedAt: request.pushedAt,
      credentials,
    };
  }

  /** The event's digest stands only if the registry serves it under that very digest. */
  async function verifyDigest(claimed: string, head: (reference: string) => Promise<{ digest: string }>): Promise<string> {
    // The manifest is stored before the registry notifies: a 404 for a digest means the event is bogus or stale.
    const refuse = () => new BogusEventError(`the registry has no manifest ${claimed}`);
    if (!DIGEST.test(claimed)) throw new BogusEventError(`the event's digest "${claimed}" is not a sha256 digest`);
    let served: string;
    try {
      served = (await withRetries(() => head(claimed), retry)).digest;
    } catch (error) {
      if (error instanceof RegistryError && error.status === 404) throw refuse();
      throw error;
    }
    if (served !== claimed) throw refuse();
    return served;
  }

  async function listTags(image: FetchRequest['image']): Promise<string[]> {
    const credentials = await options.credentials.credentialsFor(image.registry);
    return withRetries(() => client.listTags(image, { credentials, timeoutMs: options.timeoutMs }), retry);
  }

  return { fetch: fetchImage, listTags };
}
