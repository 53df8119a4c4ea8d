// Property tests: whatever arrives, a parser either answers a well-formed
// ParsedPushes (bounded repository, valid tag/digest) or throws a 400 naming a
// field — never a TypeError, never a 500.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { ParsedPushes } from '../../src/domain/types.js';
import { HttpError } from '../../src/errors.js';
import { DIGEST } from '../../src/image/reference.js';
import { parseEcrEvent, parsePushWebhook, WEBHOOK_PROVIDERS } from '../../src/registry/payloads/index.js';

type Parse = (body: unknown, headers: Record<string, string | undefined>) => ParsedPushes;
type Path = ReadonlyArray<string | number>;

const TAG = /^[\w][\w.-]{0,127}$/;
const RUNS = { numRuns: 300 };
const load = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../events/push-${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;

// The fields each format reads the repository and the tag from: oversizing them must be refused.
const USED: Record<string, readonly Path[]> = {
  distribution: [['events', 0, 'target', 'repository'], ['events', 0, 'target', 'tag']],
  dockerhub: [['repository', 'repo_name'], ['push_data', 'tag']],
  harbor: [['event_data', 'repository', 'repo_full_name'], ['event_data', 'resources', 0, 'tag']],
  quay: [['repository'], ['updated_tags', 0]],
  acr: [['target', 'repository'], ['target', 'tag']],
  ghcr: [['registry_package', 'name'], ['registry_package', 'package_version', 'container_metadata', 'tag', 'name']],
  generic: [['repository'], ['tag']],
  ecr: [['detail', 'repository-name'], ['detail', 'image-tag']],
};

const PARSERS: Array<[string, Parse, unknown, readonly Path[]]> = [
  ...WEBHOOK_PROVIDERS.map((provider): [string, Parse, unknown, readonly Path[]] => [
    provider,
    (body, headers) => parsePushWebhook(provider, body, headers),
    JSON.parse(load(provider)['body'] as string),
    USED[provider] ?? [],
  ]),
  ['ecr', (event) => parseEcrEvent(event), load('ecr'), USED['ecr'] ?? []],
];

/** The contract: a well-formed answer, or a 400 HttpError with a field. Anything else fails the property. */
function holdsContract(parse: Parse, body: unknown, headers: Record<string, string | undefined> = {}): void {
  let result: ParsedPushes;
  try {
    result = parse(body, headers);
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).statusCode).toBe(400);
    expect(typeof (error as HttpError).field).toBe('string');
    expect((error as HttpError).field).not.toBe('');
    return;
  }
  expect(Array.isArray(result.events)).toBe(true);
  expect(result.ignored.every((reason) => typeof reason === 'string' && reason.length > 0)).toBe(true);
  for (const event of result.events) {
    expect(typeof event.repository).toBe('string');
    expect(event.repository.length).toBeGreaterThan(0);
    expect(event.repository.length).toBeLessThanOrEqual(255);
    if (event.tag !== undefined) expect(event.tag).toMatch(TAG);
    if (event.digest !== undefined) expect(event.digest).toMatch(DIGEST);
    if (event.pushedAt !== undefined) expect(new Date(event.pushedAt).toISOString()).toBe(event.pushedAt);
    if (event.registry !== undefined) expect(event.registry).toMatch(/^[a-z0-9.:[\]-]{1,255}$/);
  }
}

/** Every path into a sample (objects and arrays), so mutations reach each field. */
function pathsOf(value: unknown, prefix: Path = []): Path[] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const keys: Array<string | number> = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [prefix, ...keys.flatMap((key) => pathsOf((value as Record<string | number, unknown>)[key], [...prefix, key]))];
}

type Mutation = { path: Path; op: 'delete' } | { path: Path; op: 'set'; value: unknown };

