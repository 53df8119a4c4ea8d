// The local directory target (the embedded default): one YAML file per object,
// `<dir>/<namespace>/<kind>-<name>.yaml`, so `kubectl apply -f <dir>/<namespace>`
// reproduces the result on a cluster. A file's content hash stands in for the
// resourceVersion (the files carry none, or `kubectl apply` would conflict).
// Not modelled: writers in other processes (a compare-and-swap is atomic in-process only).
import { createHash } from 'node:crypto';
// Synchronous calls on purpose: files of a few KB on a local disk. The async API cost every
// cold start ~2 ms (libuv's thread pool, promise plumbing) for no concurrency gain, and a
// compare-and-swap done in one synchronous stretch cannot interleave with another.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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

  const fileOf = (key: ObjectKey): string => join(folder, `${key.kind.toLowerCase()}-${key.name}.yaml`);
  const versionOf = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

  function readText(file: string): string | undefined {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  function read(key: ObjectKey): KubeObject | undefined {
    const text = readText(fileOf(key));
    if (text === undefined) return undefined;
    const object = load(text) as KubeObject;
    object.metadata.resourceVersion = versionOf(text);
    return object;
  }

  /** Compare-and-swap on the file's content. */
  function write(desired: KubeObject, live: KubeObject | undefined): WriteOutcome {
    const key = { kind: desired.kind, name: desired.metadata.name };
    const file = fileOf(key);
    const current = readText(file);
    const expected = live?.metadata.resourceVersion;
    if ((current === undefined) !== (live === undefined) || (current !== undefined && versionOf(current) !== expected)) {
      throw new ConflictError(`${desired.kind} ${options.namespace}/${key.name} changed since it was read`);
    }
    if (live && matchesDesired(desired, live)) return 'unchanged';
    const { resourceVersion: _ignored, ...metadata } = desired.metadata;
    // noRefs: shared label objects would otherwise print as &ref_0 / *ref_0. lineWidth -1: long strings stay on one line.
    const text = dump(withoutNulls({ ...desired, metadata: { ...metadata, namespace: options.namespace } }), { noRefs: true, lineWidth: -1 });
    mkdirSync(folder, { recursive: true, mode: 0o755 });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, text, { mode: desired.kind === 'Secret' ? SECRET_MODE : FILE_MODE });
    renameSync(temporary, file); // atomic: a reader never sees half a file
    return live ? 'patched' : 'created';
  }

  return {
    description: `dir:${options.path}`,
    read: async (key) => read(key),
    write: async (desired, live) => write(desired, live),
  };
}
