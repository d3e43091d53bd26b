import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRecords, testKafka, type StoredRecord } from '../support/kafka.js';
import { startLab, type Lab } from '../support/lab.js';
import { getJson, postJson } from '../support/services.js';

/**
 * Issue 9, strategy 5: the dead letter queue. A poison order (marked poison by the producer, or a
 * record that is not an order at all) fails processing every time: the consumer retries it
 * DLQ_MAX_RETRIES times with backoff, writes it to the dead letter topic with where it came from
 * and why, commits, and moves on. Every poison order lands there, and only those; nothing is lost.
 */
const RETRIES = 2;
const BACKOFF_MS = 50;
const ATTEMPTS = RETRIES + 1;
/** The waits before the two retries: 50 ms, then twice that. */
const RETRY_WAITS_MS = BACKOFF_MS + 2 * BACKOFF_MS;
const CONSUMER_ENV = { PROCESSING_TIME_MS: '20', DLQ_MAX_RETRIES: String(RETRIES), DLQ_RETRY_BACKOFF_MS: String(BACKOFF_MS) };

const where = (r: { partition: number | string; offset: string }) => `${r.partition}/${r.offset}`;
const sourceOf = (letter: StoredRecord) => `${letter.headers['dlq.source.partition']}/${letter.headers['dlq.source.offset']}`;
const sorted = (values: string[]) => [...values].sort();

/** A counter's value for one consumer on its /metrics page. */
async function counter(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{[^}]*consumer="consumer-1"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
}

/** Writes one record straight to the orders topic, as a client other than our producer would. */
async function sendRaw(lab: Lab, value: string, headers: Record<string, string>): Promise<{ partition: number; offset: string }> {
  const producer = testKafka(lab.brokers).producer();
  await producer.connect();
  const [ack] = await producer.send({ topic: lab.topic, acks: -1, messages: [{ key: 'not-an-order', value, headers }] });
  await producer.disconnect();
  return { partition: ack!.partition, offset: ack!.baseOffset! };
}

/**
 * The orders topic split by what should become of each record: poison (marked by the producer,
 * or one of `raw`) or good. Checks that the dead letter topic holds each poison record exactly
 * once, as written (key, value, headers) with the dlq headers, and the sink every good one exactly
 * once and nothing else; returns both sides.
 */
async function checkNothingLost(lab: Lab, raw: string[] = []) {
  const orders = await readRecords(lab.brokers, lab.topic);
  const isPoison = (r: StoredRecord) => raw.includes(where(r)) || JSON.parse(r.value!).poison === true;
  const poison = orders.filter(isPoison);
  const good = orders.filter((r) => !isPoison(r));
  const dead = await lab.deadLetters();
  const processed = await lab.processed();

  // Every poison record, once each, and nothing else.
  expect(sorted(dead.map(sourceOf))).toEqual(sorted(poison.map(where)));
  for (const letter of dead) {
    const source = poison.find((r) => where(r) === sourceOf(letter))!;
    expect(letter.key).toBe(source.key);
    expect(letter.value).toBe(source.value);
    expect(letter.headers).toEqual({
      ...source.headers,
      'dlq.error': expect.stringMatching(raw.includes(where(source)) ? /^not_json: .+/ : /^flagged: the order is marked poison$/),
      'dlq.attempts': String(ATTEMPTS),
      'dlq.source.topic': lab.topic,
      'dlq.source.partition': String(source.partition),
      'dlq.source.offset': source.offset,
      'dlq.consumer': 'consumer-1',
    });
    // Retried with backoff first: not dead-lettered before both waits had passed.
    expect(letter.timestamp - source.timestamp).toBeGreaterThanOrEqual(RETRY_WAITS_MS);
  }
  // Every other order processed once, and no poison one.
  expect(sorted(processed.map((p) => p.order_id))).toEqual(sorted(good.map((r) => JSON.parse(r.value!).id)));
  // Nothing lost: what Kafka acknowledged is processed or dead-lettered.
  expect(orders.length).toBe(processed.length + dead.length);
  return { orders, poison, good, dead, processed };
}

