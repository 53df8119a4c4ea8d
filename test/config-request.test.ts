import { describe, expect, it } from '@jest/globals';
import { parseConfigRequest } from '../src/app/config-request.js';
import type { HttpError } from '../src/errors.js';

function refusal(body: unknown): { status: number; field?: string; message: string } {
  try {
    parseConfigRequest(body);
  } catch (error) {
    const e = error as HttpError;
    return { status: e.statusCode, field: e.field, message: e.message };
  }
  throw new Error('accepted');
}
const mysql = { host: 'mysql.kubeflow', port: 3306, password: 'pw' };

describe('POST /webhooks/config body', () => {
  it('turns a valid body into a config-changed trigger (user defaults to root)', () => {
    expect(parseConfigRequest({ config: { port: 9090 }, relations: { mysql } })).toEqual({
      hook: 'config-changed', config: { port: 9090 }, mysql: { ...mysql, user: 'root' },
    });
    expect(parseConfigRequest({ relations: { mysql: null } })).toEqual({ hook: 'config-changed', config: undefined, mysql: null });
    expect(parseConfigRequest({})).toEqual({ hook: 'config-changed', config: undefined, mysql: undefined });
  });

  it.each([
    [{ config: { port: 0 } }, 'config.port'],
    [{ config: { port: 65536 } }, 'config.port'],
    [{ config: { port: 80.5 } }, 'config.port'],
    [{ config: { port: '8080' } }, 'config.port'],
    [{ config: { 'database-name': 'meta-db' } }, 'config.database-name'],
    [{ config: { 'database-name': 'x'.repeat(65) } }, 'config.database-name'],
    [{ config: { 'database-name': '' } }, 'config.database-name'],
    [{ relations: { mysql: { ...mysql, port: 70000 } } }, 'relations.mysql.port'],
    [{ relations: { mysql: { ...mysql, host: 'a b' } } }, 'relations.mysql.host'],
    [{ relations: { mysql: { host: 'h', port: 1 } } }, 'relations.mysql.password'],
    [{ relations: { mysql: { ...mysql, user: 'x'.repeat(33) } } }, 'relations.mysql.user'],
  ])('refuses %j naming %s', (body, field) => {
    const result = refusal(body);
    expect(result.status).toBe(400);
    expect(result.field).toBe(field);
    expect(result.message).toContain(field);
  });

  it.each([
    [{ config: { prot: 9090 } }, 'config.prot'],
    [{ conifg: {} }, 'conifg'],
    [{ relations: { postgres: {} } }, 'relations.postgres'],
    [{ relations: { mysql: { ...mysql, pasword: 'x' } } }, 'relations.mysql.pasword'],
  ])('refuses the unknown key in %j, naming %s', (body, field) => {
    const result = refusal(body);
    expect(result).toMatchObject({ status: 400, field });
  });

  it('refuses a __proto__ key rather than ignoring it', () => {
    const result = refusal(JSON.parse('{"config":{"__proto__":{"port":1}}}'));
    expect(result).toMatchObject({ status: 400, field: 'config.__proto__' });
  });

  it('refuses bodies that are not objects, naming body', () => {
    for (const body of [null, [], 'x', 3]) expect(refusal(body)).toMatchObject({ status: 400, field: 'body' });
  });

  it('never echoes the password in an error', () => {
    const result = refusal({ relations: { mysql: { ...mysql, password: 'TopSecret', port: 'x' } } });
    expect(result.message).not.toContain('TopSecret');
  });
});
