import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { kafkaCli } from '../support/kafka.js';
import { startLab, type Lab } from '../support/lab.js';
import { getJson, postJson } from '../support/services.js';

/** The seed lab's exercises on a real broker, with the consumer at its default 500 ms. */
describe('seed exercises on a real broker', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab('exercises');
    await vi.waitFor(async () => expect((await getJson(`${lab.consumers[0]!.url}/stats`)).assigned_partitions).toHaveLength(6), { timeout: 30_000, interval: 200 });
  });
  afterAll(() => lab?.stopAll());

  const consumer = () => lab.consumers[0]!.url;

  it("the monitor's per-partition lag equals kafka-consumer-groups.sh --describe at a quiet moment", async () => {
    await postJson(`${consumer()}/fast?time_ms=0`);
    await postJson(`${lab.producer.url}/produce/batch?count=120`);
    await lab.drained(30_000);
    await postJson(`${consumer()}/pause`);
    await postJson(`${lab.producer.url}/produce/batch?count=45`);

    const describe = async () => {
      const out = await kafkaCli('kafka-consumer-groups.sh', '--bootstrap-server', lab.brokers, '--describe', '--group', lab.group);
      return out
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .filter((cols) => cols[1] === lab.topic)
        .map(([, , partition, current, end, lag]) => ({ partition: Number(partition), committed_offset: Number(current), end_offset: Number(end), lag: Number(lag) }))
        .sort((a, b) => a.partition - b.partition);
    };
    // Quiet: the paused consumer commits nothing more, so two describes in a row agree.
    let expected = await describe();
    await expect.poll(async () => {
      const again = await describe();
      const same = JSON.stringify(again) === JSON.stringify(expected);
      expected = again;
      return same;
    }, { timeout: 20_000 }).toBe(true);
    expect(expected).toHaveLength(6);
    expect(expected.reduce((sum, p) => sum + p.lag, 0)).toBe(45);
    await expect
      .poll(async () => (await lab.lag()).partitions.map(({ partition, committed_offset, end_offset, lag }: any) => ({ partition, committed_offset, end_offset, lag })), { timeout: 10_000 })
      .toEqual(expected);
    await postJson(`${consumer()}/resume`);
    await lab.drained(30_000);
  });

  it('a pause longer than the session timeout keeps the member; lag grows, then drains after resume', async () => {
    await postJson(`${consumer()}/fast?time_ms=20`);
    const before = await getJson(`${consumer()}/stats`);
    expect((await postJson(`${consumer()}/pause`)).body.paused).toBe(true);
    expect(await getJson(`${consumer()}/health`)).toMatchObject({ paused: true });
    await postJson(`${lab.producer.url}/produce/batch?count=30`);

    // Watch the group for 1.5x the 6 s session timeout: one member throughout, no rebalance.
    const pausedAt = Date.now();
    let watched = 0;
    await expect
      .poll(async () => {
        const [lag, stats] = await Promise.all([lab.lag(), getJson(`${consumer()}/stats`)]);
        expect(lag.members).toBe(1);
        expect(stats.member_id).toBe(before.member_id);
        expect(stats.rebalances).toBe(before.rebalances);
        watched = Date.now() - pausedAt;
        return watched > 9_000 && lag.total_lag === 30;
      }, { timeout: 20_000, interval: 500 })
      .toBe(true);
    const metrics = await (await fetch(`${consumer()}/metrics`)).text();
    expect(metrics).toMatch(/kafka_consumer_paused\{consumer="consumer-1",service="consumer"\} 1/);

    await postJson(`${consumer()}/resume`);
    await lab.drained(20_000);
    const after = await getJson(`${consumer()}/stats`);
    expect(after.rebalances).toBe(before.rebalances);
    expect(after.processed).toBeGreaterThanOrEqual(before.processed + 30);
  });

  it('the monitor alerts on status changes and recommends action', async () => {
    await postJson(`${consumer()}/pause`);
    await postJson(`${lab.producer.url}/produce/batch?count=600`);
    await expect.poll(async () => (await lab.lag()).status, { timeout: 10_000 }).toBe('critical');
    // The consumer's commits say it is paused by hand: the advice is to resume it.
    await expect
      .poll(async () => (await getJson(`${lab.monitor.url}/recommendations`)).recommendations.map((r: any) => r.action).join('\n'), { timeout: 10_000 })
      .toMatch(/Resume the consumers paused by hand/);
    await postJson(`${consumer()}/fast?time_ms=0`);
    await postJson(`${consumer()}/resume`);
    await expect.poll(async () => (await lab.lag()).status, { timeout: 30_000 }).toBe('ok');
    const { alerts } = await getJson(`${lab.monitor.url}/alerts`);
    // Newest first; exactly one alert per transition, however many polls were over a threshold.
    const transitions: string[] = alerts.map((a: any) => `${a.from}->${a.to}`);
    expect(transitions[0]).toMatch(/->ok$/);
    expect(transitions).toContainEqual(expect.stringMatching(/->critical$/));
    // Each alert starts where the one before it ended: no repeats while a status holds.
    for (let i = 0; i + 1 < alerts.length; i++) expect(alerts[i].from).toBe(alerts[i + 1].to);
    await lab.drained();
    const status = await getJson(`${lab.monitor.url}/status`);
    expect(status).toMatchObject({ status: 'ok', total_lag: 0, members: 1, partitions: 6, stale: false });
  });
});
