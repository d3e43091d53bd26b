import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { consumersNeeded, createApp, createLogger, createRegistry } from '@bplab/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OffsetSample } from '../src/lag.js';
import { monitorRoutes } from '../src/routes.js';
import { LagTracker } from '../src/tracker.js';

const thresholds = { lagWarning: 100, lagCritical: 500, rateWarning: 10 };
const WINDOW = 10_000;

/** The monitor's routes in this process, over a tracker fed a member stuck with lag on two of three partitions. */
describe('lag monitor routes: evaluation, drain and what-if', () => {
  let server: Server;
  let url: string;
  const tracker = new LagTracker({ thresholds, rateWindowMs: 5000, sampleWindowMs: 600_000, evaluationWindowMs: WINDOW, historySize: 100, alertsSize: 10, pollIntervalMs: 1000 });
  const sample = (at: number): OffsetSample => ({
    at,
    partitions: [
      { partition: 0, start_offset: 0, end_offset: 150, committed_offset: 100, owner: 'm-1' },
      { partition: 1, start_offset: 0, end_offset: 80, committed_offset: 80, owner: 'm-1' },
      { partition: 2, start_offset: 0, end_offset: 200, committed_offset: 130, owner: 'm-1' },
    ],
    members: 1,
    group_state: 'Stable',
  });

  beforeAll(async () => {
    for (let s = 0; s <= 12; s++) tracker.record(sample(1_700_000_000_000 + s * 1000));
    const app = createApp({
      logger: createLogger('test', 'silent'),
      registry: createRegistry('test'),
      health: () => ({ healthy: true }),
      routes: monitorRoutes({
        group: 'g',
        topic: 't',
        tracker,
        poll: { ok: true, last_error: null, last_success: null, consecutive_failures: 0 },
        thresholds,
        pollIntervalMs: 1000,
        rateWindowMs: 5000,
        evaluationWindowMs: WINDOW,
        historySize: 100,
        alertsSize: 10,
        recommendContext: () => ({ thresholds, drainTargetSeconds: 60, perConsumerRate: 2 }),
        producer: () => null,
      }),
    });
    await new Promise<void>((resolve) => {
      server = app.listen(0, '127.0.0.1', () => resolve());
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = async (path: string) => {
    const res = await fetch(`${url}${path}`);
    return { status: res.status, body: (await res.json()) as any };
  };

  it('GET /lag: an evaluation per partition, the group evaluation (the worst) and the drain estimate', async () => {
    const { body } = await get('/lag');
    expect(body.partitions.map((p: any) => [p.partition, p.evaluation.status, p.evaluation.rule])).toEqual([
      [0, 'STALL', 'stalled'],
      [1, 'OK', 'lag_zero_in_window'],
      [2, 'STALL', 'stalled'],
    ]);
    expect(body.evaluation).toMatchObject({ status: 'STALL', window_ms: WINDOW, complete: true, counts: { OK: 1, WARN: 0, STALL: 2, STOP: 0 }, worst_partitions: [0, 2] });
    expect(body).toMatchObject({ total_lag: 120, drain_seconds: null, drain_status: 'not_draining', drain_reason: 'not draining: nothing consumed in the rate window' });
    // What the operator times its reads and its rate windows by.
    expect(body).toMatchObject({ rate_window_seconds: 5, sample_interval_seconds: 1 });
  });

  it('GET /rebalances and /lag rebalance_cost: none without a membership change', async () => {
    expect((await get('/rebalances')).body).toEqual({ group: 'g', topic: 't', count: 0, events: [] });
    expect((await get('/lag')).body.rebalance_cost).toEqual({ events: 0, typical_stop_seconds: null, last: null });
  });

  it.each(['limit=0', 'limit=51', 'limit=many'])('GET /rebalances?%s -> 400 naming query.limit', async (query) => {
    const { status, body } = await get(`/rebalances?${query}`);
    expect(status).toBe(400);
    expect(body.problems.map((p: { field: string }) => p.field)).toEqual(['query.limit']);
  });

  it('GET /status and GET /config carry the evaluation and its window', async () => {
    expect((await get('/status')).body).toMatchObject({ evaluation: 'STALL', evaluation_reason: expect.stringMatching(/^STALL on partitions 0, 2: /), drain_seconds: null, drain_status: 'not_draining' });
    expect((await get('/config')).body).toMatchObject({ evaluation_window_ms: WINDOW });
  });

  it('GET /recommendations without what-if parameters answers as before', async () => {
    const { status, body } = await get('/recommendations');
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['status', 'total_lag', 'per_consumer_rate', 'recommendations']);
  });

  it('GET /recommendations?production_rate&processing_ms&drain_seconds adds the what-if, with the kit arithmetic', async () => {
    const { body } = await get('/recommendations?production_rate=30&processing_ms=200&drain_seconds=20');
    const needed = consumersNeeded({ arrivalRate: 30, backlog: 120, drainSeconds: 20 }, 1000 / 200);
    expect(needed).toBe(8);
    expect(body.recommendations).toEqual(expect.any(Array));
    expect(body.what_if).toMatchObject({
      inputs: { production_rate: 30, processing_ms: 200, drain_seconds: 20, backlog: 120 },
      per_consumer_rate: 5,
      required_rate: 36,
      consumers_needed: needed,
      consumers: 3,
      partitions: 3,
      capped_by_partitions: true,
    });
    // One parameter is enough; the others fall back to the measured per-consumer rate and DRAIN_TARGET_SECONDS.
    expect((await get('/recommendations?production_rate=1')).body.what_if).toMatchObject({ per_consumer_rate: 2, inputs: { drain_seconds: 60 }, consumers_needed: 2, capped_by_partitions: false });
  });

  it.each([
    { query: 'production_rate=-1', field: 'query.production_rate', reason: />=0/ },
    { query: 'production_rate=lots', field: 'query.production_rate', reason: /expected number/ },
    { query: 'processing_ms=0', field: 'query.processing_ms', reason: />0/ },
    { query: 'processing_ms=fast', field: 'query.processing_ms', reason: /expected number/ },
    { query: 'drain_seconds=0', field: 'query.drain_seconds', reason: />=1/ },
    { query: 'drain_seconds=1.5', field: 'query.drain_seconds', reason: /expected int/ },
    { query: 'drain_seconds=100000', field: 'query.drain_seconds', reason: /<=86400/ },
  ])('GET /recommendations?$query -> 400 naming $field', async ({ query, field, reason }) => {
    const { status, body } = await get(`/recommendations?${query}`);
    expect(status).toBe(400);
    const problem = body.problems.find((p: { field: string }) => p.field === field);
    expect(problem, JSON.stringify(body)).toBeDefined();
    expect(problem.reason).toMatch(reason);
  });
});
