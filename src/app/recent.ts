// The audit trail: what became of each accepted event, keyed by the id intake
// answered. One record per id (the latest outcome wins), oldest first, bounded.
import { RECENT_LIMIT, type Outcome, type OutcomeRecord } from '../charm/state.js';

export function outcomeRecord(id: string, trigger: string, outcome: Outcome, reason: string | undefined, now: Date): OutcomeRecord {
  return reason === undefined ? { id, trigger, outcome, at: now.toISOString() } : { id, trigger, outcome, reason, at: now.toISOString() };
}

/** `stored` followed by `added`, one record per id (the later one), the newest RECENT_LIMIT. */
export function mergeRecent(stored: readonly OutcomeRecord[], added: readonly OutcomeRecord[]): OutcomeRecord[] {
  const byId = new Map<string, OutcomeRecord>();
  for (const record of [...stored, ...added]) {
    byId.delete(record.id); // re-inserted: Map keeps insertion order, so the latest goes last
    byId.set(record.id, record);
  }
  return [...byId.values()].slice(-RECENT_LIMIT);
}
