// AWS X-Ray through Powertools Tracer, opt-in (KFM_TRACING=true; the function also needs active
// tracing in the template). Off by default because the Tracer and the X-Ray SDK behind it cost a
// cold start tens of milliseconds (README: measured costs): it is imported only when enabled.
import { SERVICE } from '../log.js';

export interface Tracing {
  /** Runs one invocation in a `## <function>` subsegment annotated with cold start and service. */
  around<R>(name: string, run: () => Promise<R>): Promise<R>;
}

export const noTracing: Tracing = { around: (_name, run) => run() };

export async function createTracing(enabled: boolean): Promise<Tracing> {
  if (!enabled) return noTracing;
  const { Tracer } = await import('@aws-lambda-powertools/tracer');
  const tracer = new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || SERVICE });
  return {
    async around(name, run) {
      // Outside Lambda (no facade segment) Tracer disables itself; then there is nothing to add to.
      const parent = tracer.isTracingEnabled() ? tracer.getSegment() : undefined;
      if (!parent) return run();
      const segment = parent.addNewSubsegment(`## ${name}`);
      tracer.setSegment(segment);
      tracer.annotateColdStart();
      tracer.addServiceNameAnnotation();
      try {
        return await run();
      } catch (error) {
        tracer.addErrorAsMetadata(error as Error);
        throw error;
      } finally {
        segment.close();
        tracer.setSegment(parent);
      }
    },
  };
}
