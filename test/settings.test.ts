import { describe, expect, it } from '@jest/globals';
import { loadSettings } from '../src/settings/settings.js';

/** One credential per power (DESIGN §5), each ≥ 32 bytes and its own. */
const CREDENTIALS = {
  KFM_WEBHOOK_SECRET: 'settings-test-push-secret-0123456789ab',
  KFM_DOCKERHUB_TOKEN: 'settings-test-dockerhub-token-01234567',
  KFM_QUAY_TOKEN: 'settings-test-quay-token-0123456789abcd',
  KFM_CONFIG_SECRET: 'settings-test-config-secret-0123456789',
  KFM_CONTROL_SECRET: 'settings-test-control-secret-012345678',
  KFM_STATUS_TOKEN: 'settings-test-status-token-0123456789a',
} as const;

describe('settings', () => {
  it('has the documented defaults', () => {
    const settings = loadSettings({});
    expect(settings.target).toEqual({ kind: 'dir', path: '.kfm' });
    expect(settings.namespace).toBe('kubeflow');
    expect(settings.app).toBe('kubeflow-metadata');
    expect(settings.image).toEqual({ registry: 'gcr.io', repository: 'kubeflow-images-public/metadata', tag: 'v0.1.8' });
    expect(settings.tagPolicy).toEqual({ kind: 'track', tag: 'v0.1.8' });
    expect(settings.setStatus).toBe(true);
    expect(settings.offline).toBe(false);
    expect(settings.credentials).toEqual({ push: undefined, dockerhub: undefined, quay: undefined, config: undefined, control: undefined, status: undefined });
    expect(settings.registryAuth).toEqual({});
    expect(settings.pod).toEqual({ runAsUser: 65532, runAsGroup: 65532, cpuRequest: '100m', memoryRequest: '128Mi', memoryLimit: '512Mi', progressDeadlineSeconds: 300 });
    expect(settings.rollout).toEqual({ checkIntervalMs: 5000, revert: true });
    expect(settings.notify).toEqual({ slackUrl: undefined, webhookUrl: undefined, webhookSecret: undefined });
  });

  it('reads the rollout and notification settings, and refuses a webhook without its signing secret', () => {
    const secret = 'n'.repeat(32);
    const settings = loadSettings({ KFM_PROGRESS_DEADLINE_SECONDS: '60', KFM_ROLLOUT_CHECK_SECONDS: '2', KFM_REVERT: 'false', KFM_NOTIFY_WEBHOOK_URL: 'http://127.0.0.1:9/hook', KFM_NOTIFY_WEBHOOK_SECRET: secret });
    expect(settings.pod.progressDeadlineSeconds).toBe(60);
    expect(settings.rollout).toEqual({ checkIntervalMs: 2000, revert: false });
    expect(settings.notify).toEqual({ slackUrl: undefined, webhookUrl: 'http://127.0.0.1:9/hook', webhookSecret: secret });
    expect(() => loadSettings({ KFM_NOTIFY_WEBHOOK_URL: 'http://127.0.0.1:9/hook' })).toThrow(/KFM_NOTIFY_WEBHOOK_SECRET: is required with KFM_NOTIFY_WEBHOOK_URL/);
    expect(() => loadSettings({ KFM_PROGRESS_DEADLINE_SECONDS: '5' })).toThrow(/KFM_PROGRESS_DEADLINE_SECONDS: must be a whole number of seconds from 10 to 3600/);
    expect(() => loadSettings({ KFM_NOTIFY_SLACK_URL: 'http://hooks.example/x' })).toThrow(/KFM_NOTIFY_SLACK_URL/);
  });

  it('reads the pod settings as the API server will store them (canonical quantities)', () => {
    const settings = loadSettings({
      KFM_RUN_AS_USER: '1000', KFM_RUN_AS_GROUP: '2000', KFM_CPU_REQUEST: '0.25', KFM_MEMORY_REQUEST: '1024Mi', KFM_MEMORY_LIMIT: '2Gi',
    });
    expect(settings.pod).toEqual({ runAsUser: 1000, runAsGroup: 2000, cpuRequest: '250m', memoryRequest: '1Gi', memoryLimit: '2Gi', progressDeadlineSeconds: 300 });
    expect(loadSettings({ KFM_CPU_REQUEST: '2000m' }).pod.cpuRequest).toBe('2');
  });

  it('reads every variable', () => {
    const settings = loadSettings({
      KFM_TARGET: 'kubernetes', KFM_NAMESPACE: 'ml', KFM_APP: 'mlmd', KFM_IMAGE: 'acme/metadata:1.2.3',
      KFM_TAG_POLICY: 'semver:^1.2', ...CREDENTIALS, KFM_SET_STATUS: 'false',
      KFM_REGISTRY_AUTH: '{"Registry.Example:5000":{"username":"u","password":"p"}}', KFM_EKS_CLUSTER: 'prod', AWS_REGION: 'eu-west-1',
    });
    expect(settings.target).toEqual({ kind: 'kubernetes' });
    expect(settings.image).toEqual({ registry: 'docker.io', repository: 'acme/metadata', tag: '1.2.3' });
    expect(settings.tagPolicy).toEqual({ kind: 'semver', range: '^1.2' });
    expect(settings.registryAuth).toEqual({ 'registry.example:5000': { username: 'u', password: 'p' } });
    expect(settings.setStatus).toBe(false);
    expect(settings.eks).toEqual({ cluster: 'prod', region: 'eu-west-1', endpoint: undefined, caData: undefined });
    expect(settings.credentials).toEqual({
      push: CREDENTIALS.KFM_WEBHOOK_SECRET, dockerhub: CREDENTIALS.KFM_DOCKERHUB_TOKEN, quay: CREDENTIALS.KFM_QUAY_TOKEN,
      config: CREDENTIALS.KFM_CONFIG_SECRET, control: CREDENTIALS.KFM_CONTROL_SECRET, status: CREDENTIALS.KFM_STATUS_TOKEN,
    });
  });

  it.each([
    [{ KFM_TARGET: 'ftp:x' }, /KFM_TARGET: must be "dir:<path>" or "kubernetes"/],
    [{ KFM_NAMESPACE: 'Bad_NS' }, /KFM_NAMESPACE: must be a DNS-1123 label/],
    [{ KFM_IMAGE: 'gcr.io/x/y@sha256:abc' }, /KFM_IMAGE: must name a tag to track/],
    [{ KFM_IMAGE: 'gcr.io/X Y/z:1' }, /KFM_IMAGE: .* is not a valid repository path/],
    [{ KFM_TAG_POLICY: 'newest' }, /KFM_TAG_POLICY: must be "track", "semver:<range>" or "regex:<pattern>"/],
    [{ KFM_TAG_POLICY: 'semver:not a range!' }, /KFM_TAG_POLICY: "not a range!" is not a semver range/],
    [{ KFM_TAG_POLICY: 'regex:(' }, /KFM_TAG_POLICY: Invalid regular expression/],
    [{ KFM_WEBHOOK_SECRET: 'short' }, /KFM_WEBHOOK_SECRET: must be at least 32 bytes/],
    [{ KFM_WEBHOOK_SECRET: 'x'.repeat(31) }, /KFM_WEBHOOK_SECRET: must be at least 32 bytes/],
    [{ KFM_DOCKERHUB_TOKEN: 'x'.repeat(16) }, /KFM_DOCKERHUB_TOKEN: must be at least 32 bytes/],
    [{ KFM_QUAY_TOKEN: 'x'.repeat(31) }, /KFM_QUAY_TOKEN: must be at least 32 bytes/],
    [{ KFM_CONFIG_SECRET: 'x'.repeat(20) }, /KFM_CONFIG_SECRET: must be at least 32 bytes/],
    [{ KFM_CONTROL_SECRET: 'x'.repeat(31) }, /KFM_CONTROL_SECRET: must be at least 32 bytes/],
    [{ KFM_STATUS_TOKEN: 'x'.repeat(31) }, /KFM_STATUS_TOKEN: must be at least 32 bytes/],
    [{ KFM_REGISTRY_AUTH: '{nope' }, /KFM_REGISTRY_AUTH: .*JSON/],
    [{ KFM_REGISTRY_AUTH: '{"h":{"username":"u"}}' }, /KFM_REGISTRY_AUTH/],
    [{ KFM_SET_STATUS: 'yes' }, /KFM_SET_STATUS: must be "true" or "false"/],
    [{ KFM_OFFLINE: 'true', KFM_TARGET: 'kubernetes' }, /KFM_OFFLINE: only allowed with a dir: target/],
    [{ KFM_RUN_AS_USER: '0' }, /KFM_RUN_AS_USER: must be a number from 1 to 2147483647/],
    [{ KFM_RUN_AS_GROUP: 'nobody' }, /KFM_RUN_AS_GROUP: must be a number from 1 to 2147483647/],
    [{ KFM_RUN_AS_USER: '2147483648' }, /KFM_RUN_AS_USER: must be a number/],
    [{ KFM_CPU_REQUEST: '100mi' }, /KFM_CPU_REQUEST: must be a CPU quantity/],
    [{ KFM_CPU_REQUEST: '0m' }, /KFM_CPU_REQUEST: must be at least 1m/],
    [{ KFM_MEMORY_REQUEST: '128M' }, /KFM_MEMORY_REQUEST: must be a whole number of Ki, Mi, Gi or Ti/],
    [{ KFM_MEMORY_LIMIT: '1.5Gi' }, /KFM_MEMORY_LIMIT: must be a whole number/],
    [{ KFM_MEMORY_REQUEST: '1Gi', KFM_MEMORY_LIMIT: '512Mi' }, /KFM_MEMORY_LIMIT: 512Mi is below KFM_MEMORY_REQUEST 1Gi/],
  ])('refuses %j with an error naming the variable', (env, message) => {
    expect(() => loadSettings(env)).toThrow(message);
  });

  it('names every bad variable at once and never echoes a secret value', () => {
    let message = '';
    try {
      loadSettings({ KFM_SET_STATUS: 'maybe', KFM_WEBHOOK_SECRET: 'tiny-secret', KFM_REGISTRY_AUTH: '{"h":{"username":"u","password":""}}' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/KFM_SET_STATUS/);
    expect(message).toMatch(/KFM_WEBHOOK_SECRET/);
    expect(message).toMatch(/KFM_REGISTRY_AUTH/);
    expect(message).not.toContain('tiny-secret');
  });

  it('counts a credential in bytes: 16 two-byte characters (32 bytes) pass, 31 ASCII bytes do not', () => {
    expect(loadSettings({ KFM_CONFIG_SECRET: 'é'.repeat(16) }).credentials.config).toBe('é'.repeat(16));
    expect(() => loadSettings({ KFM_CONFIG_SECRET: 'é'.repeat(15) + 'x' })).toThrow(/KFM_CONFIG_SECRET: must be at least 32 bytes/);
    expect(loadSettings({ KFM_STATUS_TOKEN: 's'.repeat(32) }).credentials.status).toBe('s'.repeat(32));
  });

  const refusal = (env: Record<string, string>): string => {
    try {
      loadSettings(env);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('expected a settings error');
  };

  it.each([
    ['KFM_WEBHOOK_SECRET', 'KFM_CONFIG_SECRET'],
    ['KFM_DOCKERHUB_TOKEN', 'KFM_QUAY_TOKEN'],
    ['KFM_CONTROL_SECRET', 'KFM_STATUS_TOKEN'],
    ['KFM_WEBHOOK_SECRET', 'KFM_STATUS_TOKEN'],
  ] as const)('one value for %s and %s stops the cold start, naming both variables, never the value', (first, second) => {
    const reused = CREDENTIALS[first];
    const message = refusal({ ...CREDENTIALS, [second]: reused });
    expect(message).toMatch(/^invalid settings: /);
    expect(message).toContain(`${first}, ${second}`);
    expect(message).toMatch(/the same value for several powers/);
    expect(message).not.toContain(reused);
    // The other variables are not named: their values are their own.
    for (const name of Object.keys(CREDENTIALS).filter((n) => n !== first && n !== second)) expect(message).not.toContain(name);
  });

  it('a value reused by two pairs names each pair, and a value shared by three powers names all three', () => {
    const pairs = refusal({ ...CREDENTIALS, KFM_CONFIG_SECRET: CREDENTIALS.KFM_WEBHOOK_SECRET, KFM_STATUS_TOKEN: CREDENTIALS.KFM_CONTROL_SECRET });
    expect(pairs).toContain('KFM_WEBHOOK_SECRET, KFM_CONFIG_SECRET');
    expect(pairs).toContain('KFM_CONTROL_SECRET, KFM_STATUS_TOKEN');
    const three = refusal({ KFM_WEBHOOK_SECRET: CREDENTIALS.KFM_QUAY_TOKEN, KFM_QUAY_TOKEN: CREDENTIALS.KFM_QUAY_TOKEN, KFM_STATUS_TOKEN: CREDENTIALS.KFM_QUAY_TOKEN });
    expect(three).toContain('KFM_WEBHOOK_SECRET, KFM_QUAY_TOKEN, KFM_STATUS_TOKEN');
    for (const message of [pairs, three]) for (const value of Object.values(CREDENTIALS)) expect(message).not.toContain(value);
  });

  it('distinct values for every power load', () => {
    expect(() => loadSettings({ ...CREDENTIALS })).not.toThrow();
  });
});
