import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyPartitioner, murmur2, partitionOf } from '../src/partitioner.js';

// kafkajs's own murmur2 and DefaultPartitioner, the reference this one must match bit for bit.
const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number;
const { Partitioners } = require('kafkajs') as typeof import('kafkajs');

const metadata = (n: number) => Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }));

describe("murmur2: Kafka's hash in 32-bit arithmetic", () => {
  it.each([
    // The Java client's own test values (UtilsTest.testMurmur2), and the empty key.
    { key: '', hash: 275646681 },
    { key: '21', hash: -973932308 },
    { key: 'foobar', hash: -790332482 },
    { key: 'a-little-bit-long-string', hash: -985981536 },
    { key: 'a-little-bit-longer-string', hash: -1486304829 },
    { key: 'lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', hash: -58897971 },
    { key: 'abc', hash: 479470107 },
  ])('$key -> $hash', ({ key, hash }) => {
    expect(murmur2(Buffer.from(key))).toBe(hash);
  });

  it("equals kafkajs's murmur2 for any bytes and any string", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        expect(murmur2(bytes)).toBe(kafkajsMurmur2(Buffer.from(bytes)));
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (key) => {
        expect(murmur2(Buffer.from(key))).toBe(kafkajsMurmur2(key));
      }),
    );
  });
});

describe('KeyPartitioner: where the default partitioner puts a keyed record', () => {
  it("picks the same partition as kafkajs's DefaultPartitioner, for any key and partition count", () => {
    const ours = KeyPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    fc.assert(
      fc.property(fc.oneof(fc.uuid(), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 128 })), fc.integer({ min: 1, max: 64 }), (key, n) => {
        const args = { topic: 'orders', partitionMetadata: metadata(n), message: { key, value: 'v' } };
        const partition = ours(args);
        expect(partition).toBe(theirs(args));
        expect(partition).toBe(partitionOf(key, n));
        expect(partition).toBeGreaterThanOrEqual(0);
        expect(partition).toBeLessThan(n);
      }),
    );
  });

  it('keeps a partition given with the record; records without a key go round-robin over every partition', () => {
    const ours = KeyPartitioner();
    expect(ours({ topic: 'orders', partitionMetadata: metadata(6), message: { key: 'k', value: 'v', partition: 4 } })).toBe(4);
    const keyless = Array.from({ length: 12 }, () => ours({ topic: 'orders.dlq', partitionMetadata: metadata(6), message: { key: null, value: 'v' } }));
    expect(new Set(keyless)).toEqual(new Set([0, 1, 2, 3, 4, 5]));
  });
});
