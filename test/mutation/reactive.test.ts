// The flag engine (src/reactive/engine.ts) at its edges: when a rule that ran runs
// again, where the run bound is, and what its error says.
import { describe, expect, it } from '@jest/globals';
import { defaults, ruleApplies, runToFixpoint, type Rule } from '../../src/reactive/engine.js';

interface Ctx { flags: Set<string>; log: string[] }
const ctx = (...flags: string[]): Ctx => ({ flags: new Set(flags), log: [] });

describe('ruleApplies', () => {
  it('whenNot alone: none of them set', () => {
    const rule: Rule<never> = { name: 'r', whenNot: ['a', 'b'], run() {} };
    expect(ruleApplies(rule, new Set(['c']))).toBe(true);
    expect(ruleApplies(rule, new Set(['b']))).toBe(false);
  });

  it('whenAny alone: one of them set; an empty whenAny never holds', () => {
    expect(ruleApplies({ name: 'r', whenAny: ['a', 'b'], run() {} }, new Set(['b']))).toBe(true);
    expect(ruleApplies({ name: 'r', whenAny: ['a', 'b'], run() {} }, new Set(['c']))).toBe(false);
    expect(ruleApplies({ name: 'r', whenAny: [], run() {} }, new Set(['a']))).toBe(false);
  });

  it('when alone: every one set', () => {
    expect(ruleApplies({ name: 'r', when: ['a', 'b'], run() {} }, new Set(['a', 'b', 'c']))).toBe(true);
    expect(ruleApplies({ name: 'r', when: ['a', 'b'], run() {} }, new Set(['b']))).toBe(false);
  });
});

describe('runToFixpoint', () => {
  it('runs a rule again when one watched flag is swapped for another (same count set)', () => {
    const rules: Rule<Ctx>[] = [
      { name: 'watch', whenAny: ['a', 'b'], run: (c) => void c.log.push([...c.flags].sort().join('+')) },
      { name: 'swap', when: ['a'], run: (c) => { c.flags.delete('a'); c.flags.add('b'); } },
    ];
    const context = ctx('a');
    expect(runToFixpoint(rules, context)).toEqual(['watch', 'swap', 'watch']);
    expect(context.log).toEqual(['a', 'b']);
  });

  it('compares with the flags as they were when the rule ran: a flag that comes and goes runs nothing again', () => {
    const rules: Rule<Ctx>[] = [
      { name: 'idle', whenNot: ['busy'], run: (c) => void c.log.push('idle') },
      { name: 'work', when: ['todo'], run: (c) => { c.flags.delete('todo'); c.flags.add('busy'); } },
      { name: 'done', when: ['busy'], run: (c) => void c.flags.delete('busy') },
    ];
    const context = ctx('todo');
    expect(runToFixpoint(rules, context)).toEqual(['idle', 'work', 'done']);
  });

  it('a rule whose flags did not change does not run again after others ran', () => {
    const rules: Rule<Ctx>[] = [
      { name: 'a', when: ['x'], run: (c) => void c.log.push('a') },
      { name: 'b', whenNot: ['y'], run: (c) => void c.flags.add('y') },
    ];
    expect(runToFixpoint(rules, ctx('x'))).toEqual(['a', 'b']);
  });

  it('allows exactly maxRuns runs, and throws on the next, naming the last five', () => {
    const chain = (n: number): Rule<Ctx>[] => Array.from({ length: n }, (_, i) => ({
      name: `r${i}`, whenNot: [`f${i}`], run: (c: Ctx) => void c.flags.add(`f${i}`),
    }));
    expect(runToFixpoint(chain(7), ctx(), { maxRuns: 7 })).toHaveLength(7);
    expect(() => runToFixpoint(chain(7), ctx(), { maxRuns: 6 })).toThrow('rules did not settle after 6 runs: r1, r2, r3, r4, r5');
  });

  it('defaults to 200 runs', () => {
    expect(defaults.maxRuns).toBe(200);
    const flip: Rule<Ctx>[] = [
      { name: 'on', whenNot: ['x'], run: (c) => void c.flags.add('x') },
      { name: 'off', when: ['x'], run: (c) => void c.flags.delete('x') },
    ];
    expect(() => runToFixpoint(flip, ctx())).toThrow(/^rules did not settle after 200 runs: off, on, off, on, off$/);
  });
});
