import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { REPO } from './paths.js';

export function testKafka(brokers: string): Kafka {
  return new Kafka({ clientId: 'tests', brokers: [brokers], logLevel: logLevel.NOTHING });
}

/** Fresh orders, processed and dead letter topics per test file, so files never see each other's orders. */
export async function createTopics(brokers: string, prefix: string, partitions = 6) {
  const suffix = randomUUID().slice(0, 8);
  const topic = `${prefix}-${suffix}`;
  const sink = `${prefix}-processed-${suffix}`;
  const dlq = `${prefix}-dlq-${suffix}`;
  const admin = testKafka(brokers).admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [topic, sink, dlq].map((name) => ({ topic: name, numPartitions: partitions })) });
  await admin.disconnect();
  return { topic, sink, dlq, group: `${prefix}-group-${suffix}` };
}

/** A record as it is stored: where, when (ms since the epoch), its key, value and headers as text. */
export interface StoredRecord {
  partition: number;
  offset: string;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** Every record currently in a topic, parsed as JSON. */
export async function readTopic<T = any>(brokers: string, topic: string): Promise<T[]> {
  return (await readRecords(brokers, topic)).map((r) => JSON.parse(r.value!) as T);
}

/** Every record currently in a topic, read to its end offsets with a throwaway group. */
export async function readRecords(brokers: string, topic: string): Promise<StoredRecord[]> {
  const kafka = testKafka(brokers);
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(ends.filter((p) => Number(p.high) > Number(p.low)).map((p) => [p.partition, Number(p.high)]));
  const records: StoredRecord[] = [];
  if (remaining.size === 0) return records;
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), 60_000);
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        const end = remaining.get(partition);
        if (end === undefined || Number(message.offset) >= end) return;
        records.push({
          partition,
          offset: message.offset,
          timestamp: Number(message.timestamp),
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? null,
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)])),
        });
        if (Number(message.offset) + 1 >= end) remaining.delete(partition);
        if (remaining.size === 0) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return records;
}

/** Runs one of Kafka's own CLI tools through hack/kafka/cli.sh. */
export async function kafkaCli(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [join(REPO, 'hack/kafka/cli.sh'), ...args], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}