describe('dead letter queue on a real broker', () => {
  describe(`one consumer at 20 ms, one message at a time, ${RETRIES} retries from ${BACKOFF_MS} ms`, () => {
    let lab: Lab;
    beforeAll(async () => {
      lab = await startLab('dead-letter', { consumerEnv: CONSUMER_ENV });
    });
    afterAll(() => lab?.stopAll());
    const consumer = () => lab.consumers[0]!.url;

    it.each([
      { path: '/produce', body: { poison: 'yes' }, field: 'body.poison', reason: /expected boolean/ },
      { path: '/produce', body: { poison: 1 }, field: 'body.poison', reason: /expected boolean/ },
      { path: '/produce/batch?count=5&poison=6', field: 'query.poison', reason: /must be at most count/ },
      { path: '/produce/batch?count=5&poison=-1', field: 'query.poison', reason: />=0/ },
      { path: '/produce/batch?count=5&poison=some', field: 'query.poison', reason: /expected number/ },
    ])('POST $path $body is refused with a 400 naming $field', async ({ path, body, field, reason }) => {
      const res = await postJson(`${lab.producer.url}${path}`, body);
      expect(res.status).toBe(400);
      const problem = res.body.problems.find((p: { field: string }) => p.field === field);
      expect(problem, JSON.stringify(res.body)).toBeDefined();
      expect(problem.reason).toMatch(reason);
      expect((await getJson(`${lab.producer.url}/stats`)).produced).toBe(0);
    });

    it('every poison order lands in the dead letter topic, and only those; the rest is processed; lag reaches 0', async () => {
      expect(await getJson(`${consumer()}/config`)).toMatchObject({ dlq_topic: lab.dlq, dlq_max_retries: RETRIES, dlq_retry_backoff_ms: BACKOFF_MS });
      // First, so that once the monitor has seen the producer's orders it has seen this one too.
      const raw = await sendRaw(lab, 'this is not an order', { 'x-sent-by': 'dead-letter.test' });
      const batch = await postJson(`${lab.producer.url}/produce/batch?count=60&poison=6`);
      expect(batch).toMatchObject({ status: 201, body: { sent: 60, poison: 6 } });
      const single = await postJson(`${lab.producer.url}/produce`, { poison: true });
      expect(single).toMatchObject({ status: 201, body: { order: { poison: true } } });
      expect(await getJson(`${lab.producer.url}/stats`)).toMatchObject({ produced: 61, poison_sent: 7 });

      const started = performance.now();
      await lab.drained(30_000);
      const drainedInS = (performance.now() - started) / 1000;
      expect((await lab.lag()).total_lag).toBe(0);

      const { orders, poison, good, dead } = await checkNothingLost(lab, [where(raw)]);
      expect(orders).toHaveLength(62);
      expect(poison).toHaveLength(8);
      expect(poison.map(where)).toContain(where(single.body));
      expect(dead.find((d) => sourceOf(d) === where(raw))!.headers['x-sent-by']).toBe('dead-letter.test');

      const stats = await getJson(`${consumer()}/stats`);
      expect(stats).toMatchObject({ processed: good.length, dead_lettered: poison.length, retries: poison.length * RETRIES });
      expect(await counter(consumer(), 'kafka_consumer_dead_letters_total')).toBe(poison.length);
      expect(await counter(consumer(), 'kafka_consumer_retries_total')).toBe(poison.length * RETRIES);

      const listed = await getJson(`${consumer()}/dead-letters`);
      expect(listed.count).toBe(poison.length);
      expect(sorted(listed.dead_letters.map((d: { source_partition: number; source_offset: string }) => where({ partition: d.source_partition, offset: d.source_offset })))).toEqual(
        sorted(poison.map(where)),
      );
      for (const entry of listed.dead_letters) {
        const source = poison.find((r) => where(r) === where({ partition: entry.source_partition, offset: entry.source_offset }))!;
        const orderId = where(source) === where(raw) ? `p${raw.partition}-o${raw.offset}` : JSON.parse(source.value!).id;
        expect(entry).toMatchObject({ order_id: orderId, attempts: ATTEMPTS, error: expect.stringMatching(/^(flagged|not_json): /) });
      }
      const times = listed.dead_letters.map((d: { dead_lettered_at: string }) => Date.parse(d.dead_lettered_at));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      console.log(
        `[measure] ${orders.length} records (${poison.length} poison, ${ATTEMPTS} attempts each, ${RETRY_WAITS_MS} ms of backoff) drained in ${drainedInS.toFixed(1)} s ` +
          `by one consumer at 20 ms: ${good.length} processed, ${dead.length} dead-lettered, ${stats.retries} retries`,
      );
    });
  });

  describe('batch mode: BATCH_SIZE=5', () => {
    let lab: Lab;
    beforeAll(async () => {
      lab = await startLab('dead-letter-batch', { consumerEnv: { ...CONSUMER_ENV, BATCH_SIZE: '5' } });
    });
    afterAll(() => lab?.stopAll());
    const consumer = () => lab.consumers[0]!.url;

    it('a batch writes its good orders in its one bulk write and its poison ones to the dead letter topic, then commits once', async () => {
      // The whole backlog is there before consumption resumes: 10 batches of 5, 1 in 5 poison.
      await postJson(`${consumer()}/pause`);
      expect(await postJson(`${lab.producer.url}/produce/batch?count=50&poison=10`)).toMatchObject({ status: 201, body: { sent: 50, poison: 10 } });
      await postJson(`${consumer()}/resume`);
      await lab.drained(30_000);

      const { poison, good, processed } = await checkNothingLost(lab);
      expect(poison).toHaveLength(10);
      expect(good).toHaveLength(40);
      const stats = await getJson(`${consumer()}/stats`);
      expect(stats).toMatchObject({ mode: 'batch', batch_size: 5, processed: 40, dead_lettered: 10, retries: 10 * RETRIES });
      // One commit per batch, poison or not: 50 / 5 batches, and a short one wherever a fetch ends.
      expect(stats.batches).toBeGreaterThanOrEqual(10);
      expect(stats.batches).toBeLessThanOrEqual(12);
      // One bulk sink write per batch with good orders in it; its records share one processed_at.
      const writes = (await getJson(`${consumer()}/downstream`)).writes.ok;
      const byWrite = new Map<string, number>();
      for (const p of processed) byWrite.set(p.processed_at, (byWrite.get(p.processed_at) ?? 0) + 1);
      expect(byWrite.size).toBe(writes);
      expect(writes).toBeLessThanOrEqual(stats.batches);
      for (const size of byWrite.values()) expect(size).toBeLessThanOrEqual(5);
      console.log(`[measure] batch 5: 50 orders (10 poison) in ${stats.batches} batches and commits, ${writes} sink writes of ${[...byWrite.values()].join(', ')} orders`);
      expect(await counter(consumer(), 'kafka_consumer_dead_letters_total')).toBe(10);
    });
  });
});
