// MySQL credentials by reference: `relations.mysql.passwordSecretRef: {name, key}` points the
// container's MYSQL_ROOT_PASSWORD at an existing Secret. Through createDeployer on the directory
// target: the Deployment's secretKeyRef names that Secret, the deployer writes no MySQL Secret of
// its own and never reads the referenced one; a ref change restarts the pods like a password
// change does. And intake's side: exactly one of password and passwordSecretRef.
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createDeployer, type Deployer, type Trigger } from '../src/app/deployer.js';
import { parseConfigRequest } from '../src/app/config-request.js';
import { parseCommand } from '../src/domain/commands.js';
import type { KubeObject } from '../src/domain/types.js';
import { HttpError } from '../src/errors.js';
import { parseImageRef } from '../src/image/reference.js';
import { configCommand, triggerOf } from '../src/intake/commands.js';
import { silentLogger } from '../src/log.js';
import { parseTagPolicy } from '../src/policy/tag-policy.js';
import { createOfflineFetcher } from '../src/resource/offline-fetcher.js';
import { createDirectoryTarget } from '../src/targets/directory.js';
import type { ObjectKey, Target } from '../src/targets/port.js';
import { leaksIn, watchSecrets, watchStore } from './support/leak-guard.js';

const OPERATOR_PASSWORD = 'operator-made-mysql-Pa55word';
const OWN_PASSWORD = 'deployer-held-mysql-Pa55word';
watchSecrets(OPERATOR_PASSWORD, OWN_PASSWORD);
const image = parseImageRef('gcr.io/kubeflow-images-public/metadata:v0.1.8');
const tagPolicy = parseTagPolicy('track', image.tag);
const DIGEST = `sha256:${'a'.repeat(64)}`;
const REF = { name: 'metadata-db-mysql', key: 'root-password' };
const relation = { host: 'metadata-db.kubeflow.svc', port: 3306, user: 'root' };

let dir: string;
let reads: ObjectKey[];
let deployer: Deployer;
let unwatch: () => void;

/** The directory target, recording every read. */
function recordingTarget(): Target {
  const target = createDirectoryTarget({ path: dir, namespace: 'kubeflow' });
  return { description: target.description, read: (key) => (reads.push(key), target.read(key)), write: (desired, live) => target.write(desired, live) };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kfm-mysql-ref-'));
  reads = [];
  deployer = createDeployer({ app: 'kubeflow-metadata', namespace: 'kubeflow', image, tagPolicy, setStatus: true, target: recordingTarget(), fetcher: createOfflineFetcher(), logger: silentLogger });
  // What the MySQL operator made: the deployer must leave it alone.
  await mkdir(join(dir, 'kubeflow'), { recursive: true });
  await writeFile(join(dir, 'kubeflow', `secret-${REF.name}.yaml`), `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${REF.name}\n  namespace: kubeflow\ndata:\n  ${REF.key}: ${Buffer.from(OPERATOR_PASSWORD).toString('base64')}\n`);
  // The leak guard's own check: no password in a stored object other than a Secret.
  unwatch = watchStore('the objects the deployer stored', async () => (await readObjects()).filter((o) => o.kind !== 'Secret').map((o) => JSON.stringify(o)).join('\n'));
});
afterEach(async () => {
  // Stricter for the operator's password: in nothing but the operator's Secret, the deployer's own Secret included.
  const written = (await readObjects()).filter((o) => o.metadata.name !== REF.name).map((o) => JSON.stringify(o)).join('\n');
  expect(leaksIn(written, [OPERATOR_PASSWORD])).toEqual([]);
  unwatch();
  await rm(dir, { recursive: true, force: true });
});

const read = (kind: string, name: string) => createDirectoryTarget({ path: dir, namespace: 'kubeflow' }).read({ kind, name });
async function readObjects(): Promise<KubeObject[]> {
  const { readdir } = await import('node:fs/promises');
  const files = await readdir(join(dir, 'kubeflow')).catch(() => [] as string[]);
  const { parse } = await import('yaml');
  return Promise.all(files.map(async (file) => parse(await readFile(join(dir, 'kubeflow', file), 'utf8')) as KubeObject));
}
const container = async () => ((await read('Deployment', 'kubeflow-metadata'))?.spec as any)?.template.spec.containers[0];
const podAnnotations = async () => ((await read('Deployment', 'kubeflow-metadata'))?.spec as any)?.template.metadata.annotations;
const state = async () => JSON.parse(((await read('ConfigMap', 'kubeflow-metadata-deployer-state'))!.data as Record<string, string>)['state.json']!);

