import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RebalanceEvent } from '../../services/lag-monitor/src/rebalance.js';
import { startLab, type Lab } from '../support/lab.js';
import { getJson, postJson } from '../support/services.js';

/** startLab's monitor polls every 250 ms. */
const POLL_MS = 250;

/**
 * Rebalance cost on a real broker: one consumer at 100 ms a message under a steady 8 msg/s, then
 * a second one joins, then it leaves. Each change is one event, and its stop agrees with the gap
 * in processing the sink shows.
 */
describe('rebalance cost: one event per membership change, its stop within the measured bounds', () => {
  let lab: Lab;
  const events = async (): Promise<RebalanceEvent[]> => (await getJson(`${lab.monitor.url}/rebalances`)).events;

  beforeAll(async () => {
    lab = await startLab('rebalance', { consumerEnv: { PROCESSING_TIME_MS: '100' } });
    await vi.waitFor(async () => expect((await getJson(`${lab.consumers[0]!.url}/stats`)).assigned_partitions).toHaveLength(6), { timeout: 30_000, interval: 200 });
    await postJson(`${lab.producer.url}/config`, { rate_ms: 125, batch_size: 1, running: true });
    // Consuming steadily, and the lab's own start (the first member joining) is over.
    await vi.waitFor(async () => expect((await lab.lag()).consumption_rate).toBeGreaterThan(5), { timeout: 15_000, interval: POLL_MS });
    await vi.waitFor(async () => expect((await events()).every((e) => e.stop_ended_at !== null)).toBe(true), { timeout: 10_000, interval: POLL_MS });
  });
  afterAll(async () => {
    await lab?.stopAll();
  });

  /**
   * Runs `change` and waits for exactly one new event, closed. Returns it with the true stop: the
   * longest gap between two consecutive orders in the sink (any consumer) from just before the
   * change until the event closed. At 8 msg/s the gaps of normal work are about 125 ms.
   */
  async function measure(change: () => Promise<unknown>): Promise<{ event: RebalanceEvent; trueGapSeconds: number }> {
    const before = (await events()).length;
    const from = Date.now();
    await change();
    await expect.poll(async () => (await events()).length, { timeout: 30_000, interval: POLL_MS }).toBe(before + 1);
    await expect.poll(async () => (await events())[0]!.stop_ended_at, { timeout: 30_000, interval: POLL_MS }).not.toBeNull();
    const event = (await events())[0]!;
    // Orders processed after the stop ended are in the sink a moment later.
    const until = Date.parse(event.stop_ended_at!) + 1000;
    await vi.waitFor(async () => expect(Math.max(...(await lab.processed()).map((p) => Date.parse(p.processed_at)))).toBeGreaterThan(until), { timeout: 10_000, interval: 250 });
    const times = (await lab.processed())
      .map((p) => Date.parse(p.processed_at))
      .filter((t) => t >= from && t <= until)
      .sort((a, b) => a - b);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps.length).toBeGreaterThan(0);
    // Still one: the group settled without a second change.
    expect(await events()).toHaveLength(before + 1);
    return { event, trueGapSeconds: Math.max(...gaps) / 1000 };
  }

  /**
   * The monitor dates each end of the stop by the first sample that shows it: the true last
   * commit before lies after the sample preceding stop_started_at, the true first commit after
   * lies after the sample preceding stop_ended_at. So the true gap is within (stop - the interval
   * before its end, stop + the interval before its start), with the intervals as the samples
   * were really taken (/lag/history), however late a busy machine ran them. EPSILON covers what
   * lies between an order's processed_at and its commit (the sink write and the commit call).
   */
  const EPSILON_S = 0.2;
  const expectWithinBounds = async ({ event, trueGapSeconds }: { event: RebalanceEvent; trueGapSeconds: number }) => {
    expect(event.resolution_ms).toBe(POLL_MS);
    const times: number[] = (await getJson(`${lab.monitor.url}/lag/history?limit=600`)).points.map((p: { timestamp: string }) => Date.parse(p.timestamp));
    const intervalBefore = (iso: string) => {
      const at = times.indexOf(Date.parse(iso));
      expect(at, `a sample at ${iso}`).toBeGreaterThan(0);
      return (times[at]! - times[at - 1]!) / 1000;
    };
    const stop = event.stop_seconds!;
    expect(trueGapSeconds).toBeGreaterThanOrEqual(stop - intervalBefore(event.stop_ended_at!) - EPSILON_S);
    expect(trueGapSeconds).toBeLessThanOrEqual(stop + intervalBefore(event.stop_started_at) + EPSILON_S);
  };

  it('a second consumer joining is one event, 1 -> 2 members, with its stop', async () => {
    const measured = await measure(() => lab.addConsumer());
    expect(measured.event).toMatchObject({ members_before: ['consumer-1'], members_after: ['consumer-1', 'consumer-2'], joined: ['consumer-2'], left: [] });
    console.log(`[measure] join: stop ${measured.event.stop_seconds} s, true gap ${measured.trueGapSeconds} s`);
    await expectWithinBounds(measured);
  });

  it('the second consumer stopping (SIGTERM) is one more event, 2 -> 1', async () => {
    const measured = await measure(() => lab.consumers[1]!.stop('SIGTERM'));
    expect(measured.event).toMatchObject({ members_before: ['consumer-1', 'consumer-2'], members_after: ['consumer-1'], joined: [], left: ['consumer-2'] });
    console.log(`[measure] leave: stop ${measured.event.stop_seconds} s, true gap ${measured.trueGapSeconds} s`);
    await expectWithinBounds(measured);
  });

  it('/metrics counts every change and observes every closed stop; /lag sums it up', async () => {
    const all = await events();
    const text = await (await fetch(`${lab.monitor.url}/metrics`)).text();
    const value = (name: string) => Number(text.split('\n').find((line) => line.startsWith(`${name}{`) && line.includes(`group="${lab.group}"`))?.split(' ').at(-1));
    expect(value('kafka_consumer_group_rebalances_total')).toBe(all.length);
    expect(value('kafka_consumer_group_rebalance_stop_seconds_count')).toBe(all.filter((e) => e.stop_seconds !== null).length);
    const sum = all.reduce((s, e) => s + (e.stop_seconds ?? 0), 0);
    expect(value('kafka_consumer_group_rebalance_stop_seconds_sum')).toBeCloseTo(sum, 5);
    const cost = (await lab.lag()).rebalance_cost;
    expect(cost).toMatchObject({ events: all.length, last: all[0] });
    expect(cost.typical_stop_seconds).not.toBeNull();
  });
});
