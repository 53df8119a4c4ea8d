import { describe, expect, it } from '@jest/globals';
import { ruleApplies, runToFixpoint, type Rule } from '../src/reactive/engine.js';

interface Ctx { flags: Set<string>; log: string[] }
const ctx = (...flags: string[]): Ctx => ({ flags: new Set(flags), log: [] });

describe('ruleApplies', () => {
  it('needs every `when`, no `whenNot`, and one `whenAny`', () => {
    const rule: Rule<never> = { name: 'r', when: ['a', 'b'], whenNot: ['c'], whenAny: ['x', 'y'], run() {} };
    expect(ruleApplies(rule, new Set(['a', 'b', 'y']))).toBe(true);
    expect(ruleApplies(rule, new Set(['a', 'y']))).toBe(false);
    expect(ruleApplies(rule, new Set(['a', 'b', 'c', 'x']))).toBe(false);
    expect(ruleApplies(rule, new Set(['a', 'b']))).toBe(false);
  });
  it('treats an absent condition as satisfied', () => {
    expect(ruleApplies({ name: 'r', run() {} }, new Set())).toBe(true);
  });
});

describe('runToFixpoint', () => {
  it('chains rules through the flags they set, in declaration order', () => {
    const rules: Rule<Ctx>[] = [
      { name: 'second', when: ['one'], whenNot: ['two'], run: (c) => void c.flags.add('two') },
      { name: 'first', whenNot: ['one'], run: (c) => void c.flags.add('one') },
    ];
    const context = ctx();
    expect(runToFixpoint(rules, context)).toEqual(['first', 'second']);
    expect([...context.flags].sort()).toEqual(['one', 'two']);
  });

  it('runs a rule once while its watched flags stay as they were', () => {
    const rules: Rule<Ctx>[] = [{ name: 'ready', when: ['started'], run: (c) => void c.log.push('active') }];
    const context = ctx('started');
    expect(runToFixpoint(rules, context)).toEqual(['ready']);
    expect(context.log).toEqual(['active']);
  });

  it('runs a rule again when a flag it watches changed since it ran', () => {
    const rules: Rule<Ctx>[] = [
      { name: 'watch', whenAny: ['a', 'b'], run: (c) => void c.log.push([...c.flags].sort().join('+')) },
      { name: 'add-b', when: ['a'], whenNot: ['b'], run: (c) => void c.flags.add('b') },
    ];
    const context = ctx('a');
    expect(runToFixpoint(rules, context)).toEqual(['watch', 'add-b', 'watch']);
    expect(context.log).toEqual(['a', 'a+b']);
  });

  it('stops a rule set that never settles instead of spinning', () => {
    const rules: Rule<Ctx>[] = [
      { name: 'on', whenNot: ['x'], run: (c) => void c.flags.add('x') },
      { name: 'off', when: ['x'], run: (c) => void c.flags.delete('x') },
    ];
    expect(() => runToFixpoint(rules, ctx(), { maxRuns: 20 })).toThrow(/did not settle after 20 runs/);
  });
});
