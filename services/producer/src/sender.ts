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
 * How many idempotent producers send the orders, each send going to the next one. kafkajs's
 * idempotent producer holds one produce request per broker in flight, and its lock covers the
 * request's encoding too: with one producer the broker waits while Node encodes, and Node waits
 * while the broker appends. With several, one request is encoded while another is on the broker.
 * Each is idempotent on its own (its own producer id and sequence numbers), so every order is
 * still written exactly once per acknowledged send.
 */
export const PRODUCERS = 3;

/**
 * At most this many orders go in one produce request. A request carries one record batch per
 * partition, and the broker refuses a batch over its message.max.bytes (1 MB by default); a
 * /produce/batch of 100,000 orders in one request was refused whole.
 */
export const MAX_ORDERS_PER_REQUEST = 500;

/**
 * Sends orders and resolves only once Kafka has acknowledged them (acks=all): an order the API
 * answered 201 for is never lost. A broker failure becomes a 503 for the caller. Every order
 * passes the throttle's rate limiter first: throttled, a send waits for its turn and goes out in
 * pieces as the limit allows; it is never dropped. Sends take turns over the producers.
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
  private turn = 0;

  constructor(
    readonly producerId: string,
    private readonly producers: readonly Producer[],
    private readonly topic: string,
    private readonly tracer: Tracer,
    private readonly metrics: ProducerMetrics,
    private readonly probe: BrokerProbe,
    private readonly limiter: RateLimiter,
  ) {}

  /** The next `count` orders of this producer, numbered in sequence, made now; `poison` of them poison. */
  newOrders(count: number, overrides: OrderOverrides = {}, poison = 0): Order[] {
    const first = this.reserve(count);
    return this.build(first, 0, count, count, overrides, poison);
  }

  /**
   * Makes and sends `count` orders, `poison` of them poison, numbered in one unbroken run even
   * while other sends go on. Each request's orders are made only when it goes out, so a
   * /produce/batch of 100,000 holds one request's worth at a time, not 100,000 orders at once.
   */
  async sendNew(count: number, poison: number): Promise<{ first: number; last: number }> {
    const first = this.reserve(count);
    for (let from = 0; from < count; from += MAX_ORDERS_PER_REQUEST) {
      await this.send(this.build(first, from, Math.min(MAX_ORDERS_PER_REQUEST, count - from), count, {}, poison));
    }
    return { first, last: first + count - 1 };
  }

  /** Takes the next `count` sequence numbers; returns the first. */
  private reserve(count: number): number {
    const first = this.sequence + 1;
    this.sequence += count;
    return first;
  }

  /** Orders `from` to `from + n - 1` of a run of `total` that starts at sequence `first`. */
  private build(first: number, from: number, n: number, total: number, overrides: OrderOverrides, poison: number): Order[] {
    const now = new Date().toISOString();
    return Array.from({ length: n }, (_, i) =>
      buildOrder(first + from + i, this.producerId, isPoisonAt(from + i, total, poison) ? { ...overrides, poison: true } : overrides, now),
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
      // Unthrottled, the first grant is the whole send: produce requests of up to
      // MAX_ORDERS_PER_REQUEST, one after the other, so acknowledgements stay in order.
      for (let from = sent; from < sent + n; from += MAX_ORDERS_PER_REQUEST) {
        const to = Math.min(from + MAX_ORDERS_PER_REQUEST, sent + n);
        const landed = await this.produce(from === 0 && to === orders.length ? orders : orders.slice(from, to));
        acks = acks.length === 0 ? landed : acks.concat(landed);
      }
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
      const producer = this.producers[this.turn++ % this.producers.length]!;
      const acks = await producer.send({
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
