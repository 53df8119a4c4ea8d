// The one place that reads the environment. Validated by one zod/mini schema at
// cold start: a wrong value stops the function with an error naming the variable.
import * as z from 'zod/mini';
import { SettingsError } from '../errors.js';
import { configureZod, text } from '../validation.js';
import { parseImageRef, type ImageRef } from '../image/reference.js';
import { parseTagPolicy, type TagPolicy } from '../policy/tag-policy.js';
import { POD_DEFAULTS, canonicalCpu, canonicalMemory, memoryBytes, type PodOptions } from '../render/workload.js';

export type TargetSetting = { kind: 'dir'; path: string } | { kind: 'kubernetes' };

/** Where the secrets come from (src/settings/secrets.ts reads them): the variables, or a store by name. */
export type SecretsFrom = { kind: 'env' } | { kind: 'ssm'; prefix: string } | { kind: 'secretsmanager'; id: string };

/** One credential per power (DESIGN §5); an unset one closes its routes. */
export interface Credentials {
  /** KFM_WEBHOOK_SECRET: push webhooks (Bearer, GHCR and generic HMACs). */
  push?: string;
  /** KFM_DOCKERHUB_TOKEN, KFM_QUAY_TOKEN: the `?token=` of their own route only. */
  dockerhub?: string;
  quay?: string;
  /** KFM_CONFIG_SECRET: POST /webhooks/config. */
  config?: string;
  /** KFM_CONTROL_SECRET: POST /control. */
  control?: string;
  /** KFM_STATUS_TOKEN: GET /status. */
  status?: string;
}

/** Each power's variable: the settings error names these, never a value. */
export const CREDENTIAL_VARIABLES = {
  push: 'KFM_WEBHOOK_SECRET',
  dockerhub: 'KFM_DOCKERHUB_TOKEN',
  quay: 'KFM_QUAY_TOKEN',
  config: 'KFM_CONFIG_SECRET',
  control: 'KFM_CONTROL_SECRET',
  status: 'KFM_STATUS_TOKEN',
} as const satisfies Record<keyof Credentials, string>;

