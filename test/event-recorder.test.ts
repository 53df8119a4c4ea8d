// The Event recorder's bounds (src/record/events.ts), through its `send` seam: a call's own deadline (the
// step's time left) bounds each request's timeout and the retries, else the recorder's; a request that
// keeps failing gives up inside it and the record says so, never throws. The real API server is
// test/e2e-events.test.ts.
import { describe, expect, it } from '@jest/globals';
import { createEventRecorder } from '../src/record/events.js';
import type { ApiResponse } from '../src/targets/kubernetes/transport.js';

const kubeConfig = { getCurrentCluster: () => ({ server: 'https://api.example' }) } as never;
const EVENT = { reason: 'Pinned', summary: 'pinned to 1.2.3', trigger: { provider: 'control' } } as const;

function recorder(answers: number[], deadline?: () => number) {
  const timeouts: number[] = [];
  const send = async (_kc: unknown, _server: string, _request: unknown, timeoutMs: () => number): Promise<ApiResponse> => {
    timeouts.push(timeoutMs());
    return { status: answers.shift() ?? 201, headers: {}, text: '{}' };
  };
  return { events: createEventRecorder({ kubeConfig, namespace: 'kubeflow', deployment: 'kubeflow-metadata', reportingInstance: 'test', send: send as never, deadline }), timeouts };
}

describe('createEventRecorder', () => {
  it("a call's deadline bounds the request timeout (its time left, less the margin), over the recorder's", async () => {
    const { events, timeouts } = recorder([], () => 60_000);
    await expect(events.record(EVENT, {}, { deadline: () => 1_700 })).resolves.toMatchObject({ ok: true });
    expect(timeouts).toHaveLength(1);
    expect(timeouts[0]).toBeLessThanOrEqual(700);
    expect(timeouts[0]).toBeGreaterThan(0);
  });

  it("without one, the recorder's deadline; without either, the 5 s request timeout", async () => {
    const own = recorder([], () => 2_500);
    await own.events.record(EVENT);
    expect(own.timeouts[0]).toBeLessThanOrEqual(1_500);
    const none = recorder([]);
    await none.events.record(EVENT, {}, {});
    expect(none.timeouts).toEqual([5_000]);
  });

  it('a call with no time left gives up without retrying to the end, and says so', async () => {
    const { events, timeouts } = recorder([503, 503, 503]);
    const outcome = await events.record(EVENT, {}, { deadline: () => 500 });
    expect(outcome).toMatchObject({ ok: false, reason: 'Pinned' });
    expect(timeouts.length).toBeLessThan(3);
  });
});
