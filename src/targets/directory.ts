// The local directory target (the embedded default): one YAML file per object,
// `<dir>/<namespace>/<kind>-<name>.yaml`, so `kubectl apply -f <dir>/<namespace>`
// reproduces the result on a cluster. A file's content hash stands in for the
// resourceVersion (the files carry none, or `kubectl apply` would conflict).
// Not modelled: writers in other processes (writes are serialised in-process only).
import { createHash } from 'node:crypto';
// The callback API, promisified: node:fs/promises (and what it loads) would be
// compiled at every cold start for four calls.
import { mkdir as mkdirCallback, readFile as readFileCallback, rename as renameCallback, writeFile as writeFileCallback } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
// js-yaml, as client-node's own loadYaml/dumpYaml: a third of the `yaml` package's size and of its cold-start cost.
import { dump, load } from 'js-yaml';
import type { KubeObject } from '../domain/types.js';
import { ConflictError } from '../errors.js';
import { matchesDesired } from './compare.js';
import type { ObjectKey, Target, WriteOutcome } from './port.js';

export interface DirectoryTargetOptions {
  path: string;
  namespace: string;
}

const readFile = promisify(readFileCallback);
const writeFile = promisify(writeFileCallback);
const rename = promisify(renameCallback);
const mkdir = promisify(mkdirCallback);

const SECRET_MODE = 0o600;
const FILE_MODE = 0o644;

/** The object as a cluster would store it: a desired `null` means "absent" (src/targets/compare.ts). */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== null).map(([key, item]) => [key, withoutNulls(item)]));
}

export function createDirectoryTarget(options: DirectoryTargetOptions): Target {
  const folder = join(options.path, options.namespace);
  let queue: Promise<unknown> = Promise.resolve();

  const fileOf = (key: ObjectKey): string => join(folder, `${key.kind.toLowerCase()}-${key.name}.yaml`);
  const versionOf = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

  async function readText(file: string): Promise<string | undefined> {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async function read(key: ObjectKey): Promise<KubeObject | undefined> {
    const text = await readText(fileOf(key));
    if (text === undefined) return undefined;
    const object = load(text) as KubeObject;
    object.metadata.resourceVersion = versionOf(text);
    return object;
  }

  /** Compare-and-swap on the file's content, serialised so two writes never interleave. */
  async function writeSerialised(desired: KubeObject, live: KubeObject | undefined): Promise<WriteOutcome> {
    const key = { kind: desired.kind, name: desired.metadata.name };
    const file = fileOf(key);
    const current = await readText(file);
    const expected = live?.metadata.resourceVersion;
    if ((current === undefined) !== (live === undefined) || (current !== undefined && versionOf(current) !== expected)) {
      throw new ConflictError(`${desired.kind} ${options.namespace}/${key.name} changed since it was read`);
    }
    if (live && matchesDesired(desired, live)) return 'unchanged';
    const { resourceVersion: _ignored, ...metadata } = desired.metadata;
    // noRefs: shared label objects would otherwise print as &ref_0 / *ref_0. lineWidth -1: long strings stay on one line.
    const text = dump(withoutNulls({ ...desired, metadata: { ...metadata, namespace: options.namespace } }), { noRefs: true, lineWidth: -1 });
    await mkdir(folder, { recursive: true, mode: 0o755 });
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, text, { mode: desired.kind === 'Secret' ? SECRET_MODE : FILE_MODE });
    await rename(temporary, file); // atomic: a reader never sees half a file
    return live ? 'patched' : 'created';
  }

  return {
    description: `dir:${options.path}`,
    read,
    write(desired, live) {
      const result = queue.then(() => writeSerialised(desired, live));
      queue = result.catch(() => undefined);
      return result;
    },
  };
}
