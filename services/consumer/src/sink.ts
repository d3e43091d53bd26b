import type { Producer } from '@bplab/kit';
import type { Message } from 'kafkajs';

/** What the consumer writes for every processed order, so "nothing lost" can be checked end to end. */
export interface ProcessedRecord {
  order_id: string;
  consumer: string;
  partition: number;
  offset: string;
  processed_at: string;
  trace_id?: string;
}

/** One produce request carries at most this many records (several writes' worth, or one larger write). */
export const MAX_RECORDS_PER_SEND = 2_000;

interface QueuedWrite {
  messages: readonly Message[];
  stored: () => void;
  failed: (err: unknown) => void;
}

/**
 * Writes messages to one Kafka topic and resolves each write once Kafka has its messages
 * (acks=all). One send at a time: writes made while a send is in flight wait and go together in
 * the next one, as Kafka's own producer gathers records while a request is out. The idempotent
 * producer holds one request per broker in flight anyway, so this costs a write nothing and
 * spares the broker a request per write. A write is never split; a failed send fails every write
 * in it (nothing of it is acknowledged, so its messages are redelivered). The sink of processed
 * orders and the dead letter topic are each one.
 */
export class TopicWriter {
  private readonly queue: QueuedWrite[] = [];
  private sending = false;

  constructor(
    private readonly producer: Producer,
    readonly topic: string,
  ) {}

  write(messages: readonly Message[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    return new Promise<void>((stored, failed) => {
      this.queue.push({ messages, stored, failed });
      if (!this.sending) void this.sendQueued();
    });
  }

  private async sendQueued(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        const writes = takeWrites(this.queue, MAX_RECORDS_PER_SEND);
        try {
          await this.producer.send({ topic: this.topic, acks: -1, messages: writes.flatMap((w) => w.messages) });
          for (const w of writes) w.stored();
        } catch (err) {
          for (const w of writes) w.failed(err);
        }
      }
    } finally {
      this.sending = false;
    }
  }
}

/** Takes the queue's first writes while their records stay within `max` (at least one write). */
function takeWrites(queue: QueuedWrite[], max: number): QueuedWrite[] {
  let records = 0;
  let count = 0;
  while (count < queue.length && (count === 0 || records + queue[count]!.messages.length <= max)) {
    records += queue[count]!.messages.length;
    count += 1;
  }
  return queue.splice(0, count);
}

/** Processed records as the sink's messages: keyed by order id. */
export function processedMessages(records: readonly ProcessedRecord[]): Message[] {
  return records.map((r) => ({ key: r.order_id, value: JSON.stringify(r) }));
}
