// The hostile request corpus for test/hostile.test.ts: malformed and hostile
// HTTP requests for every route, each with the exact answer it must get.
// Every body route is hit with bad credentials, wrong content types and
// encodings, broken JSON, non-objects, 10000-level nesting, oversized bodies,
// prototype keys, wrong types, huge numbers and strings; plus wrong methods,
// unknown routes and providers, forged signatures, and replays. None of them
// may write: the well-formed ones are irrelevant pushes (202) or replays.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Credentials } from '../../src/settings/settings.js';

export interface HostileRequest {
  name: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Exact status; `error` must match; `field` is compared exactly (400s); `ignored`: a 202 `{"ignored"}` at intake, saying why. */
  expect: { status: number; error?: RegExp; field?: string; ignored?: RegExp };
}

export const PROVIDERS = ['distribution', 'dockerhub', 'harbor', 'quay', 'acr', 'ghcr', 'generic'] as const;
export type Provider = (typeof PROVIDERS)[number];
type Json = Record<string, any>;

const sample = (provider: Provider): Json =>
  JSON.parse(JSON.parse(readFileSync(new URL(`../../events/push-${provider}.json`, import.meta.url), 'utf8')).body as string) as Json;
const DIST_TYPE = 'application/vnd.docker.distribution.events.v1+json';
const typeOf = (route: string) => (route === 'distribution' ? DIST_TYPE : 'application/json');
const MIB = 1024 * 1024;
const E401_MISSING = /^missing credentials: send a Bearer token/;
const E415_TYPE = /Content-Type must be application\/json or a \+json type/;
const E415_ENCODING = /^Content-Encoding ".*" is not supported/;
const E405 = /^method not allowed$/;
const E404_ROUTE = /^no such route$/;
const E404_PROVIDER = /^unknown registry provider/;
const E413 = /^request body is larger than 1048576 bytes$/;

