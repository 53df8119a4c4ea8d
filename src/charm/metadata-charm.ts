// The kubeflow-metadata charm's own rules (reactive/metadata.py), as data.
import type { Rule } from '../reactive/engine.js';
import type { RegistryCredentials } from '../domain/types.js';
import { flag, setStatus, type PodSpec, type StepContext } from './context.js';
import { getInfo } from './docker-resource.js';

const IMAGE = 'oci-image';

/**
 * The image's registry credentials after this step: fetched now (fresh, or none
 * for an anonymous image), else those in the live pull Secret when the image needs them.
 */
export function registryCredentialsOf(context: StepContext): RegistryCredentials | undefined {
  if (IMAGE in context.credentials) return context.credentials[IMAGE];
  return context.state.resources[IMAGE]?.authenticated ? context.inputs.live.registryCredentials : undefined;
}

/** The pod spec from the image info, config and relation data (the charm's `pod_spec_set`). */
export function podSpecOf(context: StepContext): PodSpec {
  const { mysql } = context.state;
  const ref = mysql?.passwordSecretRef;
  if (!mysql || (!ref && context.mysqlPassword === undefined)) throw new Error('mysql.available without relation data');
  const relation = { host: mysql.host, port: mysql.port, user: mysql.user };
  return {
    image: getInfo(context, IMAGE),
    credentials: registryCredentialsOf(context),
    config: { ...context.state.config },
    // By reference the pod reads the existing Secret; the deployer has no password to hand over.
    mysql: ref ? { ...relation, passwordSecretRef: { ...ref } } : { ...relation, password: context.mysqlPassword! },
    mysqlRevision: context.state.mysqlRevision,
  };
}

export const charmRules: Rule<StepContext>[] = [
  {
    name: 'charm.upgrade',
    when: [flag.hook('upgrade-charm')],
    run: (context) => void context.flags.delete(flag.started),
  },
  {
    name: 'charm.restart-on-change',
    // `failed` is not in the charm: the layer does not flag `changed` when a
    // fetch succeeds after a failure (the image was not available before), so
    // without it a push after a failed one would never reach the workload.
    whenAny: [flag.resource(IMAGE, 'changed'), flag.configChanged, flag.mysqlChanged, flag.resource(IMAGE, 'failed')],
    run: (context) => void context.flags.delete(flag.started),
  },
  {
    // Not in the charm either: it left the last status standing without MySQL.
    name: 'charm.waiting-for-mysql',
    whenNot: [flag.mysqlAvailable],
    run: (context) => setStatus(context, 'waiting', 'waiting for mysql relation'),
  },
  {
    name: 'charm.start',
    when: [flag.resource(IMAGE, 'available'), flag.mysqlAvailable],
    whenNot: [flag.started],
    run: function startCharm(context) {
      setStatus(context, 'maintenance', 'configuring container');
      context.podSpec = podSpecOf(context);
      setStatus(context, 'maintenance', 'creating container');
      context.flags.add(flag.started);
      context.flags.add(flag.specChanged); // src/charm/rollout.ts follows it
    },
  },
  {
    name: 'charm.ready',
    when: [flag.started],
    // Active only once the pods are Available (src/charm/rollout.ts), never while a failure stands.
    whenNot: [flag.rollingOut, flag.rolloutFailed],
    run: (context) => setStatus(context, 'active', ''),
  },
];
