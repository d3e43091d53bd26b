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

/** Writes processed records to a Kafka topic and resolves once Kafka has them (acks=all). */
export class KafkaSink {
  constructor(
    private readonly producer: Producer,
    readonly topic: string,
  ) {}

  async write(record: ProcessedRecord): Promise<void> {
    await this.producer.send({ topic: this.topic, acks: -1, messages: [{ key: record.order_id, value: JSON.stringify(record) }] });
  }
}
