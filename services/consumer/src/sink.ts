import type { Producer } from '@bplab/kit';

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
 * Writes processed records to a Kafka topic and resolves once Kafka has them all (acks=all): one
 * producer.send per call, however many records, so a batch is one bulk write.
 */
export class KafkaSink {
  constructor(
    private readonly producer: Producer,
    readonly topic: string,
  ) {}

  async write(records: readonly ProcessedRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.producer.send({ topic: this.topic, acks: -1, messages: records.map((r) => ({ key: r.order_id, value: JSON.stringify(r) })) });
  }
}
