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

/**
 * Writes messages to one Kafka topic and resolves once Kafka has them all (acks=all): one
 * producer.send per call, however many messages, so a batch is one bulk write. The sink of
 * processed orders and the dead letter topic are each one.
 */
export class TopicWriter {
  constructor(
    private readonly producer: Producer,
    readonly topic: string,
  ) {}

  async write(messages: readonly Message[]): Promise<void> {
    if (messages.length === 0) return;
    await this.producer.send({ topic: this.topic, acks: -1, messages: [...messages] });
  }
}

/** Processed records as the sink's messages: keyed by order id. */
export function processedMessages(records: readonly ProcessedRecord[]): Message[] {
  return records.map((r) => ({ key: r.order_id, value: JSON.stringify(r) }));
}
