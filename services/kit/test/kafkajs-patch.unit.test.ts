import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// patches/kafkajs+2.2.4.patch changes how kafkajs encodes a produce request (patches/README.md).
// These read what the patched encoder writes back with kafkajs's own decoders, the ones its
// consumer uses on fetched batches, and check the batch's CRC as the broker does.
const require = createRequire(import.meta.url);
type Encoded = { buffer: Buffer };
const produceRequest = require('kafkajs/src/protocol/requests/produce/v7/request.js') as (args: object) => { encode(): Promise<Encoded> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (args: object) => { buf: Buffer; offset: number };
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => KafkaDecoder;
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (decoder: KafkaDecoder) => Promise<DecodedBatch>;
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (buffer: Buffer) => number;
const groupMessagesPerPartition = require('kafkajs/src/producer/groupMessagesPerPartition.js') as (args: object) => Record<string, Message[]>;
const Long = require('kafkajs/src/utils/long.js') as { fromInt(n: number): unknown };

interface KafkaDecoder {
  buffer: Buffer;
  offset: number;
  readString(): string | null;
  readInt16(): number;
  readInt32(): number;
}
interface DecodedRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[]>;
  offset: string;
}
interface DecodedBatch {
  firstSequence: number;
  records: DecodedRecord[];
}
interface Message {
  key: string;
  value: string;
  headers?: Record<string, string>;
}

const message = fc.record(
  {
    key: fc.string({ unit: 'grapheme', maxLength: 40 }),
    value: fc.string({ unit: 'grapheme', maxLength: 600 }),
    // Header names as ours are (traceparent, ...): kafkajs's header decoder, unpatched, mixes up a
    // name that an object inherits (valueOf, toString) with the inherited member.
    headers: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,9}$/), fc.string({ unit: 'grapheme', maxLength: 30 }), { maxKeys: 3 }),
  },
  { requiredKeys: ['key', 'value'] },
);

/** The one partition's record batch in an encoded produce request, as the broker reads it. */
async function readBack(request: Buffer): Promise<{ batch: DecodedBatch; crcMatches: boolean }> {
  const decoder = new Decoder(request);
  decoder.readString(); // transactional id
  decoder.readInt16(); // acks
  decoder.readInt32(); // timeout
  expect(decoder.readInt32()).toBe(1); // topics
  decoder.readString();
  expect(decoder.readInt32()).toBe(1); // partitions
  decoder.readInt32(); // partition
  const size = decoder.readInt32();
  const batchBytes = request.subarray(decoder.offset, decoder.offset + size);
  // FirstOffset (8), Length (4), PartitionLeaderEpoch (4), Magic (1), then the CRC of everything after it.
  const crcMatches = batchBytes.readUInt32BE(17) === crc32C(batchBytes.subarray(21));
  return { batch: await decodeBatch(new Decoder(batchBytes)), crcMatches };
}

describe('kafkajs, as patched: produce requests', () => {
  it('encodes every record so that kafkajs reads back its key, value, headers and offset, under a valid CRC', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 60 }), fc.nat(1000), async (messages, firstSequence) => {
        const request = produceRequest({
          acks: -1,
          timeout: 30_000,
          producerId: Long.fromInt(7),
          producerEpoch: 1,
          topicData: [{ topic: 'orders', partitions: [{ partition: 2, firstSequence, messages }] }],
        });
        const { batch, crcMatches } = await readBack((await request.encode()).buffer);
        expect(crcMatches).toBe(true);
        expect(batch.firstSequence).toBe(firstSequence);
        expect(batch.records.map((r) => [r.key?.toString(), r.value?.toString(), r.offset])).toEqual(messages.map((m, i) => [m.key, m.value, String(i)]));
        expect(batch.records.map((r) => Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v.toString()])))).toEqual(
          messages.map((m) => m.headers ?? {}),
        );
      }),
      { numRuns: 100 },
    );
  });

  it("sizes a record's buffer to the record instead of 512 bytes", () => {
    const record = Record({ key: 'k', value: 'v' });
    expect(record.offset).toBeLessThan(16);
    expect(record.buf.length).toBeLessThanOrEqual(16);
  });

  it('groups messages by partition keeping their order within each partition', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(5), { maxLength: 300 }), (partitions) => {
        const messages = partitions.map((partition, i) => ({ key: String(i), value: String(partition) }));
        const grouped = groupMessagesPerPartition({
          topic: 'orders',
          partitionMetadata: [{ partitionId: 0 }],
          messages,
          partitioner: ({ message: m }: { message: Message }) => Number(m.value),
        });
        for (const [partition, inPartition] of Object.entries(grouped)) {
          expect(inPartition).toEqual(messages.filter((m) => m.value === partition));
        }
        expect(Object.values(grouped).flat()).toHaveLength(messages.length);
      }),
    );
  });
});