const config = (mysql: Record<string, unknown>): Trigger => ({ hook: 'config-changed', mysql: { ...relation, ...mysql } as never });
const push: Trigger = { hook: 'upgrade-charm', pushes: [{ provider: 'distribution', repository: 'kubeflow-images-public/metadata', tag: 'v0.1.8', digest: DIGEST }] };

describe('passwordSecretRef on the directory target', () => {
  it('points MYSQL_ROOT_PASSWORD at the existing Secret; writes no MySQL Secret; never reads the referenced one', async () => {
    await deployer.run(config({ passwordSecretRef: REF }));
    const report = await deployer.run(push);
    expect(report.status).toEqual({ state: 'active', message: '' });
    expect((await container()).env).toEqual([{ name: 'MYSQL_ROOT_PASSWORD', valueFrom: { secretKeyRef: REF } }]);
    // The server still takes the password by reference to the variable, never its value.
    expect((await container()).command).toContain('--mysql_service_password=$(MYSQL_ROOT_PASSWORD)');
    expect(await read('Secret', 'kubeflow-metadata-mysql')).toBeUndefined();
    expect(report.changes.map((c) => `${c.kind}/${c.name}`)).not.toContain('Secret/kubeflow-metadata-mysql');
    expect(reads.filter((key) => key.name === REF.name)).toEqual([]);
    expect((await state()).mysql).toEqual({ ...relation, passwordSecretRef: REF });
    // The operator's Secret is as the operator wrote it.
    expect((await read('Secret', REF.name))?.data).toEqual({ [REF.key]: Buffer.from(OPERATOR_PASSWORD).toString('base64') });
  });

  it('keeps the reference across later events (a push, a config without relations), with no write for a repeat', async () => {
    await deployer.run(config({ passwordSecretRef: REF }));
    await deployer.run(push);
    await deployer.run({ hook: 'config-changed', config: { port: 9090 } });
    expect((await container()).env[0].valueFrom.secretKeyRef).toEqual(REF);
    expect((await container()).ports[0].containerPort).toBe(9090);
    const repeat = await deployer.run(config({ passwordSecretRef: REF }));
    expect(repeat.changes).toEqual([]);
    expect(repeat.flags).not.toContain('mysql.changed');
  });

  it.each([
    ['another Secret', { name: 'metadata-db-mysql-v2', key: REF.key }],
    ['another key', { name: REF.name, key: 'password' }],
  ])('a ref to %s is a mysql change: the pods restart (new revision) and read it', async (_what, next) => {
    await deployer.run(config({ passwordSecretRef: REF }));
    await deployer.run(push);
    const before = await podAnnotations();
    const report = await deployer.run(config({ passwordSecretRef: next }));
    expect(report.flags).toContain('mysql.changed');
    expect((await container()).env[0].valueFrom.secretKeyRef).toEqual(next);
    expect(await podAnnotations()).not.toEqual(before);
  });

  it('from a password to a ref: the Deployment leaves the deployer\'s Secret for the referenced one; and back', async () => {
    await deployer.run(config({ password: OWN_PASSWORD }));
    await deployer.run(push);
    expect((await container()).env[0].valueFrom.secretKeyRef).toEqual({ name: 'kubeflow-metadata-mysql', key: 'MYSQL_ROOT_PASSWORD' });
    const toRef = await deployer.run(config({ passwordSecretRef: REF }));
    expect(toRef.flags).toContain('mysql.changed');
    expect((await container()).env[0].valueFrom.secretKeyRef).toEqual(REF);
    expect(toRef.changes.map((c) => `${c.kind}/${c.name}`)).not.toContain('Secret/kubeflow-metadata-mysql');
    expect((await state()).mysql).toEqual({ ...relation, passwordSecretRef: REF });
    const back = await deployer.run(config({ password: OWN_PASSWORD }));
    expect(back.flags).toContain('mysql.changed');
    expect((await container()).env[0].valueFrom.secretKeyRef).toEqual({ name: 'kubeflow-metadata-mysql', key: 'MYSQL_ROOT_PASSWORD' });
    expect((await state()).mysql).toEqual(relation);
  });

  it('the relation departing (null) stops the workload waiting for mysql, ref or not', async () => {
    await deployer.run(config({ passwordSecretRef: REF }));
    await deployer.run(push);
    const report = await deployer.run({ hook: 'config-changed', mysql: null });
    expect(report.status).toEqual({ state: 'waiting', message: 'waiting for mysql relation' });
    expect((await state()).mysql).toBeUndefined();
  });

  it('through the queue: intake\'s config command carries the ref, and the worker\'s parse keeps it', async () => {
    const body = { relations: { mysql: { host: relation.host, port: relation.port, passwordSecretRef: REF } } };
    const command = configCommand(parseConfigRequest(body), body, 'config-key-for-the-identity-0123456789', new Date());
    const parsed = parseCommand(JSON.stringify(command));
    expect(parsed).toMatchObject({ kind: 'config', mysql: { ...relation, passwordSecretRef: REF } });
    expect((parsed as { mysql: object }).mysql).not.toHaveProperty('password');
    await deployer.run(triggerOf(parsed!));
    await deployer.run(push);
    expect((await container()).env[0].valueFrom.secretKeyRef).toEqual(REF);
  });
});

