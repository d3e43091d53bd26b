import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startLab, type Lab } from '../support/lab.js';
import { getJson, postJson } from '../support/services.js';

function duplicates(ids: string[]): number {
  return ids.length - new Set(ids).size;
}

/**
 * Issue 9, strategy 6: the sink as a simulated downstream that can be degraded over HTTP, and a
 * consumer that pauses itself (Kafka's pause: it stays in the group) while the downstream is
 * overloaded and resumes, with hysteresis, once it has recovered.
 */
describe('automatic pause and resume on a degraded downstream, on a real broker', () => {
  let lab: Lab;
  let member: { member_id: string; rebalances: number };
  const consumer = () => lab.consumers[0]!.url;
  const stats = () => getJson(`${consumer()}/stats`);
  const metric = async (name: string) => {
    const text = await (await fetch(`${consumer()}/metrics`)).text();
    return Number(new RegExp(`^${name}\\{consumer="consumer-1",service="consumer"\\} (\\S+)$`, 'm').exec(text)?.[1]);
  };

  /**
   * Polls until `done` holds, checking on every poll that the group kept its one member (same
   * member id, no rebalance), and returns the last stats.
   */
  const watchUntil = async (done: (s: any) => boolean, timeout: number) => {
    let last: any;
    await expect
      .poll(
        async () => {
          const [s, lag] = await Promise.all([stats(), lab.lag()]);
          expect(lag.members).toBe(1);
          expect(s.member_id).toBe(member.member_id);
          expect(s.rebalances).toBe(member.rebalances);
          last = s;
          return done(s);
        },
        { timeout, interval: 250 },
      )
      .toBe(true);
    return last;
  };

  beforeAll(async () => {
    lab = await startLab('auto-pause', {
      consumerEnv: { PROCESSING_TIME_MS: '50', AUTO_PAUSE: 'true', DOWNSTREAM_WINDOW_MS: '3000', AUTO_RESUME_HOLD_MS: '3000' },
    });
    await vi.waitFor(async () => expect((await stats()).assigned_partitions).toHaveLength(6), { timeout: 30_000, interval: 200 });
    member = await stats();
  });
  afterAll(() => lab?.stopAll());

  it('a manual pause is told apart from an automatic one', async () => {
    expect(await getJson(`${consumer()}/health`)).toMatchObject({ paused: false, paused_by: null });
    expect((await postJson(`${consumer()}/pause`)).body).toMatchObject({ paused: true, paused_by: 'manual', auto_pause: true });
    expect(await getJson(`${consumer()}/health`)).toMatchObject({ paused: true, paused_by: 'manual' });
    expect((await postJson(`${consumer()}/resume`)).body).toMatchObject({ paused: false, paused_by: null });
    expect(await stats()).toMatchObject({ auto_pauses: 0, auto_resumes: 0, downstream: { latency_ms: 0, error_rate: 0, auto_pause: { enabled: true, state: 'running' } } });
  });

  it('a slow downstream pauses consumption without a rebalance; after it recovers, consumption resumes after the hold; nothing lost', async () => {
    await postJson(`${lab.producer.url}/config`, { rate_ms: 100, batch_size: 1, running: true });
    await watchUntil((s) => s.processed >= 20, 20_000);

    const degraded = await postJson(`${consumer()}/downstream`, { latency_ms: 1500 });
    expect(degraded).toMatchObject({ status: 200, body: { latency_ms: 1500, error_rate: 0 } });
    const t0 = Date.now();
    const paused = await watchUntil((s) => s.paused_by === 'downstream', 20_000);
    const pausedAfter = Date.now() - t0;
    expect(paused).toMatchObject({ paused: true, auto_pauses: 1, downstream: { auto_pause: { state: 'paused' }, health: { level: 'overloaded' } } });
    expect(paused.downstream.health.p50_latency_ms).toBeGreaterThanOrEqual(1000);
    expect(await getJson(`${consumer()}/health`)).toMatchObject({ status: 'healthy', paused: true, paused_by: 'downstream' });
    expect(await metric('kafka_consumer_paused')).toBe(1);
    expect(await metric('kafka_consumer_auto_paused')).toBe(1);

    // Paused for longer than the 6 s session timeout: it probes the downstream, nothing is
    // consumed (beyond the batch in hand), lag grows, and the member stays.
    const heldFrom = Date.now();
    const atPause = await stats();
    const during = await watchUntil((s) => Date.now() - heldFrom > 7_000 && s.downstream.probes.ok + s.downstream.probes.failed >= 3, 20_000);
    expect(during.processed - atPause.processed).toBeLessThanOrEqual(1);
    expect(during.paused_by).toBe('downstream');
    expect((await lab.lag()).total_lag).toBeGreaterThan(40);
    // The lag monitor knows why: the consumer published its pause with its commits.
    const monitored = await lab.lag();
    expect(monitored.paused_partitions).toEqual({ manual: [], downstream: [0, 1, 2, 3, 4, 5] });
    expect(monitored.evaluation).toMatchObject({ status: 'PAUSED' });
    expect(monitored.evaluation.reason).toMatch(/consumer-1 is paused \(downstream\)/);

    await postJson(`${lab.producer.url}/stop`);
    const recovered = Date.now();
    expect((await postJson(`${consumer()}/downstream`, { latency_ms: 0 })).body).toMatchObject({ latency_ms: 0 });
    const resumed = await watchUntil((s) => !s.paused, 20_000);
    const resumedAfter = Date.now() - recovered;
    expect(resumed).toMatchObject({ paused_by: null, auto_pauses: 1, auto_resumes: 1, downstream: { auto_pause: { state: 'running' } } });
    expect(resumedAfter).toBeGreaterThanOrEqual(3000);
    await lab.drained(30_000);
    console.log(`[measure] slow downstream (1500 ms): auto-paused ${(pausedAfter / 1000).toFixed(1)} s after the change, resumed ${(resumedAfter / 1000).toFixed(1)} s after recovery (hold 3 s)`);

    expect(await metric('kafka_consumer_auto_pauses_total')).toBe(1);
    expect(await metric('kafka_consumer_auto_resumes_total')).toBe(1);
    expect(await metric('kafka_consumer_rebalances_total')).toBe(member.rebalances);
    expect(await metric('kafka_consumer_paused')).toBe(0);
    const produced = await lab.producedIds();
    const processed = (await lab.processed()).map((p) => p.order_id);
    expect(new Set(processed)).toEqual(new Set(produced));
    expect(duplicates(processed)).toBe(0);
  });

  it('a failing downstream refuses writes: the batch in hand is retried, not committed and not lost; errors pause, recovery resumes, no rebalance', async () => {
    const before = await stats();
    await postJson(`${consumer()}/config`, { batch_size: 5 });
    await postJson(`${consumer()}/downstream`, { error_rate: 1 });
    await postJson(`${lab.producer.url}/produce/batch?count=60`);

    const paused = await watchUntil((s) => s.paused_by === 'downstream', 20_000);
    expect(paused.auto_pauses).toBe(before.auto_pauses + 1);
    expect(paused.downstream.health.error_rate).toBeGreaterThanOrEqual(0.5);
    expect(paused.downstream.writes.failed).toBeGreaterThan(before.downstream.writes.failed);
    // Nothing refused was committed: the lag still counts every order produced since.
    expect(paused.processed).toBe(before.processed);
    await expect.poll(async () => (await lab.lag()).total_lag, { timeout: 10_000 }).toBe(60);

    await postJson(`${consumer()}/downstream`, { error_rate: 0 });
    const resumed = await watchUntil((s) => !s.paused && s.auto_resumes === before.auto_resumes + 1, 20_000);
    expect(resumed.paused_by).toBeNull();
    await lab.drained(30_000);

    const after = await stats();
    expect(after.processed - before.processed).toBe(60);
    expect(after.rebalances).toBe(member.rebalances);
    const produced = await lab.producedIds();
    const processed = (await lab.processed()).map((p) => p.order_id);
    expect(new Set(processed)).toEqual(new Set(produced));
    expect(duplicates(processed)).toBe(0);
  });

  it.each([
    { body: { latency_ms: 60_001 }, field: 'body.latency_ms', reason: /<=60000/ },
    { body: { latency_ms: -1 }, field: 'body.latency_ms', reason: />=0/ },
    { body: { latency_ms: 1.5 }, field: 'body.latency_ms', reason: /expected int/ },
    { body: { error_rate: 1.5 }, field: 'body.error_rate', reason: /<=1/ },
    { body: { error_rate: 'high' }, field: 'body.error_rate', reason: /expected number/ },
    { body: { latency: 5 }, field: 'body.latency', reason: /unknown field/ },
  ])('POST /downstream $body -> 400 naming $field', async ({ body, field, reason }) => {
    const res = await postJson(`${consumer()}/downstream`, body);
    expect(res.status).toBe(400);
    const problem = res.body.problems.find((p: { field: string }) => p.field === field);
    expect(problem, JSON.stringify(res.body)).toBeDefined();
    expect(problem.reason).toMatch(reason);
    expect(await getJson(`${consumer()}/downstream`)).toMatchObject({ latency_ms: 0, error_rate: 0 });
  });

  it('POST /config {"auto_pause": "on"} -> 400 naming body.auto_pause', async () => {
    const res = await postJson(`${consumer()}/config`, { auto_pause: 'on' });
    expect(res.status).toBe(400);
    expect(res.body.problems).toContainEqual({ field: 'body.auto_pause', reason: expect.stringMatching(/expected boolean/) });
  });
});
