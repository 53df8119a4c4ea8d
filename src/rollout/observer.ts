// The Kubernetes adapter of the rollout-observer port: polls (watch.ts) and
// asks the pure verdict (verdict.ts). Imported lazily, with the target.
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { RolloutObserver } from './port.js';
import { watchRollout } from './watch.js';

export interface RolloutObserverOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  app: string;
  /** Between polls (KFM_ROLLOUT_CHECK_SECONDS). */
  intervalMs: number;
  /** Kept back from the deadline to store the verdict's step (default 5000). */
  marginMs?: number;
}

export function createRolloutObserver(options: RolloutObserverOptions): RolloutObserver {
  return {
    async follow({ deadline, since }) {
      const result = await watchRollout({ ...options, deadline, since });
      return { state: result.state, reason: result.reason, outOfTime: result.outOfTime };
    },
  };
}
