import type { Producer } from '@bplab/kit';
import type { Message, ProducerRecord } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { MAX_RECORDS_PER_SEND, TopicWriter } from '../src/sink.js';

/** A producer whose sends the test acknowledges (or fails) one by one. */
function fakeProducer() {
  const sends: { record: ProducerRecord; ack: () => void; fail: (err: unknown) => void }[] = [];
  const producer = {
    send: (record: ProducerRecord) => new Promise((ack, fail) => sends.push({ record, ack: () => ack([]), fail })),
  } as unknown as Producer;
  return { producer, sends };
}

const messages = (from: number, count: number): Message[] => Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, value: `v${from + i}` }));
const keys = (record: ProducerRecord) => record.messages.map((m) => m.key);
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('TopicWriter: one send at a time, the writes made meanwhile go together in the next', () => {
  it('a write alone is one send, acks=all, to its topic; it resolves when Kafka acknowledges it', async () => {
    const p = fakeProducer();
    const writer = new TopicWriter(p.producer, 'orders.processed');
    let stored = false;
    const write = writer.write(messages(0, 2)).then(() => (stored = true));
    expect(p.sends).toHaveLength(1);
    expect(p.sends[0]!.record).toMatchObject({ topic: 'orders.processed', acks: -1 });
    await flush();
    expect(stored).toBe(false);
    p.sends[0]!.ack();
    await write;
  });

  it('writes made while a send is in flight go together in the next send, in order, each resolved with it', async () => {
    const p = fakeProducer();
    const writer = new TopicWriter(p.producer, 't');
    const first = writer.write(messages(0, 1));
    const later = [writer.write(messages(1, 2)), writer.write(messages(3, 1))];
    expect(p.sends).toHaveLength(1);
    p.sends[0]!.ack();
    await first;
    await flush();
    expect(p.sends).toHaveLength(2);
    expect(keys(p.sends[1]!.record)).toEqual(['k1', 'k2', 'k3']);
    p.sends[1]!.ack();
    await Promise.all(later);
  });

  it('a failed send fails every write in it, and the writer goes on with the next', async () => {
    const p = fakeProducer();
    const writer = new TopicWriter(p.producer, 't');
    const first = writer.write(messages(0, 1));
    const joined = [writer.write(messages(1, 1)), writer.write(messages(2, 1))];
    p.sends[0]!.ack();
    await first;
    await flush();
    const boom = new Error('retries exhausted');
    p.sends[1]!.fail(boom);
    for (const w of joined) await expect(w).rejects.toBe(boom);
    const after = writer.write(messages(3, 1));
    expect(p.sends).toHaveLength(3);
    p.sends[2]!.ack();
    await after;
  });

  it(`a send carries at most ${MAX_RECORDS_PER_SEND} records, never splitting a write; a larger write goes alone`, async () => {
    const p = fakeProducer();
    const writer = new TopicWriter(p.producer, 't');
    const writes = [writer.write(messages(0, 1)), writer.write(messages(1, MAX_RECORDS_PER_SEND - 1)), writer.write(messages(MAX_RECORDS_PER_SEND, 2)), writer.write(messages(0, MAX_RECORDS_PER_SEND + 5))];
    for (let i = 0; i < 4; i++) {
      await flush();
      p.sends[i]!.ack();
    }
    await Promise.all(writes);
    expect(p.sends.map((s) => s.record.messages.length)).toEqual([1, MAX_RECORDS_PER_SEND - 1, 2, MAX_RECORDS_PER_SEND + 5]);
  });

  it('an empty write sends nothing', async () => {
    const p = fakeProducer();
    await new TopicWriter(p.producer, 't').write([]);
    expect(p.sends).toEqual([]);
  });
});
