// What caused a step, in the words operators read: the Event note and the
// `kubernetes.io/change-cause` annotation (`kubectl rollout history`'s
// CHANGE-CAUSE column) both say it the same way. Pure. Every value is an
// identifier (provider, event id, tag, digest, image reference), never a
// credential; each is still flattened to one line and bounded, since tags and
// event ids come from webhook bodies.

/** The trigger of a step: where it came from and what it changed. */
export interface Trigger {
  /** A registry provider (`distribution`, `ecr`, …), or `config`, `control`, `refresh`, `rollout`. */
  provider?: string;
  /** The accepted event's id (`{"accepted": "<id>"}`), so an Event leads back to the request and its logs. */
  eventId?: string;
  tag?: string;
  digest?: string;
  /** What ran before and what runs now: image references (`repo@sha256:…`), or a config summary. */
  from?: string;
  to?: string;
}

export { CHANGE_CAUSE_ANNOTATION } from '../render/names.js';

const FIELD_MAX = 256;
const CHANGE_CAUSE_MAX = 512;

/** One line, no control characters, at most `max` characters (an ellipsis marks a cut). */
export function flatten(text: string, max = FIELD_MAX): string {
  const line = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** `<from> → <to> (provider p, event e, tag t, digest d)`; parts that are unknown are left out. */
export function describeTrigger(trigger: Trigger): string {
  const clean = (value: string | undefined) => (value === undefined || value === '' ? undefined : flatten(value));
  const [from, to] = [clean(trigger.from), clean(trigger.to)];
  const change = from && to ? `${from} → ${to}` : to ? `→ ${to}` : from ? `${from} →` : '';
  const facts = ([['provider', trigger.provider], ['event', trigger.eventId], ['tag', trigger.tag], ['digest', trigger.digest]] as const)
    .flatMap(([name, value]) => (clean(value) ? [`${name} ${clean(value)}`] : []));
  const context = facts.length > 0 ? `(${facts.join(', ')})` : '';
  return [change, context].filter(Boolean).join(' ');
}

/** The change-cause text: `<what>: <trigger>`, e.g. `ImageUpdated: a@sha256:… → b@sha256:… (provider ecr, event 7f…, tag 1.2.1)`. */
export function changeCause(what: string, trigger: Trigger): string {
  const described = describeTrigger(trigger);
  return flatten(described ? `${flatten(what, 64)}: ${described}` : flatten(what, 64), CHANGE_CAUSE_MAX);
}
