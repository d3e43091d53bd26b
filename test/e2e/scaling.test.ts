import { afterEach, describe, expect, it, vi } from 'vitest';
import { rateOf, startLab, type Lab } from '../support/lab.js';
import { getJson, postJson } from '../support/services.js';

const assigned = async (url: string): Promise<number[]> => (await getJson(`${url}/stats`)).assigned_partitions;

/** Waits until the group is stable with `n` members that together own all 6 partitions. */
async function settled(lab: Lab, n: number) {
  await vi.waitFor(
    async () => {
      const live = lab.consumers.filter((c) => c.process.exitCode === null && c.process.signalCode === null);
      expect(live).toHaveLength(n);
      const owned = await Promise.all(live.map((c) => assigned(c.url)));
      expect(owned.flat().sort()).toEqual([0, 1, 2, 3, 4, 5]);
      // Balanced, as the round-robin assignor leaves it once every member has the new generation.
      for (const parts of owned) expect(parts.length).toBeGreaterThanOrEqual(Math.floor(6 / n));
      expect((await lab.lag()).members).toBe(n);
    },
    { timeout: 40_000, interval: 250 },
  );
}

function duplicates(ids: string[]): number {
  return ids.length - new Set(ids).size;
}

describe('horizontal scaling on a real broker', () => {
  let lab: Lab | undefined;
  afterEach(async () => {
    await lab?.stopAll();
    lab = undefined;
  });

  it('3 consumers split 6 partitions two each and roughly triple throughput', async () => {
    lab = await startLab('triple', { consumerEnv: { PROCESSING_TIME_MS: '100' } });
    await settled(lab, 1);
    await postJson(`${lab.producer.url}/produce/batch?count=60`);
    await lab.drained();
    const single = rateOf((await lab.processed()).map((p) => p.processed_at));

    await lab.addConsumer();
    await lab.addConsumer();
    await settled(lab, 3);
    for (const c of lab.consumers) expect(await assigned(c.url)).toHaveLength(2);
    const before = new Set((await lab.processed()).map((p) => p.order_id));
    await postJson(`${lab.producer.url}/produce/batch?count=240`);
    await lab.drained();
    const fresh = (await lab.processed()).filter((p) => !before.has(p.order_id));
    expect(fresh).toHaveLength(240);
    // Each consumer's own rate while busy, summed: immune to uneven key spread over partitions.
    const perConsumer = ['consumer-1', 'consumer-2', 'consumer-3'].map((id) => rateOf(fresh.filter((p) => p.consumer === id).map((p) => p.processed_at)));
    const total = perConsumer.reduce((a, b) => a + b, 0);
    expect(single).toBeGreaterThan(8);
    expect(single).toBeLessThanOrEqual(10.2);
    expect(total / single).toBeGreaterThan(2.6);
    expect(total / single).toBeLessThan(3.3);
  });

  it('every produced order is consumed at least once across a consumer SIGKILL and restart', async () => {
    lab = await startLab('sigkill', { consumers: 2, consumerEnv: { PROCESSING_TIME_MS: '20' } });
    await settled(lab, 2);
    await postJson(`${lab.producer.url}/config`, { rate_ms: 20, batch_size: 2, running: true });
    const victim = lab.consumers[1]!;
    await vi.waitFor(async () => expect((await getJson(`${victim.url}/stats`)).processed).toBeGreaterThan(30), { timeout: 20_000 });
    await victim.stop('SIGKILL');
    // The survivor takes the dead member's partitions after the 6 s session timeout.
    await vi.waitFor(async () => expect(await assigned(lab!.consumers[0]!.url)).toHaveLength(6), { timeout: 30_000, interval: 250 });
    lab.consumers.splice(1, 1);
    await lab.addConsumer({}, 2);
    await settled(lab, 2);
    await postJson(`${lab.producer.url}/stop`);
    await lab.drained(60_000);

    const produced = await lab.producedIds();
    const processed = (await lab.processed()).map((p) => p.order_id);
    expect(produced.length).toBeGreaterThan(100);
    expect(new Set(produced).size).toBe(produced.length);
    const seen = new Set(processed);
    expect(produced.filter((id) => !seen.has(id))).toEqual([]);
  });

  it('a clean SIGTERM scale-down loses nothing and duplicates nothing', async () => {
    lab = await startLab('sigterm', { consumers: 3, consumerEnv: { PROCESSING_TIME_MS: '50' } });
    await settled(lab, 3);
    await postJson(`${lab.producer.url}/produce/batch?count=600`);
    const leaving = lab.consumers[2]!;
    await vi.waitFor(async () => expect((await getJson(`${leaving.url}/stats`)).processed).toBeGreaterThan(20), { timeout: 20_000 });
    expect(await leaving.stop('SIGTERM')).toBe(0);
    lab.consumers.splice(2, 1);
    await settled(lab, 2);
    await lab.drained(60_000);

    const produced = await lab.producedIds();
    const processed = (await lab.processed()).map((p) => p.order_id);
    expect(produced).toHaveLength(600);
    expect(new Set(processed)).toEqual(new Set(produced));
    expect(duplicates(processed)).toBe(0);
  });
});