/** Deep copy of `base` with `value` at `path` (undefined deletes). */
function set(base: Json, path: Array<string | number>, value: unknown): Json {
  const copy = structuredClone(base);
  let node: any = copy;
  for (const key of path.slice(0, -1)) node = node[key];
  const last = path[path.length - 1] as string;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

/** A JSON text with a raw (not re-escaped) fragment at the top: `__proto__` keys survive only this way. */
const withRawKey = (base: Json, key: string, raw: string) => `{"${key}":${raw},${JSON.stringify(base).slice(1)}`;

/**
 * Each route is sent its own power's credential where it should get in (DESIGN §5): the push secret
 * on the registry routes (Bearer and signatures), each registry's URL token on its own route, the
 * config, control and status credentials on theirs; every other power's is refused there.
 */
export function hostileCorpus(credentials: Required<Credentials>, replay: { body: string; headers: Record<string, string> }): HostileRequest[] {
  const out: HostileRequest[] = [];
  const push = credentials.push;
  const sign = (body: string | Buffer, key = push) => `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
  /** The credential a route's Bearer takes. */
  const secretOf = (route: string) => (route === 'config' || route === 'control' || route === 'status' ? credentials[route] : push);
  const bearerOf = (route: string) => ({ authorization: `Bearer ${secretOf(route)}` });
  const bearer = bearerOf('distribution');
  const add = (name: string, method: string, path: string, headers: Record<string, string>, body: string | Buffer | undefined, expect: HostileRequest['expect']) =>
    void out.push({ name, method, path, headers, body: body === undefined ? undefined : Buffer.from(body), expect });
  const routes: Array<{ route: string; path: string; sample: Json }> = [
    ...PROVIDERS.map((p) => ({ route: p, path: `/webhooks/registry/${p}`, sample: sample(p) })),
    { route: 'config', path: '/webhooks/config', sample: { config: { port: 9090, 'database-name': 'metadb' }, relations: { mysql: { host: 'mysql', port: 3306, password: 'hostile-mysql-password' } } } },
  ];
  const post = (r: (typeof routes)[number], name: string, body: string | Buffer, expect: HostileRequest['expect'], headers: Record<string, string> = {}) =>
    add(`${r.route}: ${name}`, 'POST', r.path, { 'content-type': typeOf(r.route), ...bearerOf(r.route), ...headers }, body, expect);
  const bad400 = (r: (typeof routes)[number], name: string, body: string | Buffer, field: string, error?: RegExp) =>
    post(r, name, body, { status: 400, field, error: error ?? new RegExp(field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) });

  // 1. Authentication, on every route (the body is the sample: only the credentials are wrong).
  const wrongFor = (secret: string, route: string): Array<[string, Record<string, string>, RegExp]> => [
    ['no credentials', {}, E401_MISSING],
    ['a wrong Bearer', { authorization: 'Bearer wrong-secret-wrong-secret' }, /^bad Bearer token$/],
    ['the secret plus one character', { authorization: `Bearer ${secret}x` }, /^bad Bearer token$/],
    ['the secret minus one character', { authorization: `Bearer ${secret.slice(0, -1)}` }, /^bad Bearer token$/],
    ['an empty Bearer', { authorization: 'Bearer ' }, /^bad Bearer token$/],
    ['Basic with the secret', { authorization: `Basic ${Buffer.from(`admin:${secret}`).toString('base64')}` }, /^bad Bearer token$/],
    ['Token scheme', { authorization: `Token ${secret}` }, /^bad Bearer token$/],
    ['the secret as the whole header', { authorization: secret }, /^bad Bearer token$/],
    ['the secret in X-Api-Key', { 'x-api-key': secret }, E401_MISSING],
    // One credential per power: every other power's, as a Bearer, is a wrong one here.
    ...(Object.entries(credentials) as Array<[keyof Credentials, string]>)
      .filter(([, value]) => value !== secretOf(route))
      .map(([power, value]): [string, Record<string, string>, RegExp] => [`the ${power} credential as Bearer`, { authorization: `Bearer ${value}` }, /^bad Bearer token$/]),
  ];
  for (const r of [...routes, { route: 'control', path: '/control', sample: { suspend: true } }]) {
    const secret = secretOf(r.route);
    for (const [name, headers, error] of wrongFor(secret, r.route)) {
      add(`${r.route}: ${name}`, 'POST', r.path, { 'content-type': typeOf(r.route), ...headers }, JSON.stringify(r.sample), { status: 401, error });
    }
    if (!['dockerhub', 'quay'].includes(r.route)) {
      for (const token of new Set([secret, credentials.dockerhub])) {
        const which = token === secret ? 'its own credential' : 'the Docker Hub token';
        add(`${r.route}: ?token= (${which}) where the route takes none`, 'POST', `${r.path}?token=${token}`, { 'content-type': typeOf(r.route) }, JSON.stringify(r.sample), { status: 401, error: E401_MISSING });
      }
    }
    if (!['ghcr', 'generic'].includes(r.route)) {
      const body = JSON.stringify(r.sample);
      for (const key of new Set([push, secret])) {
        const which = key === push ? 'the push secret' : 'its own credential';
        add(`${r.route}: a valid HMAC (${which}) where the route takes none`, 'POST', r.path, { 'content-type': typeOf(r.route), 'x-hub-signature-256': sign(body, key), 'x-signature': sign(body, key) }, body, { status: 401, error: E401_MISSING });
      }
    }
  }
  for (const [name, headers, error] of wrongFor(credentials.status, 'status')) add(`status: ${name}`, 'GET', '/status', headers, undefined, { status: 401, error });
  add('status: ?token=', 'GET', `/status?token=${credentials.status}`, {}, undefined, { status: 401, error: E401_MISSING });

  // 2. The extra schemes: forged and bad signatures, wrong URL tokens.
  for (const [route, header, scheme] of [['ghcr', 'x-hub-signature-256', 'X-Hub-Signature-256'], ['generic', 'x-signature', 'X-Signature']] as const) {
    const r = routes.find((x) => x.route === route)!;
    const body = JSON.stringify(r.sample);
    const forged = JSON.stringify(route === 'ghcr' ? set(r.sample, ['registry_package', 'package_version', 'container_metadata', 'tag', 'name'], 'v0.1.8') : { ...r.sample, tag: 'v0.1.8' });
    const error = new RegExp(`^bad ${scheme} signature$`);
    const secret = push;
    const cases: Array<[string, string, string]> = [
      ...(['dockerhub', 'quay', 'config', 'control', 'status'] as const).map((power): [string, string, string] => [`signed with the ${power} credential`, body, sign(body, credentials[power])]),
      ['a forged body under a valid signature', forged, sign(body)],
      ['a body with one byte added', `${body} `, sign(body)],
      ['all-zero signature', body, `sha256=${'0'.repeat(64)}`],
      ['sha1= prefix', body, `sha1=${createHmac('sha1', secret).update(body).digest('hex')}`],
      ['no prefix', body, sign(body).slice(7)],
      ['signed with another key', body, sign(body, `${secret}-other`)],
      ['an empty signature', body, ''],
      ['the secret as the signature', body, secret],
      ['a truncated signature', body, sign(body).slice(0, 40)],
    ];
    for (const [name, sent, signature] of cases) add(`${route}: ${name}`, 'POST', r.path, { 'content-type': 'application/json', [header]: signature }, sent, { status: 401, error });
    add(`${route}: bad signature and bad Bearer`, 'POST', r.path, { 'content-type': 'application/json', [header]: sign(body, 'x'), authorization: 'Bearer nope' }, body, { status: 401, error: new RegExp(`^bad Bearer token, ${scheme} signature$`) });
  }
  for (const route of ['dockerhub', 'quay'] as const) {
    const r = routes.find((x) => x.route === route)!;
    const body = JSON.stringify(r.sample);
    const secret = credentials[route];
    const others = (Object.entries(credentials) as Array<[keyof Credentials, string]>).filter(([power]) => power !== route);
    for (const [name, query] of [
      ['a wrong ?token=', 'token=wrong-token-0123456789-0123456789ab'], ['an empty ?token=', 'token='], ['?token= plus a NUL', `token=${secret}%00`], ['?token= with a prefix', `token=x${secret}`],
      // Each URL token is valid on its own route only; no other power's credential is one.
      ...others.map(([power, value]) => [`the ${power} credential as ?token=`, `token=${encodeURIComponent(value)}`]),
    ]) {
      add(`${route}: ${name}`, 'POST', `${r.path}?${query}`, { 'content-type': 'application/json' }, body, { status: 401, error: /^bad \?token= parameter$/ });
    }
    add(`${route}: ?TOKEN= (wrong case)`, 'POST', `${r.path}?TOKEN=${secret}`, { 'content-type': 'application/json' }, body, { status: 401, error: E401_MISSING });
  }

  // 3. Content types and encodings (authenticated, valid body).
  const types = ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp', 'text/json', 'application/json-patch', 'json', '*/*'];
  for (const r of routes) {
    const body = JSON.stringify(r.sample);
    add(`${r.route}: no Content-Type`, 'POST', r.path, bearerOf(r.route), body, { status: 415, error: E415_TYPE });
    for (const type of types) post(r, `Content-Type ${type}`, body, { status: 415, error: E415_TYPE }, { 'content-type': type });
    for (const encoding of ['gzip', 'br', 'deflate', 'identity, gzip']) post(r, `Content-Encoding ${encoding}`, body, { status: 415, error: E415_ENCODING }, { 'content-encoding': encoding });
  }

  // 4. Bodies that are not a JSON object.
  const notJson = ['not json', '<events/>', 'events=1&tag=v1', "{'single': 'quotes'}", '{"a":1,}', 'NaN', 'Infinity', 'undefined', '{"a": 1} trailing', '{"a": "unterminated', '\u0000{}', '{"a":1}{"b":2}'];
  const nonObjects = ['[]', '[{}]', '1', '-0', '"a string"', 'null', 'true', '1e400', '[[[]]]'];
  for (const r of routes) {
    const body = JSON.stringify(r.sample);
    bad400(r, 'an empty body', '', 'body', /^body: a JSON body is required$/);
    bad400(r, 'whitespace only', ' \n\t ', 'body', /^body: a JSON body is required$/);
    for (const text of notJson) bad400(r, `non-JSON ${JSON.stringify(text.slice(0, 12))}`, text, 'body', /^body: not valid JSON/);
    for (const cut of [1, 0.1, 0.3, 0.5, 0.7, 0.9, body.length - 1]) bad400(r, `truncated at ${cut}`, body.slice(0, cut < 1 ? Math.floor(body.length * cut) : cut), 'body', /^body: not valid JSON/);
    for (const text of nonObjects) bad400(r, `the JSON value ${text}`, text, 'body', /^body must be a JSON object$/);
    bad400(r, 'invalid UTF-8 before the JSON', Buffer.concat([Buffer.from([0xff, 0xfe, 0xfd]), Buffer.from(body)]), 'body', /^body: not valid JSON/);
    bad400(r, 'a byte-order mark', `\uFEFF${body}`, 'body', /^body: not valid JSON/);
    const nested = /^body: nested deeper than 32 levels$/;
    bad400(r, '10000 nested arrays', `${'['.repeat(10000)}${']'.repeat(10000)}`, 'body', nested);
    bad400(r, '10000 nested objects', `${'{"a":'.repeat(10000)}1${'}'.repeat(10000)}`, 'body', nested);
    bad400(r, '10000 unclosed brackets', '['.repeat(10000), 'body', nested);
    bad400(r, '33 levels inside the sample', `{"deep":${'['.repeat(33)}${']'.repeat(33)},${body.slice(1)}`, 'body', nested);
  }

  // 5. Valid JSON, wrong content: the 400 names the field.
  const at = (route: string) => routes.find((x) => x.route === route)!;
  const huge = 'a'.repeat(300_000);
  const d = at('distribution');
  const dist = d.sample;
  const e0 = ['events', 0];
  for (const [name, body, field] of [
    ['events a string', { events: 'x' }, 'events'], ['no events', {}, 'events'], ['an event that is a number', { events: [1] }, 'events[0]'],
    ['action a number', set(dist, [...e0, 'action'], 5), 'events[0].action'], ['action 100 chars', set(dist, [...e0, 'action'], 'x'.repeat(100)), 'events[0].action'],
    ['repository a number', set(dist, [...e0, 'target', 'repository'], 123), 'events[0].target.repository'],
    ['repository 300000 chars', set(dist, [...e0, 'target', 'repository'], huge), 'events[0].target.repository'],
    ['a tag with a space', set(dist, [...e0, 'target', 'tag'], 'bad tag'), 'events[0].target.tag'],
    ['a short digest', set(dist, [...e0, 'target', 'digest'], 'sha256:abc'), 'events[0].target.digest'],
    ['timestamp "yesterday"', set(dist, [...e0, 'timestamp'], 'yesterday'), 'events[0].timestamp'],
    ['timestamp year 99999', set(dist, [...e0, 'timestamp'], '99999-01-01T00:00:00Z'), 'events[0].timestamp'],
    ['no target', set(dist, [...e0, 'target'], undefined), 'events[0].target'],
    ['neither tag nor digest', set(set(dist, [...e0, 'target', 'tag'], undefined), [...e0, 'target', 'digest'], undefined), 'events[0].target.digest'],
  ] as const) bad400(d, name, JSON.stringify(body), field);
  bad400(d, '__proto__ holding the events', withRawKey({}, '__proto__', JSON.stringify({ events: dist.events })).replace(/,}$/, '}'), 'events');
  bad400(d, 'constructor.prototype holding the events', JSON.stringify({ constructor: { prototype: { events: dist.events } } }), 'events');
  const hub = at('dockerhub').sample;
  for (const [name, body, field] of [
    ['no push_data', set(hub, ['push_data'], undefined), 'push_data'], ['tag a number', set(hub, ['push_data', 'tag'], 123), 'push_data.tag'],
    ['pushed_at 1e308', set(hub, ['push_data', 'pushed_at'], 1e308), 'push_data.pushed_at'], ['pushed_at -5', set(hub, ['push_data', 'pushed_at'], -5), 'push_data.pushed_at'],
    ['pushed_at a string', set(hub, ['push_data', 'pushed_at'], '1767268800'), 'push_data.pushed_at'],
    ['repo_name empty', set(hub, ['repository', 'repo_name'], ''), 'repository.repo_name'], ['repository a list', set(hub, ['repository'], []), 'repository'],
    ['repo_name 300000 chars', set(hub, ['repository', 'repo_name'], huge), 'repository.repo_name'],
  ] as const) bad400(at('dockerhub'), name, JSON.stringify(body), field);
  const harbor = at('harbor').sample;
  const res0 = ['event_data', 'resources', 0];
  for (const [name, body, field] of [
    ['type a number', set(harbor, ['type'], 123), 'type'], ['no type', set(harbor, ['type'], undefined), 'type'],
    ['no event_data', set(harbor, ['event_data'], undefined), 'event_data'], ['resources a string', set(harbor, ['event_data', 'resources'], 'x'), 'event_data.resources'],
    ['an md5 digest', set(harbor, [...res0, 'digest'], `md5:${'a'.repeat(32)}`), 'event_data.resources[0].digest'],
    ['resource_url with a bad host', set(harbor, [...res0, 'resource_url'], 'http://bad host!/x:y'), 'event_data.resources[0].resource_url'],
    ['a resource without tag or digest', set(harbor, ['event_data', 'resources'], [{}]), 'event_data.resources[0].digest'],
    ['repo_full_name a number', set(harbor, ['event_data', 'repository', 'repo_full_name'], 7), 'event_data.repository.repo_full_name'],
  ] as const) bad400(at('harbor'), name, JSON.stringify(body), field);
  bad400(at('harbor'), 'occur_at 1e400 (Infinity)', JSON.stringify(harbor).replace(/"occur_at":\d+/, '"occur_at":1e400'), 'occur_at');
  const quay = at('quay').sample;
  for (const [name, body, field] of [
    ['no repository', set(quay, ['repository'], undefined), 'repository'], ['updated_tags a string', set(quay, ['updated_tags'], 'v1'), 'updated_tags'],
    ['a numeric tag', set(quay, ['updated_tags'], [1]), 'updated_tags[0]'], ['a tag with a space', set(quay, ['updated_tags'], ['bad tag']), 'updated_tags[0]'],
    ['tags keyed by a bad name', set(quay, ['updated_tags'], { 'bad tag': {} }), 'updated_tags[0]'], ['docker_url a number', set(quay, ['docker_url'], 123), 'docker_url'],
  ] as const) bad400(at('quay'), name, JSON.stringify(body), field);
  const acr = at('acr').sample;
  for (const [name, body, field] of [
    ['action a number', set(acr, ['action'], 5), 'action'], ['no target', set(acr, ['target'], undefined), 'target'],
    ['repository a number', set(acr, ['target', 'repository'], 1), 'target.repository'], ['a bad request.host', set(acr, ['request', 'host'], 'bad host!'), 'request.host'],
    ['month 13', set(acr, ['timestamp'], '2026-13-45T00:00:00Z'), 'timestamp'],
    ['neither tag nor digest', set(set(acr, ['target', 'tag'], undefined), ['target', 'digest'], undefined), 'target.digest'],
  ] as const) bad400(at('acr'), name, JSON.stringify(body), field);
  const gh = at('ghcr').sample;
  const pv = ['registry_package', 'package_version'];
  for (const [name, body, field] of [
    ['no action', set(gh, ['action'], undefined), 'action'], ['registry_package a string', set(gh, ['registry_package'], 'x'), 'registry_package'],
    ['no package_version', set(gh, [...pv], undefined), 'registry_package.package_version'], ['an empty name', set(gh, ['registry_package', 'name'], ''), 'registry_package.name'],
    ['a bad namespace', set(gh, ['registry_package', 'namespace'], 'bad ns!'), 'registry_package.namespace'],
    ['a bad digest', set(gh, [...pv, 'container_metadata', 'tag', 'digest'], 'x'), 'registry_package.package_version.container_metadata.tag.digest'],
    ['updated_at "never"', set(gh, [...pv, 'updated_at'], 'never'), 'registry_package.package_version.updated_at'],
  ] as const) {
    const text = JSON.stringify(body);
    post(at('ghcr'), `${name} (signed)`, text, { status: 400, field, error: new RegExp(field.replace(/[.[\]]/g, '\\$&')) }, { authorization: '', 'x-hub-signature-256': sign(text) });
  }
  const gen = at('generic').sample;
  for (const [name, body, field] of [
    ['no repository', set(gen, ['repository'], undefined), 'repository'], ['a misspelt key', { ...gen, registy: 'gcr.io' }, 'registy'],
    ['a constructor key', { ...gen, constructor: { prototype: { tag: 'v0.1.8' } } }, 'constructor'], ['tag a number', set(gen, ['tag'], 5), 'tag'],
    ['neither tag nor digest', set(set(gen, ['tag'], undefined), ['digest'], undefined), 'tag'], ['pushedAt "x"', set(gen, ['pushedAt'], 'x'), 'pushedAt'],
    ['a bad registry', set(gen, ['registry'], 'not a host!'), 'registry'], ['digest an array', set(gen, ['digest'], ['sha256:x']), 'digest'],
  ] as const) bad400(at('generic'), name, JSON.stringify(body), field);
  bad400(at('generic'), 'a __proto__ key', withRawKey(gen, '__proto__', '{"tag":"v0.1.8"}'), '__proto__');
  // Repository names outside the OCI distribution grammar (or over 255 characters), one set per format:
  // a bogus event, a 400 naming the field, never "another repository" (202) nor a 5xx.
  const badNames = ['kubeflow-images-public//metadata', 'Kubeflow-Images-Public/metadata', 'kubeflow-images-public/metadata.', '-kubeflow/metadata', 'kubeflow/meta___data', `kubeflow/${'m'.repeat(247)}`];
  const repositoryAt: Array<[Provider, Array<string | number>, string]> = [
    ['distribution', [...e0, 'target', 'repository'], 'events[0].target.repository'],
    ['dockerhub', ['repository', 'repo_name'], 'repository.repo_name'],
    ['harbor', ['event_data', 'repository', 'repo_full_name'], 'event_data.repository.repo_full_name'],
    ['quay', ['repository'], 'repository'],
    ['acr', ['target', 'repository'], 'target.repository'],
    ['generic', ['repository'], 'repository'],
  ];
  for (const [route, path, field] of repositoryAt) {
    for (const name of badNames) bad400(at(route), `an invalid repository name ${JSON.stringify(name.slice(0, 40))}${name.length > 40 ? ` (${name.length} characters)` : ''}`, JSON.stringify(set(at(route).sample, path, name)), field);
  }
  // GHCR lower-cases `<namespace>/<name>` as GHCR does; the rest of the grammar holds.
  for (const name of ['metadata..x', 'metadata/', '_metadata', 'm'.repeat(240)]) {
    const text = JSON.stringify(set(gh, ['registry_package', 'name'], name));
    post(at('ghcr'), `an invalid repository name ${JSON.stringify(name.slice(0, 20))} (signed)`, text, { status: 400, field: 'registry_package.name', error: /^registry_package\.name: must (be a repository name|be at most 255)/ }, { authorization: '', 'x-hub-signature-256': sign(text) });
  }
  const cfg = at('config');
  const mysql = { host: 'mysql', port: 3306, password: 'hostile-mysql-password' };
  const port = (raw: string) => `{"config":{"port":${raw}}}`;
  for (const raw of ['"8080"', '0', '65536', '-1', '80.5', '1e400', '123456789012345678901234567890', 'null', 'true', '[8080]', '{}']) bad400(cfg, `config.port ${raw}`, port(raw), 'config.port');
  for (const [name, body, field] of [
    ['a misspelt setting', { config: { prot: 1 } }, 'config.prot'], ['database-name with SQL', { config: { 'database-name': 'x; DROP DATABASE y' } }, 'config.database-name'],
    ['database-name 100000 chars', { config: { 'database-name': 'a'.repeat(100_000) } }, 'config.database-name'], ['config a list', { config: [] }, 'config'],
    ['config null', { config: null }, 'config'], ['relations a string', { relations: 'x' }, 'relations'],
    ['a host with a shell command', { relations: { mysql: { ...mysql, host: 'db; rm -rf /' } } }, 'relations.mysql.host'],
    ['a 300-character host', { relations: { mysql: { ...mysql, host: 'a'.repeat(300) } } }, 'relations.mysql.host'],
    ['port a string', { relations: { mysql: { ...mysql, port: '3306' } } }, 'relations.mysql.port'],
    ['an empty password', { relations: { mysql: { ...mysql, password: '' } } }, 'relations.mysql.password'],
    ['a 2000-character password', { relations: { mysql: { ...mysql, password: 'p'.repeat(2000) } } }, 'relations.mysql.password'],
    ['a user with a space', { relations: { mysql: { ...mysql, user: 'root user' } } }, 'relations.mysql.user'],
    ['no password', { relations: { mysql: { host: 'mysql', port: 3306 } } }, 'relations.mysql.password'],
    ['an unknown relation', { relations: { postgres: {} } }, 'relations.postgres'], ['an unknown mysql key', { relations: { mysql: { ...mysql, root: true } } }, 'relations.mysql.root'],
    ['an unknown top-level key', { settings: {} }, 'settings'], ['a constructor key', { constructor: { prototype: { config: { port: 1 } } } }, 'constructor'],
  ] as const) bad400(cfg, name, JSON.stringify(body), field);
  bad400(cfg, 'a __proto__ key', withRawKey({ config: { port: 8080 } }, '__proto__', '{"config":{"port":1}}'), '__proto__');
  bad400(cfg, 'config.__proto__', '{"config":{"__proto__":{"port":1},"port":8080}}', 'config.__proto__');
  bad400(cfg, 'relations.__proto__', '{"relations":{"__proto__":{"mysql":null}}}', 'relations.__proto__');

  // 6. Well-formed but irrelevant pushes, and replays: 202 with the reason.
  const ignored: HostileRequest['expect'] = { status: 202, error: undefined };
  for (const r of routes.filter((x) => x.route !== 'config')) {
    const body = JSON.stringify(r.sample);
    // Each with the route's own scheme where it has one: the signature, the URL token.
    const query = r.route === 'dockerhub' || r.route === 'quay' ? `?token=${encodeURIComponent(credentials[r.route])}` : '';
    const auth: Record<string, string> = r.route === 'ghcr' ? { 'x-hub-signature-256': sign(body) } : r.route === 'generic' ? { 'x-signature': sign(body) } : query ? {} : bearer;
    add(`${r.route}: the sample event (another registry, tag or older)`, 'POST', `${r.path}${query}`, { 'content-type': typeOf(r.route), ...auth }, body, ignored);
  }
  for (const [route, name, body] of [
    ['distribution', 'no events', { events: [] }], ['distribution', 'a pull', set(dist, [...e0, 'action'], 'pull')],
    ['distribution', 'a blob push', set(dist, [...e0, 'target', 'mediaType'], 'application/octet-stream')],
    ['harbor', 'a delete', set(harbor, ['type'], 'DELETE_ARTIFACT')], ['acr', 'a delete', set(acr, ['action'], 'delete')], ['ghcr', 'an update', set(gh, ['action'], 'updated')],
    ['quay', 'no tags', set(quay, ['updated_tags'], [])], ['generic', 'another repository', set(gen, ['repository'], 'someone/else')],
    ['quay', 'a tag named __proto__', JSON.parse('{"repository":"kubeflow-images-public/metadata","updated_tags":{"__proto__":{}}}')],
  ] as const) post(at(route), `irrelevant: ${name}`, JSON.stringify(body), ignored);
  // Distribution names the registry in request.host: a push from another host is not for KFM_IMAGE,
  // however new (without the check it would be applied), and is never queued.
  const newer = (host: unknown) => set(set(set(dist, [...e0, 'timestamp'], '2031-01-01T00:00:00Z'), [...e0, 'target', 'digest'], `sha256:${'8'.repeat(64)}`), [...e0, 'request', 'host'], host);
  for (const [name, host, reason] of [
    ['a newer push from another registry', 'evil.example:5000', /registry evil\.example:5000 is not gcr\.io/],
    ['a newer push from another port of the registry', 'gcr.io:5000', /registry gcr\.io:5000 is not gcr\.io/],
    ['a newer push from Docker Hub', 'index.docker.io', /registry docker\.io is not gcr\.io/],
    ['a newer push whose request.host is no host name', 'evil host/../', /events\[0\]: request\.host is not a registry host name/],
  ] as const) post(d, `foreign: ${name}`, JSON.stringify(newer(host)), { status: 202, ignored: reason });
  // The registry's own host, as a client may spell it (case, default port): queued, then older than what runs.
  post(d, 'an older push from KFM_IMAGE\'s registry (request.host GCR.io:443)', JSON.stringify(set(dist, [...e0, 'request', 'host'], 'GCR.io:443')), ignored);
  add('ghcr: a ping event', 'POST', at('ghcr').path, { 'content-type': 'application/json', ...bearer, 'x-github-event': 'ping' }, JSON.stringify({ zen: 'x', hook_id: 1 }), ignored);
  for (let n = 1; n <= 3; n++) add(`replay ${n} of the applied push`, 'POST', '/webhooks/registry/distribution', replay.headers, replay.body, ignored);

  // 7. Methods, routes and providers.
  for (const r of [...routes, { route: 'control', path: '/control' }, { route: 'status', path: '/status' }]) {
    for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS', r.route === 'status' ? 'POST' : 'GET']) add(`${r.route}: ${method}`, method, r.path, bearerOf(r.route), undefined, { status: 405, error: E405 });
  }
  for (const path of ['/', '/webhooks', '/webhooks/registry', '/webhooks/registry/', '/webhooks/registry/ghcr/extra', '/status/', '/STATUS', '/webhooks/config/', '/webhooks//config', '/favicon.ico', '/webhooks/registry/ghcr/../../status/x']) {
    add(`route ${path}`, 'POST', path, { 'content-type': 'application/json', ...bearer }, '{}', { status: 404, error: E404_ROUTE });
  }
  for (const provider of ['unknown', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'Distribution', 'GHCR', 'ecr', '%00', '%2F', 'a'.repeat(1000), '%E2%80%8Bghcr']) {
    const path = `/webhooks/registry/${provider}`;
    add(`provider ${provider.slice(0, 20)}`, 'POST', path, { 'content-type': 'application/json', ...bearer }, '{}', { status: 404, error: E404_PROVIDER });
    add(`provider ${provider.slice(0, 20)} unauthenticated`, 'POST', path, { 'content-type': 'application/json' }, '{}', { status: 401, error: E401_MISSING });
  }
  for (const path of ['/webhooks/registry/%E0%A4%A', '/webhooks/registry/%', '/webhooks/registry/%zz']) {
    add(`malformed percent-encoding ${path}`, 'POST', path, { 'content-type': 'application/json', ...bearer }, '{}', { status: 400, error: /percent-encoding/ });
  }

  // 8. Sizes: over 1 MiB is refused before authentication; over 10 MiB by the server itself.
  const big = (bytes: number) => `{"pad":"${'x'.repeat(bytes)}"}`;
  for (const r of routes) {
    post(r, 'a body over 1 MiB', big(MIB), { status: 413, error: E413 });
    add(`${r.route}: over 1 MiB, unauthenticated`, 'POST', r.path, { 'content-type': typeOf(r.route) }, big(MIB), { status: 413, error: E413 });
    post(r, 'over 1 MiB of invalid UTF-8', Buffer.alloc(MIB + 10, 0xff), { status: 413, error: E413 });
  }
  add('status: a GET with a 2 MiB body', 'GET', '/status', bearerOf('status'), big(2 * MIB), { status: 413, error: E413 });
  add('config: an 11 MiB body', 'POST', '/webhooks/config', { 'content-type': 'application/json', ...bearerOf('config') }, big(11 * MIB), { status: 413, error: /^request body too large$/ });
  return out;
}