export interface Settings {
  target: TargetSetting;
  namespace: string;
  app: string;
  image: ImageRef;
  tagPolicy: TagPolicy;
  credentials: Credentials;
  secretsFrom: SecretsFrom;
  /** KFM_REFRESH_HOURS: the scheduled refresh's interval; ECR tokens are renewed when less than it (plus a margin) remains. */
  refreshHours: number;
  /** KFM_TRACING: Powertools Tracer (X-Ray), opt-in. */
  tracing: boolean;
  registryAuth: Record<string, { username: string; password: string }>;
  setStatus: boolean;
  /** Demo mode (`npm start`): no registry lookup, the event's digest is taken as is. Directory target only. */
  offline: boolean;
  eks?: { cluster: string; endpoint?: string; caData?: string; region?: string };
  /** The pod's user, resources and progress deadline (KFM_RUN_AS_*, KFM_*_REQUEST, KFM_MEMORY_LIMIT, KFM_PROGRESS_DEADLINE_SECONDS); pass to renderWorkload. */
  pod: PodOptions;
  /** Following rollouts (Kubernetes): the poll interval, and whether a failed one is reverted (KFM_ROLLOUT_CHECK_SECONDS, KFM_REVERT). */
  rollout: { checkIntervalMs: number; revert: boolean };
  /** Where verdicts are announced (KFM_NOTIFY_*): a Slack incoming webhook, a signed JSON webhook. */
  notify: { slackUrl?: string; webhookUrl?: string; webhookSecret?: string };
  /** The SQS FIFO queue intake sends to; without it, an in-process queue and worker (local runs). */
  queueUrl?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function fromText<T>(parse: (text: string) => T) {
  return (text: string, ctx: z.core.ParsePayload): T => {
    try {
      return parse(text);
    } catch (error) {
      ctx.issues.push({ code: 'custom', message: (error as Error).message, input: text });
      return z.NEVER;
    }
  };
}

const DEFAULT_TARGET = 'dir:.kfm';
const DEFAULT_IMAGE = 'gcr.io/kubeflow-images-public/metadata:v0.1.8';

function parseTarget(text: string): TargetSetting {
  if (text === 'kubernetes') return { kind: 'kubernetes' };
  if (text.startsWith('dir:') && text.length > 4) return { kind: 'dir', path: text.slice(4) };
  throw new Error('must be "dir:<path>" or "kubernetes"');
}

// A variable's value is a string by construction: one schema, not text()'s pipe (which guards JSON values).
const variable = (...checks: Parameters<z.ZodMiniString['check']>) => z.string().check(...checks);
const dnsLabel = () => variable(z.maxLength(63), z.regex(DNS_LABEL, 'must be a DNS-1123 label (lower case letters, digits, "-")'));
const flag = () => z.enum(['true', 'false'], 'must be "true" or "false"');
const nonEmpty = () => text(z.minLength(1)); // inside KFM_REGISTRY_AUTH's JSON
// Not 0: the pod runs with runAsNonRoot, and the kubelet refuses uid 0 then.
function parseId(text: string): number {
  if (!/^[1-9]\d{0,9}$/.test(text) || Number(text) > 2147483647) throw new Error('must be a number from 1 to 2147483647');
  return Number(text);
}
const id = () => z.pipe(z.string(), z.transform(fromText(parseId)));
/** Bytes, not characters: what an attacker must guess. The message never holds the value. */
const credential = () => variable(z.refine((text: string) => Buffer.byteLength(text, 'utf8') >= 32, 'must be at least 32 bytes (e.g. openssl rand -hex 32)'));

/** The same grammar as scripts/serverless-vars.cjs's grants (a prefix, a secret name or ARN). */
function parseSecretsFrom(text: string): SecretsFrom {
  if (text === 'env') return { kind: 'env' };
  if (text.startsWith('ssm:')) {
    const prefix = text.slice(4).replace(/\/+$/, '');
    if (/^(\/[\w.-]+)+$/.test(prefix)) return { kind: 'ssm', prefix };
    throw new Error('ssm: needs a path prefix like "ssm:/kubeflow-metadata-deployer/prod"');
  }
  if (text.startsWith('secretsmanager:')) {
    const id = text.slice('secretsmanager:'.length);
    if (/^[\w/+=.@-]{1,512}$/.test(id) || /^arn:[\w-]+:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$/.test(id)) return { kind: 'secretsmanager', id };
    throw new Error('secretsmanager: needs a secret name or ARN');
  }
  throw new Error('must be "env", "ssm:/<path prefix>" or "secretsmanager:<secret id>"');
}

/** Whole seconds from `min` to `max`. */
const seconds = (min: number, max: number) => (text: string): number => {
  if (!/^\d{1,5}$/.test(text) || Number(text) < min || Number(text) > max) throw new Error(`must be a whole number of seconds from ${min} to ${max}`);
  return Number(text);
};

/** ECR tokens last 12 hours: a refresh must come sooner, so the pull Secret is renewed in time. */
function parseRefreshHours(text: string): number {
  if (!/^(?:[1-9]|1[01])$/.test(text)) throw new Error('must be a whole number of hours from 1 to 11 (ECR tokens last 12 hours)');
  return Number(text);
}

/** JSON.parse's message quotes the input: a registry password must not reach the settings error. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error('must be JSON: {"<registry host>": {"username": "…", "password": "…"}}');
  }
}

/**
 * One schema per variable, built only when the variable is set (a cold start usually sets three of
 * fourteen): an unset variable takes its default below, which is what its schema would produce.
 */
const VARIABLES = {
  KFM_TARGET: () => z.pipe(z.string(), z.transform(fromText(parseTarget))),
  KFM_NAMESPACE: dnsLabel,
  KFM_APP: dnsLabel,
  KFM_IMAGE: () => z.pipe(z.string(), z.transform(fromText(parseImageRef))),
  KFM_TAG_POLICY: () => z.string(),
  KFM_SECRETS_FROM: () => z.pipe(z.string(), z.transform(fromText(parseSecretsFrom))),
  KFM_WEBHOOK_SECRET: credential,
  KFM_DOCKERHUB_TOKEN: credential,
  KFM_QUAY_TOKEN: credential,
  KFM_CONFIG_SECRET: credential,
  KFM_CONTROL_SECRET: credential,
  KFM_STATUS_TOKEN: credential,
  KFM_REGISTRY_AUTH: () =>
    z.pipe(
      z.pipe(z.string(), z.transform(fromText(parseJson))),
      z.record(nonEmpty(), z.strictObject({ username: nonEmpty(), password: nonEmpty() })),
    ),
  KFM_SET_STATUS: flag,
  KFM_OFFLINE: flag,
  KFM_EKS_CLUSTER: () => variable(z.minLength(1)),
  KFM_EKS_ENDPOINT: () => z.url({ protocol: /^https$/ }),
  KFM_EKS_CA: () => variable(z.minLength(1)),
  AWS_REGION: () => variable(z.minLength(1)),
  KFM_QUEUE_URL: () => z.url({ protocol: /^https?$/ }),
  KFM_REFRESH_HOURS: () => z.pipe(z.string(), z.transform(fromText(parseRefreshHours))),
  KFM_TRACING: flag,
  KFM_RUN_AS_USER: id,
  KFM_RUN_AS_GROUP: id,
  KFM_CPU_REQUEST: () => z.pipe(z.string(), z.transform(fromText(canonicalCpu))),
  KFM_MEMORY_REQUEST: () => z.pipe(z.string(), z.transform(fromText(canonicalMemory))),
  KFM_MEMORY_LIMIT: () => z.pipe(z.string(), z.transform(fromText(canonicalMemory))),
  KFM_PROGRESS_DEADLINE_SECONDS: () => z.pipe(z.string(), z.transform(fromText(seconds(10, 3600)))),
  KFM_ROLLOUT_CHECK_SECONDS: () => z.pipe(z.string(), z.transform(fromText(seconds(1, 60)))),
  KFM_REVERT: flag,
  KFM_NOTIFY_SLACK_URL: () => z.url({ protocol: /^https$/ }),
  KFM_NOTIFY_WEBHOOK_URL: () => z.url({ protocol: /^https?$/ }),
  KFM_NOTIFY_WEBHOOK_SECRET: credential,
};

type Variable = keyof typeof VARIABLES;
type Values = { [K in Variable]: z.output<ReturnType<(typeof VARIABLES)[K]>> | (K extends keyof Defaults ? never : undefined) };
type Defaults = ReturnType<typeof defaults>;

/** The values of unset variables. */
function defaults() {
  return {
    KFM_TARGET: parseTarget(DEFAULT_TARGET),
    KFM_NAMESPACE: 'kubeflow',
    KFM_APP: 'kubeflow-metadata',
    KFM_IMAGE: parseImageRef(DEFAULT_IMAGE),
    KFM_TAG_POLICY: 'track',
    KFM_SECRETS_FROM: { kind: 'env' } as SecretsFrom,
    KFM_REFRESH_HOURS: 6,
    KFM_TRACING: 'false' as const,
    KFM_REGISTRY_AUTH: {} as Record<string, { username: string; password: string }>,
    KFM_SET_STATUS: 'true' as const,
    KFM_OFFLINE: 'false' as const,
    KFM_RUN_AS_USER: POD_DEFAULTS.runAsUser,
    KFM_RUN_AS_GROUP: POD_DEFAULTS.runAsGroup,
    KFM_CPU_REQUEST: POD_DEFAULTS.cpuRequest,
    KFM_MEMORY_REQUEST: POD_DEFAULTS.memoryRequest,
    KFM_MEMORY_LIMIT: POD_DEFAULTS.memoryLimit,
    KFM_PROGRESS_DEADLINE_SECONDS: POD_DEFAULTS.progressDeadlineSeconds,
    KFM_ROLLOUT_CHECK_SECONDS: 5,
    KFM_REVERT: 'true' as const,
  };
}

/** Reads and validates the settings; throws SettingsError naming every bad variable. */
export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  configureZod();
  const values: Record<string, unknown> = defaults();
  const problems: string[] = [];
  for (const name of Object.keys(VARIABLES) as Variable[]) {
    const text = Object.hasOwn(env, name) ? env[name] : undefined;
    if (text === undefined || text === '') {
      values[name] ??= undefined;
      continue;
    }
    const parsed = VARIABLES[name]().safeParse(text);
    if (parsed.success) values[name] = parsed.data;
    else for (const issue of parsed.error.issues) problems.push(`${name}: ${issue.message}`);
  }
  if (problems.length > 0) throw new SettingsError(`invalid settings: ${problems.join('; ')}`);
  const s = values as Values;
  const credentials = Object.fromEntries(Object.entries(CREDENTIAL_VARIABLES).map(([power, name]) => [power, s[name]])) as Credentials;
  assertDistinct(credentials);
  if (s.KFM_OFFLINE === 'true' && s.KFM_TARGET.kind !== 'dir') {
    throw new SettingsError('invalid settings: KFM_OFFLINE: only allowed with a dir: target (it skips the registry lookup)');
  }
  // The API server refuses a pod whose memory limit is below its request: say so at cold start.
  if (memoryBytes(s.KFM_MEMORY_LIMIT) < memoryBytes(s.KFM_MEMORY_REQUEST)) {
    throw new SettingsError(`invalid settings: KFM_MEMORY_LIMIT: ${s.KFM_MEMORY_LIMIT} is below KFM_MEMORY_REQUEST ${s.KFM_MEMORY_REQUEST}`);
  }
  if (s.KFM_NOTIFY_WEBHOOK_URL !== undefined && s.KFM_NOTIFY_WEBHOOK_SECRET === undefined) {
    throw new SettingsError('invalid settings: KFM_NOTIFY_WEBHOOK_SECRET: is required with KFM_NOTIFY_WEBHOOK_URL (the receiver checks X-Signature)');
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
    credentials,
    secretsFrom: s.KFM_SECRETS_FROM,
    refreshHours: s.KFM_REFRESH_HOURS,
    tracing: s.KFM_TRACING === 'true',
    registryAuth: Object.fromEntries(Object.entries(s.KFM_REGISTRY_AUTH).map(([host, auth]) => [host.toLowerCase(), auth])),
    setStatus: s.KFM_SET_STATUS === 'true',
    offline: s.KFM_OFFLINE === 'true',
    eks: s.KFM_EKS_CLUSTER
      ? { cluster: s.KFM_EKS_CLUSTER, endpoint: s.KFM_EKS_ENDPOINT, caData: s.KFM_EKS_CA, region: s.AWS_REGION }
      : undefined,
    queueUrl: s.KFM_QUEUE_URL,
    pod: {
      runAsUser: s.KFM_RUN_AS_USER,
      runAsGroup: s.KFM_RUN_AS_GROUP,
      cpuRequest: s.KFM_CPU_REQUEST,
      memoryRequest: s.KFM_MEMORY_REQUEST,
      memoryLimit: s.KFM_MEMORY_LIMIT,
      progressDeadlineSeconds: s.KFM_PROGRESS_DEADLINE_SECONDS,
    },
    rollout: { checkIntervalMs: s.KFM_ROLLOUT_CHECK_SECONDS * 1000, revert: s.KFM_REVERT === 'true' },
    notify: { slackUrl: s.KFM_NOTIFY_SLACK_URL, webhookUrl: s.KFM_NOTIFY_WEBHOOK_URL, webhookSecret: s.KFM_NOTIFY_WEBHOOK_SECRET },
  };
}

/** One credential per power: a value used for two would let one power act as the other. */
function assertDistinct(credentials: Credentials): void {
  const byValue = new Map<string, string[]>();
  for (const [power, value] of Object.entries(credentials) as [keyof Credentials, string | undefined][]) {
    if (value !== undefined) byValue.set(value, [...(byValue.get(value) ?? []), CREDENTIAL_VARIABLES[power]]);
  }
  const reused = [...byValue.values()].filter((names) => names.length > 1);
  if (reused.length > 0) {
    throw new SettingsError(`invalid settings: ${reused.map((names) => names.join(', ')).join('; ')}: the same value for several powers (each needs its own credential)`);
  }
}
