// layer:docker-resource, as rules: auto-fetch, re-fetch on resource update,
// and the pending queue with its flags and statuses.
import type { Rule } from '../reactive/engine.js';
import type { RegistryCredentials } from '../domain/types.js';
import { flag, setStatus, type Hook, type StepContext } from './context.js';
import type { CharmState, ResourceInfo } from './state.js';

/** metadata.yaml's resources with `auto-fetch: true`. */
export const AUTO_FETCH = ['oci-image'] as const;

/** The layer's `fetch(name)`: queue it and raise `fetched` and `pending`. */
function queueFetch(context: StepContext, name: string): void {
  if (!context.state.pending.includes(name)) context.state.pending.push(name);
  context.flags.add(flag.resource(name, 'fetched'));
  context.flags.add(flag.pending);
}

/**
 * Resources whose credentials are gone: the state says they are pulled with credentials, but no pull
 * Secret holds them (a step claimed the state and stopped before writing the Secret). Juju kept the
 * resource info itself; here the Secret is its storage, so the resource is fetched again.
 */
function credentialsLost(state: CharmState, live: StepContext['inputs']['live'] | undefined): string[] {
  if (!live || live.registryCredentials !== undefined) return [];
  return Object.entries(state.resources).filter(([, info]) => info.authenticated).map(([name]) => name);
}

/** Which resources the step will fetch, so the shell can do that I/O before the pure step. */
export function plannedFetches(state: CharmState, hook: Hook, live?: StepContext['inputs']['live']): string[] {
  const flags = new Set(state.flags);
  const names = new Set([...state.pending, ...credentialsLost(state, live).filter((name) => flags.has(flag.resource(name, 'available')))]);
  for (const name of AUTO_FETCH) if (!flags.has(flag.resource(name, 'fetched'))) names.add(name);
  if (hook === 'upgrade-charm') {
    for (const name of Object.keys(state.resources)) if (flags.has(flag.resource(name, 'fetched'))) names.add(name);
  }
  return [...names];
}

function sameCredentials(a: RegistryCredentials | undefined, b: RegistryCredentials | undefined): boolean {
  return a?.username === b?.username && a?.password === b?.password;
}

function processOne(context: StepContext, name: string): boolean {
  const outcome = context.inputs.fetched[name] ?? { ok: false, reason: 'the resource was not fetched' };
  const available = flag.resource(name, 'available');
  if (!outcome.ok) {
    context.flags.add(flag.resource(name, 'failed'));
    context.flags.delete(available);
    context.flags.delete(flag.resource(name, 'changed'));
    context.state.failures[name] = outcome.reason;
    return false;
  }
  const { info } = outcome;
  const previous = context.state.resources[name];
  const next: ResourceInfo = {
    registryPath: info.registryPath,
    digest: info.digest,
    tag: info.tag,
    pushedAt: info.pushedAt,
    authenticated: info.credentials !== undefined,
  };
  const differs =
    previous?.registryPath !== next.registryPath || !sameCredentials(info.credentials, context.inputs.live.registryCredentials);
  if (context.flags.has(available) && differs) context.flags.add(flag.resource(name, 'changed'));
  context.state.resources[name] = next;
  context.credentials[name] = info.credentials;
  delete context.state.failures[name];
  context.flags.add(available);
  context.flags.delete(flag.resource(name, 'failed'));
  return true;
}

/** Status text for failed resources, word for word as the layer words it. */
export function fetchFailureMessage(names: readonly string[]): string {
  return names.length === 1 ? `unable to fetch resource: ${names[0]}` : `unable to fetch resources: ${names.join(', ')}`;
}

/** The layer's `get_info(name)`. */
export function getInfo(context: StepContext, name: string): ResourceInfo {
  const info = context.state.resources[name];
  if (!info || !context.flags.has(flag.resource(name, 'available'))) throw new Error(`resource ${name} not available`);
  return info;
}

export const dockerResourceRules: Rule<StepContext>[] = [
  {
    name: 'docker-resource.auto-fetch',
    whenNot: AUTO_FETCH.map((name) => flag.resource(name, 'fetched')),
    run: function autoFetch(context) {
      // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent, the rule runs only when no AUTO_FETCH resource is fetched (whenNot), so the check holds for each name
      for (const name of AUTO_FETCH) if (!context.flags.has(flag.resource(name, 'fetched'))) queueFetch(context, name);
    },
  },
  {
    name: 'docker-resource.refetch-on-upgrade',
    when: [flag.hook('upgrade-charm')],
    run: function refetchOnUpgrade(context) {
      for (const name of Object.keys(context.state.resources)) {
        if (context.flags.has(flag.resource(name, 'fetched'))) queueFetch(context, name);
      }
    },
  },
  {
    name: 'docker-resource.refetch-lost-credentials',
    when: AUTO_FETCH.map((name) => flag.resource(name, 'available')),
    run: function refetchLostCredentials(context) {
      for (const name of credentialsLost(context.state, context.inputs.live)) queueFetch(context, name);
    },
  },
  {
    name: 'docker-resource.process-pending',
    when: [flag.pending],
    run: function processPending(context) {
      const failed: string[] = [];
      for (const name of context.state.pending) {
        if (context.inputs.setStatus) setStatus(context, 'maintenance', `fetching resource: ${name}`);
        if (!processOne(context, name)) failed.push(name);
      }
      context.state.pending = failed; // failed names stay queued, as in the layer
      if (failed.length === 0) context.flags.delete(flag.pending);
      else if (context.inputs.setStatus) setStatus(context, 'blocked', fetchFailureMessage(failed));
    },
  },
];
