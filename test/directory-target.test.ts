import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { createDirectoryTarget } from '../src/targets/directory.js';
import { ConflictError } from '../src/errors.js';
import type { KubeObject } from '../src/domain/types.js';

let dir: string;
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'kfm-dir-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

const service = (port: number): KubeObject => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'kubeflow-metadata', labels: { a: 'b' } },
  spec: { ports: [{ name: 'http', port }] },
});
const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'kubeflow-metadata-mysql' }, type: 'Opaque', data: { K: 'dg==' } };

describe('directory target', () => {
  it('creates <dir>/<namespace>/<kind>-<name>.yaml with the namespace and no resourceVersion', async () => {
    const target = createDirectoryTarget({ path: dir, namespace: 'kubeflow' });
    expect(await target.read({ kind: 'Service', name: 'kubeflow-metadata' })).toBeUndefined();
    expect(await target.write(service(8080), undefined)).toBe('created');
    const text = await readFile(join(dir, 'kubeflow', 'service-kubeflow-metadata.yaml'), 'utf8');
    const stored = parse(text);
    expect(stored.metadata).toEqual({ name: 'kubeflow-metadata', namespace: 'kubeflow', labels: { a: 'b' } });
    expect(text).not.toContain('resourceVersion');
    expect(text).not.toMatch(/[&*](a1|ref_)/); // no YAML anchors or aliases (kubectl reads them, people less so)
  });

  it('leaves out the fields a desired null removes, and then finds the file up to date', async () => {
    const target = createDirectoryTarget({ path: dir, namespace: 'kubeflow' });
    const withNull = { ...service(8080), spec: { ports: [{ name: 'http', port: 8080 }], externalName: null } } as KubeObject;
    await target.write(withNull, undefined);
    const text = await readFile(join(dir, 'kubeflow', 'service-kubeflow-metadata.yaml'), 'utf8');
    expect(text).not.toContain('externalName');
    const live = await target.read({ kind: 'Service', name: 'kubeflow-metadata' });
    expect(await target.write(withNull, live)).toBe('unchanged');
  });

  it('writes Secret files with mode 0600 and other objects 0644', async () => {
    const target = createDirectoryTarget({ path: dir, namespace: 'kubeflow' });
    await target.write(secret, undefined);
    await target.write(service(8080), undefined);
    expect((await stat(join(dir, 'kubeflow', 'secret-kubeflow-metadata-mysql.yaml'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'kubeflow', 'service-kubeflow-metadata.yaml'))).mode & 0o777).toBe(0o644);
  });

  it('writes nothing when the desired object equals the file', async () => {
    const target = createDirectoryTarget({ path: dir, namespace: 'kubeflow' });
    await target.write(service(8080), undefined);
    const file = join(dir, 'kubeflow', 'service-kubeflow-metadata.yaml');
    const before = await stat(file);
    const live = await target.read({ kind: 'Service', name: 'kubeflow-metadata' });
    expect(await target.write(service(8080), live)).toBe('unchanged');
    expect((await stat(file)).mtimeMs).toBe(before.mtimeMs);
    expect((await stat(file)).ino).toBe(before.ino);
  });

  it('patches a changed object and replaces owned lists', async () => {
    const target = createDirectoryTarget({ path: dir, namespace: 'kubeflow' });
    await target.write(service(8080), undefined);
    const live = await target.read({ kind: 'Service', name: 'kubeflow-metadata' });
    expect(await target.write(service(9090), live)).toBe('patched');
    const stored = await target.read({ kind: 'Service', name: 'kubeflow-metadata' });
    expect((stored!.spec as any).ports).toEqual([{ name: 'http', port: 9090 }]);
  });

  it('answers ConflictError when the file changed since it was read, and when it appeared meanwhile', async () => {
    const target = createDirectoryTarget({ path: dir, namespace: 'kubeflow' });
    await target.write(service(8080), undefined);
    const live = await target.read({ kind: 'Service', name: 'kubeflow-metadata' });
    const file = join(dir, 'kubeflow', 'service-kubeflow-metadata.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('8080', '8081'));
    await expect(target.write(service(9090), live)).rejects.toBeInstanceOf(ConflictError);
    await expect(target.write(service(9090), undefined)).rejects.toBeInstanceOf(ConflictError);
    expect(await readFile(file, 'utf8')).toContain('8081');
  });

  it('lets exactly one of two racing writes from the same read win', async () => {
    const target = createDirectoryTarget({ path: dir, namespace: 'kubeflow' });
    await target.write(service(8080), undefined);
    const live = await target.read({ kind: 'Service', name: 'kubeflow-metadata' });
    const results = await Promise.allSettled([target.write(service(9090), live), target.write(service(9191), live)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((await readdir(join(dir, 'kubeflow'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
