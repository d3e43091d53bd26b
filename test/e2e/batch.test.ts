import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { rateOf, startLab, type Lab } from '../support/lab.js';
import { getJson, postJson } from '../support/services.js';

const assigned = async (url: string): Promise<number[]> => (await getJson(`${url}/stats`)).assigned_partitions;

function duplicates(ids: string[]): number {
  return ids.length - new Set(ids).size;
}

/** Orders in the sink that were not there before, after `count` more have been produced and drained. */
async function produceAndDrain(lab: Lab, count: number) {
  const before = new Set((await lab.processed()).map((p) => p.order_id));
  expect((await postJson(`${lab.producer.url}/produce/batch?count=${count}`)).status).toBe(201);
  await lab.drained(40_000);
  return (await lab.processed()).filter((p) => !before.has(p.order_id));
}

/**
 * Issue 9, strategy 2: batch processing. A batch of batch_size orders costs one processing time,
 * one bulk sink write and one commit, so one consumer does batch_size x 1000 / processing_ms.
 */
describe('batch processing on a real broker', () => {
  describe('one consumer at 200 ms', () => {
    let lab: Lab;
    beforeAll(async () => {
      lab = await startLab('batch', { consumerEnv: { PROCESSING_TIME_MS: '200' } });
      await vi.waitFor(async () => expect(await assigned(lab.consumers[0]!.url)).toHaveLength(6), { timeout: 30_000, interval: 200 });
    });
    afterAll(() => lab?.stopAll());
    const consumer = () => lab.consumers[0]!.url;

    it('batch 10 multiplies throughput by 10 as batch_size x 1000 / processing_ms says: ~50 msg/s against ~5, nothing lost or duplicated', async () => {
      expect(await getJson(`${consumer()}/config`)).toMatchObject({ mode: 'single', batch_size: 1, processing_time_ms: 200, max_throughput_per_sec: 5 });
      const single = await produceAndDrain(lab, 20);
      expect(single).toHaveLength(20);
      const singleRate = rateOf(single.map((p) => p.processed_at));
      // One at a time: every order has its own processing time, write and commit.
      expect(new Set(single.map((p) => p.processed_at)).size).toBe(20);

      const changed = await postJson(`${consumer()}/config`, { batch_size: 10 });
      expect(changed).toMatchObject({ status: 200, body: { mode: 'batch', batch_size: 10, max_throughput_per_sec: 50 } });
      const statsBefore = await getJson(`${consumer()}/stats`);
      // The backlog is all there before consumption resumes: 60 full batches, taken across the
      // 6 partitions of each fetch.
      await postJson(`${consumer()}/pause`);
      const batched = await (async () => {
        const before = new Set((await lab.processed()).map((p) => p.order_id));
        expect((await postJson(`${lab.producer.url}/produce/batch?count=600`)).status).toBe(201);
        await postJson(`${consumer()}/resume`);
        await lab.drained(40_000);
        return (await lab.processed()).filter((p) => !before.has(p.order_id));
      })();
      expect(batched).toHaveLength(600);
      const batchRate = rateOf(batched.map((p) => p.processed_at));
      const statsAfter = await getJson(`${consumer()}/stats`);
      const batches = statsAfter.batches - statsBefore.batches;
      // A batch's records share one write (one processed_at); never more than 10, across partitions.
      const byWrite = new Map<string, { partition: number }[]>();
      for (const p of batched) byWrite.set(p.processed_at, [...(byWrite.get(p.processed_at) ?? []), p]);
      const text = await (await fetch(`${consumer()}/metrics`)).text();
      const sample = (name: string) => Number(new RegExp(`^${name}\\{[^}]*kind="write",result="ok"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
      const writeMs = (sample('kafka_consumer_downstream_call_seconds_sum') / sample('kafka_consumer_downstream_call_seconds_count')) * 1000;
      console.log(
        `[measure] 200 ms per batch: one at a time ${singleRate.toFixed(2)} msg/s; batch 10 ${batchRate.toFixed(2)} msg/s ` +
          `(${(batchRate / singleRate).toFixed(2)}x; ${batches} batches for 600 orders, ${[...byWrite.values()].filter((b) => b.length === 10).length} of them full; ` +
          `mean sink write ${writeMs.toFixed(1)} ms)`,
      );
      expect(singleRate).toBeGreaterThan(4);
      expect(singleRate).toBeLessThanOrEqual(5.1);
      expect(batchRate).toBeGreaterThan(50 * 0.8);
      expect(batchRate).toBeLessThan(50 * 1.2);
      expect(batchRate / singleRate).toBeGreaterThan(10 * 0.8);
      expect(batchRate / singleRate).toBeLessThan(10 * 1.2);
      expect(batches).toBe(byWrite.size);
      expect(batches).toBeGreaterThanOrEqual(60);
      expect(batches).toBeLessThanOrEqual(66);
      for (const records of byWrite.values()) expect(records.length).toBeLessThanOrEqual(10);
      expect([...byWrite.values()].some((records) => new Set(records.map((r) => r.partition)).size > 1)).toBe(true);
      // Nothing lost, nothing twice, and the group's commits are at the end of every partition.
      const produced = await lab.producedIds();
      const processed = (await lab.processed()).map((p) => p.order_id);
      expect(new Set(processed)).toEqual(new Set(produced));
      expect(duplicates(processed)).toBe(0);
      expect((await lab.lag()).partitions.every((p: any) => p.committed_offset === p.end_offset)).toBe(true);
    });

    it('/stats, /config and the metrics show the mode; batch_size 1 is one at a time again', async () => {
      const metrics = await (await fetch(`${consumer()}/metrics`)).text();
      expect(metrics).toMatch(/kafka_consumer_batch_size\{consumer="consumer-1",service="consumer"\} 10/);
      expect(metrics).toMatch(/kafka_consumer_batches_total\{consumer="consumer-1",service="consumer"\} \d+/);
      expect(await getJson(`${consumer()}/stats`)).toMatchObject({ mode: 'batch', batch_size: 10 });
      expect((await postJson(`${consumer()}/config`, { batch_size: 1 })).body).toMatchObject({ mode: 'single', batch_size: 1, max_throughput_per_sec: 5 });
      const fresh = await produceAndDrain(lab, 12);
      expect(new Set(fresh.map((p) => p.processed_at)).size).toBe(12);
    });

    it.each([
      { body: { batch_size: 0 }, field: 'body.batch_size', reason: />=1/ },
      { body: { batch_size: 1001 }, field: 'body.batch_size', reason: /<=1000/ },
      { body: { batch_size: 2.5 }, field: 'body.batch_size', reason: /expected int/ },
      { body: { batch_size: '10' }, field: 'body.batch_size', reason: /expected number/ },
    ])('POST /config $body -> 400 naming $field', async ({ body, field, reason }) => {
      const res = await postJson(`${consumer()}/config`, body);
      expect(res.status).toBe(400);
      const problem = res.body.problems.find((p: { field: string }) => p.field === field);
      expect(problem, JSON.stringify(res.body)).toBeDefined();
      expect(problem.reason).toMatch(reason);
      expect((await getJson(`${consumer()}/config`)).batch_size).toBe(1);
    });
  });

  describe('shutdown and rebalance with batches in hand', () => {
    let lab: Lab | undefined;
    afterEach(async () => {
      await lab?.stopAll();
      lab = undefined;
    });

    it('a SIGTERM and a join mid-batch lose nothing and duplicate nothing: the batch in hand finishes and commits', async () => {
      lab = await startLab('batch-leave', { consumers: 2, consumerEnv: { PROCESSING_TIME_MS: '300', BATCH_SIZE: '10' } });
      const l = lab;
      await vi.waitFor(async () => expect((await l.lag()).members).toBe(2), { timeout: 30_000, interval: 250 });
      await postJson(`${l.producer.url}/produce/batch?count=400`);
      const leaving = l.consumers[1]!;
      await vi.waitFor(async () => expect((await getJson(`${leaving.url}/stats`)).processed).toBeGreaterThanOrEqual(20), { timeout: 20_000, interval: 100 });
      expect(await leaving.stop('SIGTERM')).toBe(0);
      l.consumers.splice(1, 1);
      await vi.waitFor(async () => expect(await assigned(l.consumers[0]!.url)).toHaveLength(6), { timeout: 30_000, interval: 100 });
      // A new member: the survivor's partitions are revoked while it has a batch in hand.
      const busy = (await getJson(`${l.consumers[0]!.url}/stats`)).processed;
      await l.addConsumer({}, 3);
      await vi.waitFor(async () => expect((await l.lag()).members).toBe(2), { timeout: 30_000, interval: 250 });
      await l.drained(60_000);

      const produced = await l.producedIds();
      const processed = (await l.processed()).map((p) => p.order_id);
      const rebalances = (await getJson(`${l.consumers[0]!.url}/stats`)).rebalances;
      console.log(`[measure] batch 10 at 300 ms, 400 orders: SIGTERM after ${leaving.name} did >= 20, join at ${busy} done by consumer-1; duplicates ${duplicates(processed)}, consumer-1 joined ${rebalances} times`);
      expect(produced).toHaveLength(400);
      expect(new Set(processed)).toEqual(new Set(produced));
      expect(duplicates(processed)).toBe(0);
      expect(rebalances).toBeGreaterThanOrEqual(3);
    });
  });
});
