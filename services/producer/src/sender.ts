import { context, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { traceHeaders, unavailable, type BrokerProbe, type Producer } from '@bplab/kit';
import { buildOrder, isPoisonAt, orderKey, type Order, type OrderOverrides } from './orders.js';
import type { ProducerMetrics } from './metrics.js';
import type { RateLimiter } from './rate-limiter.js';

/** Every reason kafka_produce_errors_total counts, so that each series exists from start-up. */
export const PRODUCE_ERROR_REASONS = ['retries_exhausted', 'not_retriable', 'other'] as const;
type ProduceErrorReason = (typeof PRODUCE_ERROR_REASONS)[number];

/**
 * kafkajs's retrier rejects a send with KafkaJSNumberOfRetriesExceeded once retriable failures
 * (broker down, leader moving, timeouts) have used up the retries, and with
 * KafkaJSNonRetriableError for a failure retrying cannot fix; anything else (a send on a
 * disconnected producer) is "other".
 */
export function produceErrorReason(err: unknown): ProduceErrorReason {
  const name = err instanceof Error ? err.name : undefined;
  if (name === 'KafkaJSNumberOfRetriesExceeded') return 'retries_exhausted';
  if (name === 'KafkaJSNonRetriableError') return 'not_retriable';
  return 'other';
}

/**
 * Sends orders and resolves only once Kafka has acknowledged them (acks=all): an order the API
 * answered 201 for is never lost. A broker failure becomes a 503 for the caller. Every order
 * passes the throttle's rate limiter first: throttled, a send waits for its turn and goes out in
 * pieces as the limit allows; it is never dropped.
 */
export class OrderSender {
  private sequence = 0;
  produced = 0;
  /** Poison orders among the produced ones. */
  poisonSent = 0;
  errors = 0;
  /**
   * False until connect() has finished, producer id included: kafkajs's idempotent producer
   * crashes on a send that races its producer-id request, and would send without idempotence.
   */
  connected = false;

  constructor(
    readonly producerId: string,
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly tracer: Tracer,
    private readonly metrics: ProducerMetrics,
    private readonly probe: BrokerProbe,
    private readonly limiter: RateLimiter,
  ) {}

  /** The next `count` orders of this producer, numbered in sequence; `poison` of them poison. */
  newOrders(count: number, overrides: OrderOverrides = {}, poison = 0): Order[] {
    return Array.from({ length: count }, (_, i) =>
      buildOrder(++this.sequence, this.producerId, isPoisonAt(i, count, poison) ? { ...overrides, poison: true } : overrides),
    );
  }

  get lastSequence(): number {
    return this.sequence;
  }

  /** Resolves with where each order landed, in order. */
  async send(orders: Order[]): Promise<{ partition: number; offset: string }[]> {
    if (orders.length === 0) return [];
    if (!this.connected) throw unavailable('still connecting to Kafka');
    let acks: { partition: number; offset: string }[] = [];
    for (let sent = 0; sent < orders.length; ) {
      const n = await this.limiter.acquire(orders.length - sent);
      // Unthrottled, the first grant is the whole send: one produce request, as before.
      const landed = await this.produce(n === orders.length ? orders : orders.slice(sent, sent + n));
      acks = sent === 0 ? landed : acks.concat(landed);
      sent += n;
    }
    return acks;
  }

  /** One produce request for orders the limiter has let through. */
  private async produce(orders: Order[]): Promise<{ partition: number; offset: string }[]> {
    const span = this.tracer.startSpan(`${this.topic} send`, {
      kind: SpanKind.PRODUCER,
      attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': this.topic, 'messaging.batch.message_count': orders.length },
    });
    const headers = traceHeaders(trace.setSpan(context.active(), span));
    const stopTimer = this.metrics.latency.startTimer();
    try {
      const acks = await this.producer.send({
        topic: this.topic,
        acks: -1,
        messages: orders.map((order) => ({ key: orderKey(order), value: JSON.stringify(order), headers })),
      });
      stopTimer();
      this.produced += orders.length;
      this.poisonSent += orders.filter((order) => order.poison).length;
      this.metrics.produced.inc({ topic: this.topic }, orders.length);
      this.metrics.rate.add(orders.length);
      return acks.map((ack) => ({ partition: ack.partition, offset: ack.baseOffset ?? '' }));
    } catch (err) {
      this.errors += 1;
      this.metrics.errors.inc({ topic: this.topic, reason: produceErrorReason(err) });
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
      this.probe.reportFailure(err);
      throw unavailable(err instanceof Error ? err.message : String(err));
    } finally {
      span.end();
    }
  }
}
