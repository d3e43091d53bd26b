import { consumersNeeded } from '@bplab/kit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startLab, type Lab } from '../support/lab.js';
import { getJson, postJson, startService, type RunningService } from '../support/services.js';

/** Short enough for a quick test, longer than the processing time of the healthy phase. */
const WINDOW_MS = 2000;
const POLL_MS = 250;

/**
 * Issue 9: the lag monitor's Burrow-style evaluation and its what-if, on a real broker with a
 * real consumer. A monitor of its own watches the lab's group with a 2 s evaluation window.
 */
describe('the lag monitor tells a healthy group from a stalled and a stopped one', () => {
  let lab: Lab;
  let monitor: RunningService;
  const lag = () => getJson(`${monitor.url}/lag`);
  /**
   * The group's evaluation once it is `status` and so is every partition with lag: right after the
   * last commit, the partition it was on still reads as moving until a whole window has passed.
   */
  const settledAt = async (status: string, timeout: number) => {
    await expect
      .poll(
        async () => {
          const s = await lag();
          return s.evaluation.status === status && s.partitions.every((p: any) => p.lag === 0 || p.evaluation.status === status);
        },
        { timeout, interval: POLL_MS },
      )
      .toBe(true);
    return lag();
  };
  const metric = async (name: string) => {
    const text = await (await fetch(`${monitor.url}/metrics`)).text();
    return text.split('\n').filter((line) => line.startsWith(`${name}{`));
  };

  beforeAll(async () => {
    lab = await startLab('diagnose', { consumerEnv: { PROCESSING_TIME_MS: '50' } });
    monitor = await startService(
      'lag-monitor',
      { KAFKA_BROKERS: lab.brokers, TOPIC: lab.topic, GROUP_ID: lab.group, POLL_INTERVAL_MS: String(POLL_MS), RATE_WINDOW_MS: '2000', EVALUATION_WINDOW_MS: String(WINDOW_MS) },
      'diagnose-lag-monitor-2s-window',
    );
    await vi.waitFor(async () => expect((await fetch(`${monitor.url}/health`)).status).toBe(200), { timeout: 30_000, interval: 100 });
    await vi.waitFor(async () => expect((await getJson(`${lab.consumers[0]!.url}/stats`)).assigned_partitions).toHaveLength(6), { timeout: 30_000, interval: 200 });
    expect((await getJson(`${monitor.url}/config`)).evaluation_window_ms).toBe(WINDOW_MS);
  });
  afterAll(async () => {
    await monitor?.stop();
    await lab?.stopAll();
  });

  it('a healthy consumer draining a backlog is OK throughout, with a drain estimate', async () => {
    const { sent } = (await postJson(`${lab.producer.url}/produce/batch?count=120`)).body;
    const producedAt = Date.now();
    expect(sent).toBe(120);
    // Every snapshot until the backlog is gone; the first window still holds the lag of 0 from
    // before the batch, so only the snapshots after it judge the drain itself.
    const seen: any[] = [];
    await vi.waitFor(
      async () => {
        const s = await lag();
        if (seen.at(-1)?.timestamp !== s.timestamp) seen.push(s);
        expect(s.partitions.reduce((sum: number, p: { end_offset: number }) => sum + p.end_offset, 0)).toBeGreaterThanOrEqual(120);
        expect(s.total_lag).toBe(0);
      },
      { timeout: 30_000, interval: POLL_MS / 2 },
    );
    const judged = seen.filter((s) => s.total_lag > 0 && Date.parse(s.timestamp) >= producedAt + WINDOW_MS + POLL_MS);
    expect(judged.length, 'snapshots with lag after a whole window').toBeGreaterThanOrEqual(3);
    for (const s of judged) {
      expect(s.evaluation, JSON.stringify(s.partitions.map((p: any) => p.evaluation))).toMatchObject({ status: 'OK', complete: true });
      for (const p of s.partitions) expect(['lag_falling', 'waiting_for_owner', 'lag_zero_in_window']).toContain(p.evaluation.rule);
    }
    expect(judged.some((s) => s.partitions.some((p: any) => p.evaluation.rule === 'lag_falling'))).toBe(true);
    const draining = judged.filter((s) => s.drain_status === 'draining');
    expect(draining.length).toBeGreaterThan(0);
    for (const s of draining) expect(s.drain_seconds).toBeCloseTo(s.total_lag / (s.consumption_rate - s.production_rate), 1);
  });

  it('a consumer paused with a backlog is PAUSED, not STALL, and OK again once resumed', async () => {
    const consumer = lab.consumers[0]!.url;
    await postJson(`${consumer}/pause`);
    await postJson(`${lab.producer.url}/produce/batch?count=30`);
    const s = await settledAt('PAUSED', 15_000);
    expect(s.members).toBe(1);
    expect(s.paused_partitions).toEqual({ manual: [0, 1, 2, 3, 4, 5], downstream: [] });
    for (const p of s.partitions) {
      expect(p.evaluation, `partition ${p.partition} lag ${p.lag}`).toMatchObject(p.lag > 0 ? { status: 'PAUSED', rule: 'paused' } : { status: 'OK' });
    }
    expect(s.evaluation.reason).toMatch(/consumer-1 is paused \(manual\), staying in the group/);
    expect(await metric('kafka_consumer_group_evaluation')).toEqual([expect.stringMatching(/ 0\.5$/)]);
    // Still PAUSED a whole window later: a chosen pause never turns into STALL.
    const since = Date.now();
    await expect.poll(async () => (await lag()).timestamp, { timeout: 10_000, interval: POLL_MS }).toSatisfy((t: string) => Date.parse(t) > since + WINDOW_MS);
    expect((await lag()).evaluation.status).toBe('PAUSED');

    await postJson(`${consumer}/resume`);
    await lab.drained(30_000);
    const after = await settledAt('OK', 10_000);
    expect(after.paused_partitions).toEqual({ manual: [], downstream: [] });
  });

  it('a consumer stuck in processing with a backlog is STALL, partition by partition', async () => {
    await postJson(`${lab.consumers[0]!.url}/slow?time_ms=10000`);
    await postJson(`${lab.producer.url}/produce/batch?count=30`);
    const s = await settledAt('STALL', 15_000);
    expect(s.members).toBe(1);
    for (const p of s.partitions) {
      expect(p.evaluation, `partition ${p.partition} lag ${p.lag}`).toMatchObject(p.lag > 0 ? { status: 'STALL', rule: 'stalled' } : { status: 'OK' });
    }
    // The owner is the member the broker assigned the partitions to, read from its assignment.
    expect(s.evaluation.reason).toMatch(/its owner \S+ committed nothing on any partition/);
    expect(s.evaluation.worst_partitions).toEqual(s.partitions.filter((p: any) => p.lag > 0).map((p: any) => p.partition));
    expect(s.drain_status).toBe('not_draining');
    expect((await getJson(`${monitor.url}/status`)).evaluation).toBe('STALL');
    expect(await metric('kafka_consumer_group_evaluation')).toEqual([expect.stringMatching(/ 2$/)]);
  });

  it('a group whose consumer stopped with lag left is STOP', async () => {
    // SIGTERM: the consumer finishes the message in hand, then leaves the group.
    await lab.consumers[0]!.stop('SIGTERM');
    const s = await settledAt('STOP', 20_000);
    expect(s.members).toBe(0);
    expect(s.total_lag).toBeGreaterThan(0);
    for (const p of s.partitions.filter((x: any) => x.lag > 0)) expect(p.evaluation).toMatchObject({ status: 'STOP', rule: 'stopped' });
    expect(await metric('kafka_consumer_group_evaluation')).toEqual([expect.stringMatching(/ 3$/)]);
    const perPartition = await metric('kafka_consumer_group_partition_evaluation');
    expect(perPartition).toHaveLength(6);
    expect(perPartition.filter((line) => line.endsWith(' 3'))).toHaveLength(s.partitions.filter((p: any) => p.lag > 0).length);
  });

  it('the what-if answer is the kit arithmetic for the same inputs, capped by the partitions', async () => {
    for (const [production, processingMs, drainSeconds] of [
      [20, 100, 30],
      [100, 100, 30],
      [3.5, 750, 120],
    ] as const) {
      const { what_if: answer } = await getJson(`${monitor.url}/recommendations?production_rate=${production}&processing_ms=${processingMs}&drain_seconds=${drainSeconds}`);
      const needed = consumersNeeded({ arrivalRate: production, backlog: answer.inputs.backlog, drainSeconds }, 1000 / processingMs);
      expect(answer).toMatchObject({
        inputs: { production_rate: production, processing_ms: processingMs, drain_seconds: drainSeconds },
        per_consumer_rate: Math.round((1000 / processingMs) * 100) / 100,
        consumers_needed: needed,
        consumers: Math.min(needed, 6),
        partitions: 6,
        capped_by_partitions: needed > 6,
      });
    }
    const refused = await fetch(`${monitor.url}/recommendations?processing_ms=0`);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as any).problems).toEqual([{ field: 'query.processing_ms', reason: expect.stringMatching(/>0/) }]);
  });
});
