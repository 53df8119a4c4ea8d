// The one place that reads the environment. Validated by one zod schema at
// cold start: a wrong value stops the function with an error naming the variable.
import { z } from 'zod';
import { SettingsError } from '../errors.js';
import { parseImageRef, type ImageRef } from '../image/reference.js';
import { parseTagPolicy, type TagPolicy } from '../policy/tag-policy.js';

export type TargetSetting = { kind: 'dir'; path: string } | { kind: 'kubernetes' };

export interface Settings {
  target: TargetSetting;
  namespace: string;
  app: string;
  image: ImageRef;
  tagPolicy: TagPolicy;
  webhookSecret?: string;
  registryAuth: Record<string, { username: string; password: string }>;
  setStatus: boolean;
  /** Demo mode (`npm start`): no registry lookup, the event's digest is taken as is. Directory target only. */
  offline: boolean;
  eks?: { cluster: string; endpoint?: string; caData?: string; region?: string };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsLabel = z.string().max(63).regex(DNS_LABEL, 'must be a DNS-1123 label (lower case letters, digits, "-")');

function fromText<T>(parse: (text: string) => T) {
  return (text: string, ctx: z.core.$RefinementCtx<string>): T => {
    try {
      return parse(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  };
}

const registryAuth = z.record(
  z.string().min(1),
  z.strictObject({ username: z.string().min(1), password: z.string().min(1) }),
);

const schema = z.object({
  KFM_TARGET: z
    .string()
    .default('dir:.kfm')
    .transform(fromText((text): TargetSetting => {
      if (text === 'kubernetes') return { kind: 'kubernetes' };
      if (text.startsWith('dir:') && text.length > 4) return { kind: 'dir', path: text.slice(4) };
      throw new Error('must be "dir:<path>" or "kubernetes"');
    })),
  KFM_NAMESPACE: dnsLabel.default('kubeflow'),
  KFM_APP: dnsLabel.default('kubeflow-metadata'),
  KFM_IMAGE: z.string().default('gcr.io/kubeflow-images-public/metadata:v0.1.8').transform(fromText(parseImageRef)),
  KFM_TAG_POLICY: z.string().default('track'),
  KFM_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  KFM_REGISTRY_AUTH: z
    .string()
    .default('{}')
    .transform(fromText((text) => JSON.parse(text) as unknown))
    .pipe(registryAuth),
  KFM_SET_STATUS: z.enum(['true', 'false'], 'must be "true" or "false"').default('true'),
  KFM_OFFLINE: z.enum(['true', 'false'], 'must be "true" or "false"').default('false'),
  KFM_EKS_CLUSTER: z.string().min(1).optional(),
  KFM_EKS_ENDPOINT: z.url({ protocol: /^https$/ }).optional(),
  KFM_EKS_CA: z.string().min(1).optional(),
  AWS_REGION: z.string().min(1).optional(),
});

/** Reads and validates the settings; throws SettingsError naming every bad variable. */
export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${String(issue.path[0])}: ${issue.message}`);
    throw new SettingsError(`invalid settings: ${problems.join('; ')}`);
  }
  const s = parsed.data;
  if (s.KFM_OFFLINE === 'true' && s.KFM_TARGET.kind !== 'dir') {
    throw new SettingsError('invalid settings: KFM_OFFLINE: only allowed with a dir: target (it skips the registry lookup)');
  }
  let tagPolicy: TagPolicy;
  try {
    tagPolicy = parseTagPolicy(s.KFM_TAG_POLICY, s.KFM_IMAGE.tag);
  } catch (error) {
    throw new SettingsError(`invalid settings: KFM_TAG_POLICY: ${(error as Error).message}`);
  }
  return {
    target: s.KFM_TARGET,
    namespace: s.KFM_NAMESPACE,
    app: s.KFM_APP,
    image: s.KFM_IMAGE,
    tagPolicy,
    webhookSecret: s.KFM_WEBHOOK_SECRET,
    registryAuth: Object.fromEntries(Object.entries(s.KFM_REGISTRY_AUTH).map(([host, auth]) => [host.toLowerCase(), auth])),
    setStatus: s.KFM_SET_STATUS === 'true',
    offline: s.KFM_OFFLINE === 'true',
    eks: s.KFM_EKS_CLUSTER
      ? { cluster: s.KFM_EKS_CLUSTER, endpoint: s.KFM_EKS_ENDPOINT, caData: s.KFM_EKS_CA, region: s.AWS_REGION }
      : undefined,
  };
}
