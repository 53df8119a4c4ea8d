// POST /control's body (controlRequestSchema through parseBody, as intake parses it): whatever
// arrives, the answer is exactly one valid request or a 400 naming a field — never a TypeError,
// never two requests in one body, never a pin that is both a tag and a digest.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { controlRequestSchema, describeControl, type ControlRequest } from '../src/domain/commands.js';
import { HttpError } from '../src/errors.js';
import { parseBody } from '../src/validation.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const key = fc.constantFrom('pin', 'unpin', 'suspend', 'resume', 'unquarantine', 'tag', 'digest', '__proto__', 'x');
const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(true, false, DIGEST, '1.2.3', 'bad tag', { tag: '1.2.3' }, { digest: DIGEST }, { tag: '1', digest: DIGEST }, null));
const body = fc.oneof(fc.dictionary(key, value, { maxKeys: 3 }), fc.jsonValue({ maxDepth: 2 }));

function parse(input: unknown): ControlRequest | HttpError {
  try {
    return parseBody(controlRequestSchema(), input) as ControlRequest;
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    return error as HttpError;
  }
}

describe('POST /control bodies', () => {
  it('any body: one request with one key, or a 400 whose message names its field', () => {
    fc.assert(fc.property(body, (input) => {
      const result = parse(input);
      if (result instanceof HttpError) {
        expect(result.statusCode).toBe(400);
        expect(result.message).toContain(result.field!);
        return;
      }
      expect(Object.keys(result)).toHaveLength(1);
      if ('pin' in result) expect(Object.keys(result.pin)).toHaveLength(1);
      expect(describeControl(result)).not.toBe('?');
    }), { numRuns: 500 });
  });

  it.each([
    [{ pin: { tag: '1.2.3' } }, 'pin tag 1.2.3'],
    [{ pin: { digest: DIGEST } }, `pin digest ${DIGEST}`],
    [{ unpin: true }, 'unpin'], [{ suspend: true }, 'suspend'], [{ resume: true }, 'resume'],
    [{ unquarantine: DIGEST }, `unquarantine ${DIGEST}`],
  ])('%j is accepted as "%s"', (input, described) => {
    expect(describeControl(parse(input) as ControlRequest)).toBe(described);
  });

  it.each([
    [{ pin: { tag: '1.2.3', digest: DIGEST } }], [{ suspend: true, resume: true }], [{ suspend: false }], [{ unquarantine: 'md5:00' }],
    [{ pin: { tag: '-leading-dash' } }], [{ pin: {} }], [{}], [[]], ['suspend'],
  ])('%j is a 400', (input) => {
    expect(parse(input)).toBeInstanceOf(HttpError);
  });
});