function mutate(sample: unknown, mutations: readonly Mutation[]): unknown {
  let body = structuredClone(sample);
  for (const mutation of mutations) {
    if (mutation.path.length === 0) {
      body = mutation.op === 'set' ? mutation.value : undefined;
      continue;
    }
    let parent: unknown = body;
    for (const key of mutation.path.slice(0, -1)) {
      parent = typeof parent === 'object' && parent !== null ? (parent as Record<string | number, unknown>)[key] : undefined;
    }
    if (typeof parent !== 'object' || parent === null) continue;
    const last = mutation.path[mutation.path.length - 1] as string | number;
    // An earlier mutation may have turned the parent into an array: only its indexes are mutable fields.
    if (Array.isArray(parent) && typeof last !== 'number') continue;
    if (mutation.op === 'delete') Reflect.deleteProperty(parent, last);
    else Reflect.defineProperty(parent, last, { value: mutation.value, enumerable: true, writable: true, configurable: true });
  }
  return body;
}

const hostileKeys = fc.oneof(
  fc.string(),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'events', 'action', 'target', 'tag', 'repository', 'type'),
);
const wrongValue = fc.oneof(
  fc.jsonValue(),
  fc.integer({ min: 129, max: 5000 }).map((n) => 'a'.repeat(n)), // oversized strings
  fc.constantFrom('', ' ', 'v1 ', '../../etc', 'sha256:', `sha256:${'A'.repeat(64)}`, 1e308, -1, null, [], {}),
  fc.anything({ maxDepth: 3, key: hostileKeys }),
);

function mutations(sample: unknown): fc.Arbitrary<Mutation[]> {
  const path = fc.constantFrom(...pathsOf(sample));
  const one: fc.Arbitrary<Mutation> = fc.oneof(
    path.map((p): Mutation => ({ path: p, op: 'delete' })),
    fc.tuple(path, wrongValue).map(([p, value]): Mutation => ({ path: p, op: 'set', value })),
  );
  return fc.array(one, { minLength: 1, maxLength: 3 });
}

const githubEvent = fc.record({ 'x-github-event': fc.option(fc.constantFrom('registry_package', 'package', 'ping', 'push'), { nil: undefined }) });

describe.each(PARSERS)('%s parser under fuzzing', (name, parse, sample, used) => {
  it('the unmutated sample gives one valid event', () => {
    holdsContract(parse, sample);
    expect(parse(sample, {}).events).toHaveLength(1);
  });

  it('holds the contract for arbitrary JSON values', () => {
    fc.assert(fc.property(fc.jsonValue(), githubEvent, (body, headers) => holdsContract(parse, body, headers)), RUNS);
  });

  it('holds the contract for arbitrary JavaScript values (null prototypes, boxed values, hostile keys)', () => {
    const anything = fc.anything({
      key: hostileKeys,
      withNullPrototype: true,
      withBoxedValues: true,
      withSparseArray: true,
      withMap: true,
      withDate: true,
      withBigInt: true,
      withTypedArray: true,
    });
    fc.assert(fc.property(anything, (body) => holdsContract(parse, body)), RUNS);
  });

  it('holds the contract for mutations of the valid sample (wrong type, deleted, oversized)', () => {
    fc.assert(
      fc.property(mutations(sample), githubEvent, (changes, headers) => holdsContract(parse, mutate(sample, changes), headers)),
      { numRuns: 1000 },
    );
  });

  it(`refuses (never truncates) an oversized repository or tag (${name})`, () => {
    expect(used).toHaveLength(2);
    fc.assert(
      fc.property(fc.constantFrom(...used), fc.integer({ min: 256, max: 4096 }), (path, size) => {
        const body = mutate(sample, [{ path, op: 'set', value: 'a'.repeat(size) }]);
        let error: unknown;
        try {
          parse(body, {});
        } catch (thrown) {
          error = thrown;
        }
        expect(error).toBeInstanceOf(HttpError);
        expect((error as HttpError).statusCode).toBe(400);
        expect((error as HttpError).field).toMatch(path[path.length - 1] === 0 ? /^updated_tags\[0\]$/ : new RegExp(`${String(path[path.length - 1])}$`));
      }),
      { numRuns: 50 },
    );
  });
});
