// The worker's parse of a queue message (src/domain/commands.ts): each kind has its own schema, picked by
// `kind` and built on first use. What the union did must still hold: every kind parses, nothing else does,
// and a kind's body under another kind's name is refused (a poison message, never retried).
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseCommand, type Command } from '../src/domain/commands.js';

const base = { id: 'cmd-1', receivedAt: '2026-12-01T00:00:00.000Z' };
const COMMANDS: Command[] = [
  { kind: 'push', ...base, pushes: [{ provider: 'distribution', repository: 'kubeflow/metadata', tag: 'v1', digest: `sha256:${'a'.repeat(64)}` }] },
  { kind: 'config', ...base, config: { port: 8080 }, mysql: { host: 'mysql', port: 3306, user: 'root', password: 'pw' } },
  { kind: 'config', ...base, mysql: null },
  { kind: 'refresh', ...base },
  { kind: 'control', ...base, control: { pin: { tag: 'v1.2.3' } } },
  { kind: 'check', ...base, rollout: 'push-1' },
];

describe('parseCommand', () => {
  it.each(COMMANDS.map((command) => [command.kind, command] as const))('a %s command parses to itself', (_kind, command) => {
    expect(parseCommand(JSON.stringify(command))).toEqual(command);
  });

  it("a kind's fields under another kind's name are refused (each kind's own required fields)", () => {
    const required: Record<string, string> = { push: 'pushes', control: 'control', check: 'rollout' };
    for (const command of COMMANDS) {
      for (const kind of Object.keys(required)) {
        if (kind === command.kind) continue;
        const { [required[kind]!]: _dropped, ...rest } = { ...command, kind } as Record<string, unknown>;
        expect(parseCommand(JSON.stringify(rest))).toBeUndefined();
      }
    }
  });

  it('no other kind parses: inherited names, other strings, non-strings, no kind, not an object', () => {
    for (const kind of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'PUSH', 'push ', '', 1, null, true, ['push'], { push: 1 }]) {
      expect(parseCommand(JSON.stringify({ ...COMMANDS[3], kind }))).toBeUndefined();
    }
    const { kind: _kind, ...noKind } = COMMANDS[3]!;
    for (const body of [JSON.stringify(noKind), 'null', '"refresh"', '[]', '42', '{', '']) expect(parseCommand(body)).toBeUndefined();
    expect(parseCommand('{"__proto__": {"kind": "refresh"}, "id": "x", "receivedAt": "t"}')).toBeUndefined();
  });

  it('any JSON value with a kind outside the five is refused (fuzzed)', () => {
    const kinds = new Set(['push', 'config', 'refresh', 'control', 'check']);
    fc.assert(fc.property(fc.jsonValue(), fc.jsonValue(), (value, kind) => {
      const body = typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...value, kind } : value;
      if (typeof kind === 'string' && kinds.has(kind)) return;
      expect(parseCommand(JSON.stringify(body))).toBeUndefined();
    }), { numRuns: 500 });
  });

  it('any JSON value at all: a command of its own kind or undefined, never a throw (fuzzed)', () => {
    fc.assert(fc.property(fc.jsonValue(), fc.constantFrom('push', 'config', 'refresh', 'control', 'check'), (value, kind) => {
      const body = typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...base, ...value, kind } : value;
      const parsed = parseCommand(JSON.stringify(body));
      if (parsed !== undefined) expect(parsed.kind).toBe(kind);
    }), { numRuns: 500 });
  });
});
