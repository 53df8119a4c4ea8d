// An in-memory Target with the port's contract (src/targets/port.ts): every
// object has a resourceVersion, a write is a compare-and-swap on it (ConflictError
// when the object changed or appeared since `live` was read), and a write that
// would change nothing answers 'unchanged'. It logs every write in order, and a
// hook can run between the read-compare and the store (to inject a race).
import type { KubeObject } from '../../../src/domain/types.js';
import { ConflictError } from '../../../src/errors.js';
import { matchesDesired } from '../../../src/targets/compare.js';
import type { ObjectKey, Target, WriteOutcome } from '../../../src/targets/port.js';

export interface Write {
  kind: string;
  name: string;
  outcome: WriteOutcome | 'conflict';
  object: KubeObject;
}

export interface MemoryTarget extends Target {
  writes: Write[];
  /** The stored object (a copy), without going through `read`. */
  get(kind: string, name: string): KubeObject | undefined;
  /** Stores an object as if someone else wrote it (bumps the version). */
  put(object: KubeObject): void;
  /** Called before each write is checked: throw from it to fail that write. */
  beforeWrite?: (desired: KubeObject) => void;
}

export function memoryTarget(): MemoryTarget {
  const store = new Map<string, KubeObject>();
  let version = 0;
  const keyOf = (key: ObjectKey) => `${key.kind}/${key.name}`;
  const copy = <T>(value: T): T => structuredClone(value);
  const put = (object: KubeObject) => {
    version += 1;
    store.set(keyOf({ kind: object.kind, name: object.metadata.name }), { ...copy(object), metadata: { ...copy(object.metadata), resourceVersion: String(version) } });
  };
  const target: MemoryTarget = {
    description: 'memory',
    writes: [],
    get: (kind, name) => copy(store.get(keyOf({ kind, name }))),
    put,
    async read(key) {
      return copy(store.get(keyOf(key)));
    },
    async write(desired, live): Promise<WriteOutcome> {
      target.beforeWrite?.(desired);
      const current = store.get(keyOf({ kind: desired.kind, name: desired.metadata.name }));
      if ((current === undefined) !== (live === undefined) || (current && current.metadata.resourceVersion !== live?.metadata.resourceVersion)) {
        target.writes.push({ kind: desired.kind, name: desired.metadata.name, outcome: 'conflict', object: copy(desired) });
        throw new ConflictError(`${desired.kind} ${desired.metadata.name} changed since it was read`);
      }
      const outcome: WriteOutcome = !live ? 'created' : matchesDesired(desired, live) ? 'unchanged' : 'patched';
      if (outcome !== 'unchanged') put(desired);
      target.writes.push({ kind: desired.kind, name: desired.metadata.name, outcome, object: copy(desired) });
      return outcome;
    },
  };
  return target;
}
