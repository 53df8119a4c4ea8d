// Names and labels of the objects the deployer owns (deploy/rbac.yaml grants exactly these).
export interface WorkloadNames {
  deployment: string;
  service: string;
  mysqlSecret: string;
  pullSecret: string;
  state: string;
}

export function workloadNames(app: string): WorkloadNames {
  return {
    deployment: app,
    service: app,
    mysqlSecret: `${app}-mysql`,
    pullSecret: `${app}-registry`,
    state: `${app}-deployer-state`,
  };
}

export const MANAGED_BY = 'kubeflow-metadata-deployer';
export const MYSQL_PASSWORD_KEY = 'MYSQL_ROOT_PASSWORD';

export const PART_OF = 'kubeflow';

/**
 * The recommended `app.kubernetes.io/*` labels every object carries. The
 * Deployment's selector uses `name` alone (selectorLabels): a selector is
 * immutable, so it must never gain a label, let alone one that changes.
 */
export function ownedLabels(app: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': app,
    'app.kubernetes.io/instance': app,
    'app.kubernetes.io/part-of': PART_OF,
    'app.kubernetes.io/managed-by': MANAGED_BY,
  };
}

export function selectorLabels(app: string): Record<string, string> {
  return { 'app.kubernetes.io/name': app };
}

/** The state generation an object was rendered from (see CharmState.generation). */
export const GENERATION_ANNOTATION = 'kubeflow-metadata-deployer/generation';

/** The annotation `kubectl rollout history` shows (CHANGE-CAUSE); set in the same write as the template change it explains. */
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
