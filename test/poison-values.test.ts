// Values JSON can carry that break naive code: objects whose `length`,
// `toString` or `valueOf` are not what they seem. Each replaces, one at a time,
// every leaf of every sample body; the parsers must answer with an HttpError
// (400) or parse, never throw anything else (a TypeError would be a 500).
import { describe, expect, it } from '@jest/globals';
import { HttpError } from '../src/errors.js';
import { parseConfigRequest } from '../src/app/config-request.js';
import { parseEcrEvent, parsePushWebhook, WEBHOOK_PROVIDERS } from '../src/registry/payloads/index.js';
import { sampleBody } from './support/payload-samples.js';

const POISONS: unknown[] = [
  JSON.parse('{"length":{"toString":null,"valueOf":null}}'),
  JSON.parse('{"toString":null,"valueOf":null}'),
  JSON.parse('{"length":1e400,"0":"x"}'),
  JSON.parse('[{"toString":null,"valueOf":null}]'),
];

/** Every path to a leaf (string, number, boolean, null) of a JSON value. */
function leaves(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [path];
  const entries = Array.isArray(value) ? value.map((item, index) => [index, item] as const) : Object.entries(value);
  return entries.flatMap(([key, item]) => leaves(item, [...path, key]));
}

function replaced(value: unknown, path: (string | number)[], poison: unknown): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path.at(-1)!] = poison;
  return copy;
}

function expectParsedOrRefused(parse: () => unknown): void {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).statusCode).toBe(400);
  }
}

const config = { config: { port: 8080, 'database-name': 'metadb' }, relations: { mysql: { host: 'mysql', port: 3306, user: 'root', password: 'pw' } } };
const cases: [string, unknown, (body: unknown) => unknown][] = [
  ['config', config, parseConfigRequest],
  ['ecr', sampleBody('push-ecr.json'), parseEcrEvent],
  ...WEBHOOK_PROVIDERS.map((provider): [string, unknown, (body: unknown) => unknown] =>
    [provider, sampleBody(`push-${provider}.json`), (body) => parsePushWebhook(provider, body, { 'x-github-event': 'registry_package' })]),
];

describe.each(cases)('%s: poisoned leaves', (_name, sample, parse) => {
  const paths = leaves(sample);
  it(`answers 400 or parses for each of ${paths.length} leaves × ${POISONS.length} poisons`, () => {
    expect(paths.length).toBeGreaterThan(2);
    for (const path of paths) for (const poison of POISONS) expectParsedOrRefused(() => parse(replaced(sample, path, poison)));
  });
});
