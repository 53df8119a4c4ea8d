import { describe, expect, it } from '@jest/globals';
import { loadSettings } from '../src/settings/settings.js';

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
    expect(settings.webhookSecret).toBeUndefined();
    expect(settings.registryAuth).toEqual({});
    expect(settings.pod).toEqual({ runAsUser: 65532, runAsGroup: 65532, cpuRequest: '100m', memoryRequest: '128Mi', memoryLimit: '512Mi' });
  });

  it('reads the pod settings as the API server will store them (canonical quantities)', () => {
    const settings = loadSettings({
      KFM_RUN_AS_USER: '1000', KFM_RUN_AS_GROUP: '2000', KFM_CPU_REQUEST: '0.25', KFM_MEMORY_REQUEST: '1024Mi', KFM_MEMORY_LIMIT: '2Gi',
    });
    expect(settings.pod).toEqual({ runAsUser: 1000, runAsGroup: 2000, cpuRequest: '250m', memoryRequest: '1Gi', memoryLimit: '2Gi' });
    expect(loadSettings({ KFM_CPU_REQUEST: '2000m' }).pod.cpuRequest).toBe('2');
  });

  it('reads every variable', () => {
    const settings = loadSettings({
      KFM_TARGET: 'kubernetes', KFM_NAMESPACE: 'ml', KFM_APP: 'mlmd', KFM_IMAGE: 'acme/metadata:1.2.3',
      KFM_TAG_POLICY: 'semver:^1.2', KFM_WEBHOOK_SECRET: 'x'.repeat(32), KFM_SET_STATUS: 'false',
      KFM_REGISTRY_AUTH: '{"Registry.Example:5000":{"username":"u","password":"p"}}', KFM_EKS_CLUSTER: 'prod', AWS_REGION: 'eu-west-1',
    });
    expect(settings.target).toEqual({ kind: 'kubernetes' });
    expect(settings.image).toEqual({ registry: 'docker.io', repository: 'acme/metadata', tag: '1.2.3' });
    expect(settings.tagPolicy).toEqual({ kind: 'semver', range: '^1.2' });
    expect(settings.registryAuth).toEqual({ 'registry.example:5000': { username: 'u', password: 'p' } });
    expect(settings.setStatus).toBe(false);
    expect(settings.eks).toEqual({ cluster: 'prod', region: 'eu-west-1', endpoint: undefined, caData: undefined });
  });

  it.each([
    [{ KFM_TARGET: 'ftp:x' }, /KFM_TARGET: must be "dir:<path>" or "kubernetes"/],
    [{ KFM_NAMESPACE: 'Bad_NS' }, /KFM_NAMESPACE: must be a DNS-1123 label/],
    [{ KFM_IMAGE: 'gcr.io/x/y@sha256:abc' }, /KFM_IMAGE: must name a tag to track/],
    [{ KFM_IMAGE: 'gcr.io/X Y/z:1' }, /KFM_IMAGE: .* is not a valid repository path/],
    [{ KFM_TAG_POLICY: 'newest' }, /KFM_TAG_POLICY: must be "track", "semver:<range>" or "regex:<pattern>"/],
    [{ KFM_TAG_POLICY: 'semver:not a range!' }, /KFM_TAG_POLICY: "not a range!" is not a semver range/],
    [{ KFM_TAG_POLICY: 'regex:(' }, /KFM_TAG_POLICY: Invalid regular expression/],
    [{ KFM_WEBHOOK_SECRET: 'short' }, /KFM_WEBHOOK_SECRET: must be at least 16 characters/],
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
});
