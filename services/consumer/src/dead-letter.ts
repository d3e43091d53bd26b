/**
 * The dead letter queue, the pure part: which records are poison, how long to wait between their
 * retries, what a dead letter carries, and the consumer's record of the last ones. No I/O, no clock.
 */
import type { IHeaders, KafkaMessage } from 'kafkajs';

/** The most retries DLQ_MAX_RETRIES accepts. */
export const MAX_DLQ_RETRIES = 10;
/** No wait between two attempts is longer than this, however many retries came before. */
export const MAX_RETRY_BACKOFF_MS = 5_000;
/** How many dead letters GET /dead-letters lists. */
export const DEAD_LETTER_LOG_SIZE = 100;

/** Why processing a record fails, every time it is tried. */
export const PoisonReason = {
  /** An order the producer sent with "poison": true. */
  flagged: 'flagged',
  /** No value at all (a tombstone). */
  empty: 'empty',
  notJson: 'not_json',
  /** JSON, but not an object with a string id. */
  notAnOrder: 'not_an_order',
} as const;
export type PoisonReason = (typeof PoisonReason)[keyof typeof PoisonReason];

export interface Poison {
  reason: PoisonReason;
  /** What the dlq.error header says: the reason, then the detail. */
  error: string;
}

const poison = (reason: PoisonReason, detail: string): Poison => ({ reason, error: `${reason}: ${detail}` });

/** Processing the record: null when it goes through, otherwise why it fails (and always will). */
export function poisonOf(value: Buffer | null): Poison | null {
  if (value === null || value.length === 0) return poison(PoisonReason.empty, 'the record has no value');
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString());
  } catch (err) {
    return poison(PoisonReason.notJson, err instanceof Error ? err.message : String(err));
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return poison(PoisonReason.notAnOrder, 'the value is not a JSON object');
  if (!('id' in parsed) || typeof parsed.id !== 'string') return poison(PoisonReason.notAnOrder, 'the order has no string id');
  if ('poison' in parsed && parsed.poison === true) return poison(PoisonReason.flagged, 'the order is marked poison');
  return null;
}

/**
 * The waits before each retry of a failing record, in order: backoffMs, doubling, at most
 * MAX_RETRY_BACKOFF_MS each. One wait per retry, so a record is tried retries + 1 times.
 */
export function retryDelays(retries: number, backoffMs: number): number[] {
  return Array.from({ length: Math.max(0, retries) }, (_, i) => Math.min(MAX_RETRY_BACKOFF_MS, backoffMs * 2 ** i));
}

/** Where a dead letter came from and why it died. */
export interface DeadLetterSource {
  error: string;
  attempts: number;
  topic: string;
  partition: number;
  offset: string;
  consumer: string;
}

/** The headers a dead letter carries besides the original record's own. */
export const DLQ_HEADERS = {
  error: 'dlq.error',
  attempts: 'dlq.attempts',
  topic: 'dlq.source.topic',
  partition: 'dlq.source.partition',
  offset: 'dlq.source.offset',
  consumer: 'dlq.consumer',
} as const;

/**
 * The record written to the dead letter topic: the original key and value unchanged, the original
 * headers (the trace context among them) and the dlq.* headers, which replace any the record
 * already had (a dead letter sent round again says where it died last).
 */
export function deadLetterOf(message: Pick<KafkaMessage, 'key' | 'value' | 'headers'>, source: DeadLetterSource): { key: Buffer | null; value: Buffer | null; headers: IHeaders } {
  return {
    key: message.key,
    value: message.value,
    headers: {
      ...message.headers,
      [DLQ_HEADERS.error]: source.error,
      [DLQ_HEADERS.attempts]: String(source.attempts),
      [DLQ_HEADERS.topic]: source.topic,
      [DLQ_HEADERS.partition]: String(source.partition),
      [DLQ_HEADERS.offset]: source.offset,
      [DLQ_HEADERS.consumer]: source.consumer,
    },
  };
}

/** One line of GET /dead-letters. */
export interface DeadLetterEntry {
  order_id: string;
  error: string;
  attempts: number;
  source_partition: number;
  source_offset: string;
  dead_lettered_at: string;
}

/** The last `size` dead letters this consumer wrote, newest first. */
export class DeadLetterLog {
  private readonly entries: DeadLetterEntry[] = [];

  constructor(private readonly size = DEAD_LETTER_LOG_SIZE) {}

  add(entry: DeadLetterEntry): void {
    this.entries.unshift(entry);
    if (this.entries.length > this.size) this.entries.length = this.size;
  }

  recent(): DeadLetterEntry[] {
    return [...this.entries];
  }
}