describe('the config body and the command: exactly one of password and passwordSecretRef', () => {
  const refusal = (mysql: Record<string, unknown>, ownSecrets?: string[]) => {
    try {
      parseConfigRequest({ relations: { mysql: { host: 'h', port: 1, ...mysql } } }, { ownSecrets });
    } catch (error) {
      if (error instanceof HttpError) return { status: error.statusCode, field: error.field, message: error.message };
      throw error;
    }
    throw new Error('expected a 400');
  };

  it.each([
    [{}, 'relations.mysql.password'],
    [{ password: OWN_PASSWORD, passwordSecretRef: REF }, 'relations.mysql.passwordSecretRef'],
    [{ passwordSecretRef: { name: 'Upper_Case', key: 'k' } }, 'relations.mysql.passwordSecretRef.name'],
    [{ passwordSecretRef: { name: 'ok', key: 'a/b' } }, 'relations.mysql.passwordSecretRef.key'],
    [{ passwordSecretRef: { name: 'ok' } }, 'relations.mysql.passwordSecretRef.key'],
    [{ passwordSecretRef: { name: 'ok', key: 'k', namespace: 'other' } }, 'relations.mysql.passwordSecretRef.namespace'],
    [{ passwordSecretRef: 'ok/k' }, 'relations.mysql.passwordSecretRef'],
  ])('refuses %j naming %s', (mysql, field) => {
    const result = refusal(mysql);
    expect(result).toMatchObject({ status: 400, field });
    expect(result.message).not.toContain(OWN_PASSWORD);
  });

  it('refuses a reference to a Secret the deployer writes (its registry credentials would reach the container)', () => {
    for (const name of ['kubeflow-metadata-registry', 'kubeflow-metadata-mysql']) {
      expect(refusal({ passwordSecretRef: { name, key: '.dockerconfigjson' } }, ['kubeflow-metadata-mysql', 'kubeflow-metadata-registry']))
        .toMatchObject({ status: 400, field: 'relations.mysql.passwordSecretRef.name' });
    }
  });

  it('a queued command with both, or a ref missing its key, is no command (refused at the worker, never applied)', () => {
    const base = { kind: 'config', id: 'config-x', receivedAt: '2026-01-01T00:00:00Z' };
    expect(parseCommand(JSON.stringify({ ...base, mysql: { ...relation, password: 'p', passwordSecretRef: REF } }))).toBeUndefined();
    expect(parseCommand(JSON.stringify({ ...base, mysql: { ...relation, passwordSecretRef: { name: 'n' } } }))).toBeUndefined();
    expect(parseCommand(JSON.stringify({ ...base, mysql: { ...relation, password: 'p' } }))).toMatchObject({ mysql: { password: 'p' } });
  });
});
