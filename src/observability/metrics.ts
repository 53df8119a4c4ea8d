// What happened to the events, as CloudWatch metrics (Powertools Metrics, embedded metric format:
// one JSON log line per invocation that CloudWatch turns into metrics, no API call). On Lambda
// only: locally (npm start, npm run serve, tests) the default records nothing, so the demo's
// output and the test logs stay lines of the logger alone.
//
// Powertools Metrics is imported when the first Lambda invocation builds it, not by every bundle
// at load: a local run never pays for it (see the measured costs in the README).
import type { Context } from 'aws-lambda';
import { SERVICE } from '../log.js';

/** Intake: Accepted, Ignored. Worker: Applied, Ignored, Failed, DeadLettered, and StepDuration. */
export type CountName = 'Accepted' | 'Ignored' | 'Applied' | 'Failed' | 'DeadLettered';

export interface Metrics {
  count(name: CountName, value?: number): void;
  /** One step's wall time (fetch, plan, claim, writes), milliseconds. */
  stepDuration(ms: number): void;
  /** Writes the invocation's metrics (one EMF line) and clears them; nothing when none were recorded. */
  flush(): void;
}

export const noMetrics: Metrics = { count() {}, stepDuration() {}, flush() {} };

export const NAMESPACE = 'KubeflowMetadataDeployer';

/** A Lambda invocation, not `osls invoke local` (which sets IS_LOCAL) nor a local run. */
export function onLambda(env: Record<string, string | undefined> = process.env): boolean {
  return Boolean(env.AWS_LAMBDA_FUNCTION_NAME) && env.IS_LOCAL !== 'true';
}

export type EmfMetrics = Metrics & {
  /** Powertools' ColdStart metric, on the first invocation only. */
  coldStart(context: Partial<Context>): void;
};

/**
 * Powertools Metrics (EMF) for one function (a `function` dimension: intake and worker both count
 * Ignored). It writes with its own Console to process.stdout, like the logger.
 */
export async function createEmfMetrics(functionName: 'intake' | 'worker' | 'status'): Promise<EmfMetrics> {
  const { Metrics: PowertoolsMetrics, MetricUnit } = await import('@aws-lambda-powertools/metrics');
  const metrics = new PowertoolsMetrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME || SERVICE,
    defaultDimensions: { function: functionName },
  });
  return {
    count: (name, value = 1) => metrics.addMetric(name, MetricUnit.Count, value),
    stepDuration: (ms) => metrics.addMetric('StepDuration', MetricUnit.Milliseconds, ms),
    // Without the check Powertools warns on every invocation that counted nothing (GET /status).
    flush: () => void (metrics.hasStoredMetrics() && metrics.publishStoredMetrics()),
    coldStart: (context) => metrics.captureColdStartMetric(context.functionName),
  };
}
