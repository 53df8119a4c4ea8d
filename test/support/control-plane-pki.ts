// Certificates and kubeconfigs for the test control plane (control-plane.ts), made with the `openssl`
// CLI (Debian's package; scripts/install-test-peers.sh installs it). EC P-256 keys: one openssl call
// per certificate, ~30 ms each, so a fresh control plane spends well under a second here.
//
// Identities (x509 client certificates: the API server takes CN as the user and O as the groups):
//   admin             CN=kubernetes-admin, O=system:masters             tests' and people's admin
//   deployer          CN=kubeflow-metadata-deployer, O=kubeflow-metadata-deployer
//                     the group deploy/rbac.yaml binds, NOT system:masters
//   controller-manager CN=system:kube-controller-manager, O=system:masters
//                     (no --use-service-account-credentials, so its one identity needs every controller's rights)
//   scheduler         CN=system:kube-scheduler (its bootstrap ClusterRole is enough)
//   kwok              CN=kwok, O=system:masters (it writes node and pod status, leases)
// A directory that already holds pki/ca.crt is reused as it is (npm run cluster keeps its state).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
// Without a config of its own, `req -x509` adds the distribution's v3_ca extensions (CA:TRUE) to leaves.
const OPENSSL_CONFIG = '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n';
const CURVE = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650'];

export const DEPLOYER_USER = 'kubeflow-metadata-deployer';
export const DEPLOYER_GROUP = 'kubeflow-metadata-deployer';
export const ADMIN_USER = 'kubernetes-admin';
export type Identity = 'admin' | 'deployer' | 'controller-manager' | 'scheduler' | 'kwok';
const SUBJECTS: Record<Identity, string> = {
  admin: `/O=system:masters/CN=${ADMIN_USER}`,
  deployer: `/O=${DEPLOYER_GROUP}/CN=${DEPLOYER_USER}`,
  'controller-manager': '/O=system:masters/CN=system:kube-controller-manager',
  scheduler: '/CN=system:kube-scheduler',
  kwok: '/O=system:masters/CN=kwok',
};
/** Names the API server answers to: loopback, and the in-cluster names of the `kubernetes` Service (10.96.0.1). */
export const SERVING_NAMES = ['IP:127.0.0.1', 'DNS:localhost', 'IP:10.96.0.1', 'DNS:kubernetes', 'DNS:kubernetes.default',
  'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local'];

export interface Pki {
  dir: string;
  caFile: string;
  caKeyFile: string;
  serving: KeyPair;
  /** The service-account signing key (ES256, SEC1 "EC PRIVATE KEY": the API server's key parser wants it) and its public half. */
  serviceAccountKeyFile: string;
  serviceAccountPublicKeyFile: string;
  client: Record<Identity, KeyPair>;
}
export interface KeyPair { certFile: string; keyFile: string }

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir });
  } catch (error) {
    const e = error as { code?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error('openssl is missing: run `bash scripts/install-test-peers.sh`');
    throw new Error(`openssl ${args.slice(0, 3).join(' ')} failed: ${e.stderr ?? String(error)}`);
  }
}

/** A leaf certificate signed by the test CA: client (`subject` carries CN/O) or server (`sans`). */
export async function issueCertificate(pkiDir: string, name: string, subject: string, sans?: string[]): Promise<KeyPair> {
  const pair = { certFile: join(pkiDir, `${name}.crt`), keyFile: join(pkiDir, `${name}.key`) };
  await openssl(pkiDir, ['req', '-config', 'openssl.cnf', '-x509', '-new', ...CURVE, '-CA', 'ca.crt', '-CAkey', 'ca.key',
    '-keyout', pair.keyFile, '-out', pair.certFile, '-subj', subject,
    '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
    '-addext', `extendedKeyUsage=${sans ? 'serverAuth' : 'clientAuth'}`,
    ...(sans ? ['-addext', `subjectAltName=${sans.join(',')}`] : [])]);
  return pair;
}

export async function createPki(stateDir: string): Promise<Pki> {
  const dir = join(stateDir, 'pki');
  const pair = (name: string): KeyPair => ({ certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) });
  const pki: Pki = {
    dir, caFile: join(dir, 'ca.crt'), caKeyFile: join(dir, 'ca.key'), serving: pair('apiserver'),
    serviceAccountKeyFile: join(dir, 'service-account.key'), serviceAccountPublicKeyFile: join(dir, 'service-account.pub'),
    client: Object.fromEntries(Object.keys(SUBJECTS).map((id) => [id, pair(id)])) as Record<Identity, KeyPair>,
  };
  if (existsSync(pki.caFile) && existsSync(pki.client.deployer.certFile)) return pki;
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'openssl.cnf'), OPENSSL_CONFIG);
  await Promise.all([
    openssl(dir, ['req', '-config', 'openssl.cnf', '-x509', '-new', ...CURVE, '-keyout', 'ca.key', '-out', 'ca.crt',
      '-subj', '/CN=kfm-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']),
    openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'service-account.key'])
      .then(() => openssl(dir, ['ec', '-in', 'service-account.key', '-pubout', '-out', 'service-account.pub'])),
  ]);
  await Promise.all([
    issueCertificate(dir, 'apiserver', '/CN=kube-apiserver', SERVING_NAMES),
    ...Object.entries(SUBJECTS).map(([id, subject]) => issueCertificate(dir, id, subject)),
  ]);
  return pki;
}

/** A kubeconfig with the CA and the client pair embedded, so it works from any directory and any tool. */
export async function writeKubeconfig(path: string, server: string, pki: Pki, identity: Identity, namespace = 'default'): Promise<string> {
  const b64 = async (file: string) => (await readFile(file)).toString('base64');
  const { certFile, keyFile } = pki.client[identity];
  const text = `apiVersion: v1
kind: Config
current-context: kfm-${identity}
clusters:
- name: kfm-test
  cluster: {server: "${server}", certificate-authority-data: ${await b64(pki.caFile)}}
users:
- name: kfm-${identity}
  user: {client-certificate-data: ${await b64(certFile)}, client-key-data: ${await b64(keyFile)}}
contexts:
- name: kfm-${identity}
  context: {cluster: kfm-test, user: kfm-${identity}, namespace: ${namespace}}
`;
  await writeFile(path, text, { mode: 0o600 });
  return path;
}
