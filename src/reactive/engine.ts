// A small charms.reactive: rules are data (`when`, `whenNot`, `whenAny` over
// flags) and are run to a fixpoint. The flag set is the state.

export interface Rule<C> {
  name: string;
  /** Every one of these flags is set. */
  when?: readonly string[];
  /** None of these flags is set. */
  whenNot?: readonly string[];
  /** At least one of these flags is set. */
  whenAny?: readonly string[];
  run(context: C): void;
}

export interface FlagContext {
  flags: Set<string>;
}

export const defaults = {
  /** A rule set that keeps flipping flags is a bug: stop instead of spinning. */
  maxRuns: 200,
};

/** True when the rule's conditions hold for the flags. */
export function ruleApplies(rule: Rule<never>, flags: ReadonlySet<string>): boolean {
  return (
    (rule.when ?? []).every((flag) => flags.has(flag)) &&
    // Stryker disable next-line ArrayDeclaration: equivalent, a phantom flag named "Stryker was here" is never set, so `every(!has)` over it holds
    (rule.whenNot ?? []).every((flag) => !flags.has(flag)) &&
    (rule.whenAny === undefined || rule.whenAny.some((flag) => flags.has(flag)))
  );
}

/**
 * Runs the rules until none applies anew, and returns the names of the rules
 * run, in order. As in charms.reactive, a rule that has run runs again only
 * when a flag it watches has changed since; the scan restarts from the first
 * rule after every run, so declaration order is priority.
 */
export function runToFixpoint<C extends FlagContext>(
  rules: readonly Rule<C>[],
  context: C,
  options: Partial<typeof defaults> = {},
): string[] {
  const { maxRuns } = { ...defaults, ...options };
  const seenAt = new Map<Rule<C>, string>();
  const trace: string[] = [];
  const watchedState = (rule: Rule<C>): string =>
    // Stryker disable next-line ArrayDeclaration: equivalent, a phantom flag is never set: it adds the same '0' to every snapshot of the rule
    [...(rule.when ?? []), ...(rule.whenNot ?? []), ...(rule.whenAny ?? [])]
      .map((flag) => (context.flags.has(flag) ? '1' : '0'))
      .join(/* Stryker disable next-line StringLiteral: equivalent, a rule's snapshot is a fixed number of '0'/'1' digits, so any separator compares alike */ '');

  const nextRule = (): Rule<C> | undefined =>
    rules.find((rule) => ruleApplies(rule, context.flags) && seenAt.get(rule) !== watchedState(rule));

  for (let rule = nextRule(); rule; rule = nextRule()) {
    if (trace.length >= maxRuns) throw new Error(`rules did not settle after ${maxRuns} runs: ${trace.slice(-5).join(', ')}`);
    rule.run(context);
    seenAt.set(rule, watchedState(rule));
    trace.push(rule.name);
  }
  return trace;
}
