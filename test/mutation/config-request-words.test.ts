// Every refusal of POST /webhooks/config (src/app/config-request.ts), word for
// word, in ONE test, and the first of this file: the schema is built once per
// module load (lazy()), so Stryker counts its messages as covered by whichever
// test builds it first, and runs only that test against them. A test per message
// (test/mutation/config-request.test.ts) tells which one broke; this one makes
// sure a changed message fails a test that runs.
import { describe, expect, it } from '@jest/globals';
import { parseConfigRequest } from '../../src/app/config-request.js';
import type { HttpError } from '../../src/errors.js';

const mysql = { host: 'mysql.kubeflow', port: 3306, password: 'pw' };
const withMysql = (fields: Record<string, unknown>) => ({ relations: { mysql: { ...mysql, ...fields } } });
const byRef = (ref: Record<string, unknown>) => withMysql({ password: undefined, passwordSecretRef: ref });

const REFUSALS: [unknown, string][] = [
  [withMysql({ host: 'h'.repeat(254) }), 'relations.mysql.host: must be a host name of at most 253 characters'],
  [withMysql({ host: 'a b' }), 'relations.mysql.host: must be a host name or IP address'],
  [withMysql({ port: 1.5 }), 'relations.mysql.port: must be an integer'],
  [withMysql({ port: 0 }), 'relations.mysql.port: must be 1–65535'],
  [withMysql({ port: 65536 }), 'relations.mysql.port: must be 1–65535'],
  [withMysql({ user: 'bad user' }), 'relations.mysql.user: must be a MySQL user name (1–32 letters, digits, _ . $ -)'],
  [withMysql({ password: '' }), 'relations.mysql.password: must not be empty'],
  [withMysql({ password: 'p'.repeat(1025) }), 'relations.mysql.password: must be at most 1024 characters'],
  [withMysql({ password: undefined }), 'relations.mysql.password: is required (or passwordSecretRef: {"name", "key"} of an existing Secret)'],
  [withMysql({ passwordSecretRef: { name: 'mysql-root', key: 'password' } }), 'relations.mysql.passwordSecretRef: exactly one of password and passwordSecretRef'],
  [byRef({ name: 'n'.repeat(254), key: 'k' }), 'relations.mysql.passwordSecretRef.name: must be a Secret name of at most 253 characters'],
  [byRef({ name: 'Upper', key: 'k' }), 'relations.mysql.passwordSecretRef.name: must be a Secret name (lower case letters, digits, "-" and ".")'],
  [byRef({ name: 'ok', key: 'k'.repeat(254) }), 'relations.mysql.passwordSecretRef.key: must be a key of at most 253 characters'],
  [byRef({ name: 'ok', key: 'a/b' }), 'relations.mysql.passwordSecretRef.key: must be a Secret key (letters, digits, "-", "_" and ".")'],
];

function refusal(body: unknown): { status?: number; message: string; field?: string } {
  try {
    parseConfigRequest(body);
  } catch (error) {
    const http = error as HttpError;
    return { status: http.statusCode, message: http.message, field: http.field };
  }
  return { message: 'accepted' };
}

describe('POST /webhooks/config refusals', () => {
  it('say what is wrong, where, word for word (a 400 each)', () => {
    expect(REFUSALS.map(([body]) => refusal(body).message)).toEqual(REFUSALS.map(([, message]) => message));
    expect(REFUSALS.map(([body]) => refusal(body).status)).toEqual(REFUSALS.map(() => 400));
    // The two rules across fields name the field they are about.
    expect(refusal(withMysql({ password: undefined })).field).toBe('relations.mysql.password');
    expect(refusal(withMysql({ passwordSecretRef: { name: 'mysql-root', key: 'password' } })).field).toBe('relations.mysql.passwordSecretRef');
  });
});

describe('what the patterns let through', () => {
  const accepted = (fields: Record<string, unknown>) => refusal(withMysql(fields)).message === 'accepted';

  it('host names with one-letter labels, IPv4, bare and bracketed IPv6 literals', () => {
    for (const host of ['m', 'mysql.k', 'mysql.kubeflow.svc', '10.0.0.1', '::1', 'fe80::1', '[::1]', '[fe80::1:2]']) {
      expect([host, accepted({ host })]).toEqual([host, true]);
    }
    for (const host of ['-mysql', 'mysql-', 'mysql..k', '[::1', '[mysql]', 'mysql.k/x']) {
      expect([host, accepted({ host })]).toEqual([host, false]);
    }
  });

  it('Secret names as the API server takes them (a DNS subdomain), and only those', () => {
    const refAccepted = (name: string) => refusal(byRef({ name, key: 'password' })).message === 'accepted';
    for (const name of ['m', 'mysql-root', 'mysql.a', 'mysql.root', 'a.b.c', 'db-1.mysql-root.x9']) {
      expect([name, refAccepted(name)]).toEqual([name, true]);
    }
    for (const name of ['mysql-', 'mysql.', 'mysql.-root', 'mysql.root-', '.mysql', 'mysql_root', 'mysql/root']) {
      expect([name, refAccepted(name)]).toEqual([name, false]);
    }
  });
});
