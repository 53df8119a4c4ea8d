// The writing half of a step: claim the state, then write the objects.
//
// The claim is a compare-and-swap of the state object against the version the
// step was computed from, and it bumps the state's generation. It happens
// before any other write, and only when something must be written. Every claim
// then rewrites every object, stamped with the claimed generation, each write
// conditioned on the version read before the claim. So a step that lost the
// race cannot write at all: either its claim fails (the state moved), or a
// newer claim rewrote (or will rewrite) each object, which makes its
// precondition fail. Writes therefore land in claim order, and the workload
// never goes back to what an older step computed. A crash between the claim
// and the writes leaves objects stamped older than the state: the next step
// sees them differ and claims again (level-triggered repair).
import type { KubeObject } from '../domain/types.js';
import type { CharmState, OutcomeRecord } from '../charm/state.js';
import { canonicalJson } from '../domain/canonical-json.js';
import { GENERATION_ANNOTATION } from '../render/names.js';
import { matchesDesired } from '../targets/compare.js';
import type { CallOptions, Target, WriteOutcome } from '../targets/port.js';
import { objectKey, type Snapshot } from './snapshot.js';
import { mergeRecent } from './recent.js';

export interface Change {
  kind: string;
  name: string;
  outcome: WriteOutcome;
}

export interface ApplyInput {
  snapshot: Snapshot;
  /** The next state (its generation is set here, by the claim). */
  state: CharmState;
  /** The workload's objects rendered for a generation, in write order. */
  render: (generation: number) => KubeObject[];
  stateObject: (state: CharmState) => KubeObject;
  /** Outcomes to store with the claim (this step's, and those held since the last write). */
  records: OutcomeRecord[];
  /** Called once the claim succeeded, before the objects are written. */
  onClaimed?: () => void;
  /** The invocation's deadline, for every write. */
  call?: CallOptions;
}

export interface ApplyResult {
  changes: Change[];
  /** The generation claimed, or undefined when nothing needed writing. */
  claimed?: number;
}

const generationOf = (object: KubeObject | undefined): number => Number(object?.metadata.annotations?.[GENERATION_ANNOTATION] ?? 0);

/** The state's content that a step decides; the generation and the audit trail are bookkeeping. */
function decided(state: CharmState | undefined): string {
  // Stryker disable next-line ConditionalExpression,StringLiteral: unreachable, decided() only gets states (needsWrite checks snapshot.state first)
  if (!state) return '';
  const { generation: _generation, recent: _recent, ...content } = state;
  return canonicalJson(content);
}

/** Every object a claim writes carries its generation, Secrets included: that is what fences older steps out. */
function stamped(objects: KubeObject[], generation: number): KubeObject[] {
  return objects.map((object) => ({
    ...object,
    metadata: { ...object.metadata, annotations: { ...object.metadata.annotations, [GENERATION_ANNOTATION]: String(generation) } },
  }));
}

const liveOf = (snapshot: Snapshot, object: KubeObject) => snapshot.objects.get(objectKey(object.kind, object.metadata.name));

/** Whether the step must write: the state's content changed, or an object differs from what it stands for. */
export function needsWrite(input: Pick<ApplyInput, 'snapshot' | 'state' | 'render'>): boolean {
  const { snapshot } = input;
  if (!snapshot.state || decided(snapshot.state) !== decided(input.state)) return true;
  return stamped(input.render(snapshot.state.generation), snapshot.state.generation).some((object) => {
    const live = liveOf(snapshot, object);
    return !live || !matchesDesired(object, live);
  });
}

export async function claimAndWrite(target: Target, input: ApplyInput): Promise<ApplyResult> {
  const { snapshot } = input;
  if (!needsWrite(input)) return { changes: [] };
  // Above every stamp seen too: a state restored from scratch (generation 0) still outranks the objects.
  const generation = Math.max(snapshot.state?.generation ?? 0, ...[...snapshot.objects.values()].map(generationOf)) + 1;
  const claimed: CharmState = { ...input.state, generation, recent: mergeRecent(snapshot.state?.recent ?? [], input.records) };
  const stateObject = input.stateObject(claimed);
  // The claim: fails with ConflictError when another step wrote the state since our read.
  const changes: Change[] = [{ kind: stateObject.kind, name: stateObject.metadata.name, outcome: await target.write(stateObject, liveOf(snapshot, stateObject), input.call) }];
  input.onClaimed?.();
  for (const object of stamped(input.render(generation), generation)) {
    changes.push({ kind: object.kind, name: object.metadata.name, outcome: await target.write(object, liveOf(snapshot, object), input.call) });
  }
  return { changes, claimed: generation };
}
