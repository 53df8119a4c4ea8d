// POST /webhooks/config (src/app/config-request.ts): the words of every 400 (they
// are the API: the caller reads them), and the two ways of giving MySQL's password.
import { describe, expect, it } from '@jest/globals';
import { parseConfigRequest } from '../../src/app/config-request.js';
import type { HttpError } from '../../src/errors.js';

const mysql = { host: 'mysql.kubeflow', port: 3306, password: 'pw' };
const REF = { name: 'mysql-root', key: 'password' };

function refusal(body: unknown, options?: Parameters<typeof parseConfigRequest>[1]): string {
  try {
    parseConfigRequest(body, options);
  } catch (error) {
    expect((error as HttpError).statusCode).toBe(400);
    return (error as HttpError).message;
  }
  throw new Error('accepted');
}
const withMysql = (fields: Record<string, unknown>) => ({ relations: { mysql: { ...mysql, ...fields } } });

describe('the words of each refusal', () => {
  it.each([
    [{ host: 'h'.repeat(254) }, 'relations.mysql.host: must be a host name of at most 253 characters'],
    [{ host: 'a b' }, 'relations.mysql.host: must be a host name or IP address'],
    [{ port: 1.5 }, 'relations.mysql.port: must be an integer'],
    [{ port: 0 }, 'relations.mysql.port: must be 1–65535'],
    [{ port: 65536 }, 'relations.mysql.port: must be 1–65535'],
    [{ user: 'bad user' }, 'relations.mysql.user: must be a MySQL user name (1–32 letters, digits, _ . $ -)'],
    [{ password: '' }, 'relations.mysql.password: must not be empty'],
    [{ password: 'p'.repeat(1025) }, 'relations.mysql.password: must be at most 1024 characters'],
    [{ password: undefined }, 'relations.mysql.password: is required (or passwordSecretRef: {"name", "key"} of an existing Secret)'],
    [{ passwordSecretRef: REF }, 'relations.mysql.passwordSecretRef: exactly one of password and passwordSecretRef'],
  ])('%j', (fields, message) => {
    expect(refusal(withMysql(fields))).toBe(message);
  });

  it.each([
    [{ name: 'n'.repeat(254), key: 'k' }, 'relations.mysql.passwordSecretRef.name: must be a Secret name of at most 253 characters'],
    [{ name: 'Upper', key: 'k' }, 'relations.mysql.passwordSecretRef.name: must be a Secret name (lower case letters, digits, "-" and ".")'],
    [{ name: 'ok', key: 'k'.repeat(254) }, 'relations.mysql.passwordSecretRef.key: must be a key of at most 253 characters'],
    [{ name: 'ok', key: 'a/b' }, 'relations.mysql.passwordSecretRef.key: must be a Secret key (letters, digits, "-", "_" and ".")'],
  ])('passwordSecretRef %j', (ref, message) => {
    expect(refusal(withMysql({ password: undefined, passwordSecretRef: ref }))).toBe(message);
  });

  it('passwordSecretRef is strict: an unknown key is named', () => {
    expect(refusal(withMysql({ password: undefined, passwordSecretRef: { ...REF, namespace: 'x' } }))).toMatch(/^relations\.mysql\.passwordSecretRef\.namespace: /);
  });
});

describe('the password, one way or the other', () => {
  it('given: the relation carries it, the user defaults to root', () => {
    expect(parseConfigRequest(withMysql({}))).toEqual({ hook: 'config-changed', config: undefined, mysql: { host: 'mysql.kubeflow', port: 3306, user: 'root', password: 'pw' } });
  });

  it('by reference: the relation carries the reference, not a password', () => {
    const trigger = parseConfigRequest(withMysql({ password: undefined, passwordSecretRef: REF, user: 'admin' }));
    expect(trigger.mysql).toStrictEqual({ host: 'mysql.kubeflow', port: 3306, user: 'admin', passwordSecretRef: { name: 'mysql-root', key: 'password' } });
  });

  it('a reference to one of the deployer’s own Secrets is refused, naming the field', () => {
    let error: HttpError | undefined;
    try {
      parseConfigRequest(withMysql({ password: undefined, passwordSecretRef: { name: 'app-mysql', key: 'k' } }), { ownSecrets: ['app-mysql', 'app-registry'] });
    } catch (caught) {
      error = caught as HttpError;
    }
    expect(error?.statusCode).toBe(400);
    expect(error?.field).toBe('relations.mysql.passwordSecretRef.name');
    expect(error?.message).toBe('relations.mysql.passwordSecretRef.name: must name the MySQL password\'s own Secret, not one the deployer writes');
  });

  it('a reference to another Secret passes, with or without the list of own Secrets', () => {
    const body = withMysql({ password: undefined, passwordSecretRef: REF });
    expect(parseConfigRequest(body, { ownSecrets: ['app-mysql'] }).mysql).toMatchObject({ passwordSecretRef: REF });
    expect(parseConfigRequest(body, {}).mysql).toMatchObject({ passwordSecretRef: REF });
  });

  it('a given password is never checked against the own Secrets', () => {
    expect(parseConfigRequest(withMysql({}), { ownSecrets: ['pw', 'mysql.kubeflow'] }).mysql).toMatchObject({ password: 'pw' });
  });
});
