import { SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import { contextFromHeaders, type Logger } from '@bplab/kit';
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { commitsFor, planBatch, retryDelayMs } from './batch.js';
import { DeadLetterLog, deadLetterOf, poisonOf, retryDelays, type Poison } from './dead-letter.js';
import { DownstreamRejected, type SimulatedDownstream } from './downstream.js';
import type { ConsumerMetrics } from './metrics.js';
import { orderIdOf } from './order-id.js';
import type { ProcessedRecord, TopicWriter } from './sink.js';

export interface ProcessorSettings {
  /** Simulated work per batch: per message when batchSize is 1. */
  processingTimeMs: number;
  /** Messages per batch, 1..MAX_BATCH_SIZE; 1 is the seed's one message at a time. */
  batchSize: number;
  /** Retries of a record whose processing fails, before it is dead-lettered (DLQ_MAX_RETRIES). */
  maxRetries: number;
  /** The wait before the first retry, doubling for each next one (DLQ_RETRY_BACKOFF_MS). */
  retryBackoffMs: number;
}

/**
 * How many partitions' fetched runs kafkajs hands over at once (partitionsConsumedConcurrently):
 * more than a consumer is ever assigned, so a batch can take from every partition of a fetch.
 */
export const RUNS_IN_HAND = 64;

/** One partition's fetched messages (one eachBatch call), waiting until they are all committed. */
interface Run {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
  /** How many are committed (and resolved) so far. */
  next: number;
  payload: EachBatchPayload;
  done: () => void;
  fail: (err: unknown) => void;
}

interface Taken {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

/**
 * Processes what kafkajs fetched, batchSize messages at a time across partitions: per batch one
 * simulated processing time, ONE bulk sink write (all its records, acks=all) and ONE commit (per
 * partition, the batch's last offset + 1). The commit comes after the write is acknowledged, so a
 * crash at any point means a redelivery (at-least-once), never a loss. With batchSize 1 this is
 * the seed's one message at a time: work, write, commit, per message.
 *
 * kafkajs calls eachBatch once per partition run of a fetch, concurrently (RUNS_IN_HAND); each
 * call joins the queue and waits until its run is committed, so one loop here takes batches across
 * all of them, in the order they came, each partition in offset order. kafkajs fetches again once
 * every run of the fetch has returned.
 *
 * A write the downstream refuses is retried with the batch still in hand and the member
 * heartbeating, until it is accepted; it is given up (uncommitted, so redelivered) only when the
 * group rebalances or the consumer shuts down meanwhile.
 *
 * A poison record (dead-letter.ts: flagged poison, or not one of our orders) fails processing
 * every time: it is retried maxRetries times with backoff, the batch in hand and the member
 * heartbeating, then written to the dead letter topic, and the consumer moves on. The batch's good
 * records go to the sink in its one bulk write; both writes are acknowledged before its commit.
 */
export class Processor {
  processed = 0;
  batches = 0;
  /** Retries of poison records, one per record per retry. */
  retries = 0;
  deadLettered = 0;
  readonly deadLetterLog = new DeadLetterLog();
  lastProcessedAt: string | undefined;
  private inHand: Promise<void> | undefined;
  private draining = false;
  private readonly runs: Run[] = [];
  private looping = false;

  constructor(
    readonly settings: ProcessorSettings,
    private readonly consumerId: string,
    private readonly downstream: SimulatedDownstream,
    private readonly commit: (offsets: { topic: string; partition: number; offset: string }[]) => Promise<void>,
    /** Paused by hand or by the downstream: no new batch is started. */
    private readonly isPaused: () => boolean,
    /** How often the member heartbeats while a batch is in hand (kafkajs only heartbeats between calls). */
    private readonly heartbeatIntervalMs: number,
    private readonly tracer: Tracer,
    private readonly metrics: ConsumerMetrics,
    private readonly logger: Logger,
    readonly deadLetterSink: TopicWriter,
  ) {}

  /**
   * Finishes the batch in hand and starts no other. kafkajs's disconnect does not wait for a
   * running eachBatch, so without this a SIGTERM could exit between sink write and commit.
   */
  async drain(): Promise<void> {
    this.draining = true;
    await this.inHand?.catch(() => {});
  }

  /** eachBatch: queues the partition's run and resolves once all of it is committed. */
  readonly handle = (payload: EachBatchPayload): Promise<void> => {
    // Refused before any side effect: the messages stay uncommitted and go to another member.
    if (this.draining) return Promise.reject(new Error('consumer is shutting down'));
    const { topic, partition, messages } = payload.batch;
    return new Promise<void>((done, fail) => {
      this.runs.push({ topic, partition, messages, next: 0, payload, done, fail });
      if (this.looping) return;
      this.looping = true;
      // After the other runs of the same fetch have queued too, so the first batch can mix them.
      setImmediate(() => void this.loop());
    });
  };

  private async loop(): Promise<void> {
    try {
      while (this.runs.length > 0) {
        // Refused before any side effect: the rest stays uncommitted and goes to another member.
        if (this.draining) return this.releaseAll(new Error('consumer is shutting down'));
        // Paused: the rest stays unresolved and is fetched again on resume. A pause never
        // interrupts the batch in hand.
        if (this.isPaused()) return this.releaseAll(null);
        // Revoked (a seek) or stopping: those runs are left as they are.
        for (const run of [...this.runs]) if (run.payload.isStale() || !run.payload.isRunning()) this.release(run, null);
        const first = this.runs[0];
        if (first === undefined) return;
        // Rate-limited by kafkajs; once the group rebalances it throws, before any side effect,
        // and every run returns with it so that kafkajs rejoins at once.
        try {
          await first.payload.heartbeat();
        } catch (err) {
          return this.releaseAll(err);
        }
        const runs = [...this.runs];
        const counts = planBatch(
          runs.map((r) => r.messages.length - r.next),
          this.settings.batchSize,
        );
        const taken = runs.flatMap((r, i) => r.messages.slice(r.next, r.next + counts[i]!).map((message) => ({ topic: r.topic, partition: r.partition, message })));
        this.inHand = this.process(taken, first.payload.heartbeat);
        try {
          await this.inHand;
        } catch (err) {
          return this.releaseAll(err);
        }
        runs.forEach((run, i) => {
          const count = counts[i]!;
          if (count === 0) return;
          run.next += count;
          run.payload.resolveOffset(run.messages[run.next - 1]!.offset);
          if (run.next === run.messages.length) this.release(run, null);
        });
      }
    } finally {
      this.looping = false;
    }
  }

  private release(run: Run, err: unknown): void {
    const at = this.runs.indexOf(run);
    if (at >= 0) this.runs.splice(at, 1);
    if (err === null) run.done();
    else run.fail(err);
  }

  private releaseAll(err: unknown): void {
    for (const run of [...this.runs]) this.release(run, err);
  }

  private async process(taken: Taken[], heartbeat: () => Promise<void>): Promise<void> {
    // Each producer span is its message's parent: one trace runs from POST /produce to the sink write.
    const spans = taken.map(({ topic, partition, message }) =>
      this.tracer.startSpan(
        `${topic} process`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            'messaging.system': 'kafka',
            'messaging.destination.name': topic,
            'messaging.kafka.destination.partition': partition,
            'messaging.kafka.message.offset': message.offset,
            'messaging.batch.message_count': taken.length,
          },
        },
        contextFromHeaders(message.headers),
      ),
    );
    const started = performance.now();
    // The member keeps heartbeating while the batch is in hand (a slow downstream can hold it
    // for up to a minute); a failed heartbeat (the group rebalances) is kept for the retry loop.
    let groupError: unknown;
    const keepAlive = setInterval(() => {
      heartbeat().catch((err: unknown) => {
        groupError ??= err;
      });
    }, Math.max(100, this.heartbeatIntervalMs / 2));
    try {
      if (this.settings.processingTimeMs > 0) await sleep(this.settings.processingTimeMs);
      const delays = retryDelays(this.settings.maxRetries, this.settings.retryBackoffMs);
      const failed = await this.retryFailing(taken, delays, () => groupError);
      const processedAt = new Date().toISOString();
      const good = taken.flatMap((t, i) => (failed.has(i) ? [] : [{ ...t, span: spans[i]! }]));
      const records: ProcessedRecord[] = good.map(({ partition, message, span }) => ({
        order_id: orderIdOf(message.value, partition, message.offset),
        consumer: this.consumerId,
        partition,
        offset: message.offset,
        processed_at: processedAt,
        ...(span.isRecording() ? { trace_id: span.spanContext().traceId } : {}),
      }));
      const attempts = delays.length + 1;
      const dead = [...failed].map(([i, poison]) => ({ ...taken[i]!, poison, span: spans[i]! }));
      // A batch of poison records alone has nothing for the downstream.
      if (records.length > 0) await this.writeUntilAccepted(records, () => groupError);
      await this.deadLetterSink.write(
        dead.map(({ topic, partition, message, poison }) =>
          deadLetterOf(message, { error: poison.error, attempts, topic, partition, offset: message.offset, consumer: this.consumerId }),
        ),
      );
      await this.commit(commitsFor(taken.map(({ topic, partition, message }) => ({ topic, partition, offset: message.offset }))));
      const seconds = (performance.now() - started) / 1000;
      // Each order in a batch took the batch's time, from its start to its commit.
      for (let i = 0; i < taken.length; i++) this.metrics.processing.observe({ consumer: this.consumerId }, seconds);
      this.processed += good.length;
      this.batches += 1;
      this.lastProcessedAt = new Date().toISOString();
      for (const { topic } of good) this.metrics.consumed.inc({ consumer: this.consumerId, topic });
      this.metrics.batches.inc({ consumer: this.consumerId });
      this.metrics.rate.add(good.length);
      if (dead.length > 0) this.deadLettersWritten(dead, attempts);
    } catch (err) {
      // Refused writes were counted per attempt in writeUntilAccepted.
      if (!(err instanceof DownstreamRejected)) this.metrics.errors.inc({ consumer: this.consumerId }, taken.length);
      for (const span of spans) span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
      this.logger.warn(
        { err: err instanceof Error ? err.message : err, messages: taken.length, partitions: [...new Set(taken.map((t) => t.partition))] },
        'batch failed; it will be redelivered',
      );
      throw err;
    } finally {
      clearInterval(keepAlive);
      endAll(spans);
    }
  }

  /**
   * Processes each record of the batch (poisonOf), and retries those that fail after each of
   * `delays`, the member heartbeating meanwhile. Resolves with the ones that still fail, by their
   * index in `taken`. Gives up (the batch is redelivered) when the consumer is shutting down or
   * the group rebalances meanwhile.
   */
  private async retryFailing(taken: Taken[], delays: number[], groupError: () => unknown): Promise<Map<number, Poison>> {
    const attempt = (indexes: Iterable<number>): Map<number, Poison> => {
      const failing = new Map<number, Poison>();
      for (const i of indexes) {
        const poison = poisonOf(taken[i]!.message.value);
        if (poison !== null) failing.set(i, poison);
      }
      return failing;
    };
    let failed = attempt(taken.keys());
    for (const delay of delays) {
      if (failed.size === 0) break;
      if (this.draining) throw new Error('consumer is shutting down');
      const revoked = groupError();
      if (revoked !== undefined) throw revoked;
      await sleep(delay);
      this.retries += failed.size;
      this.metrics.retries.inc({ consumer: this.consumerId }, failed.size);
      failed = attempt(failed.keys());
    }
    return failed;
  }

  /** Counts, logs and lists dead letters once they are written and their batch committed. */
  private deadLettersWritten(dead: (Taken & { poison: Poison; span: Span })[], attempts: number): void {
    const at = new Date().toISOString();
    for (const { partition, message, poison, span } of dead) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: `dead-lettered after ${attempts} attempts: ${poison.error}` });
      this.deadLetterLog.add({
        order_id: orderIdOf(message.value, partition, message.offset),
        error: poison.error,
        attempts,
        source_partition: partition,
        source_offset: message.offset,
        dead_lettered_at: at,
      });
    }
    this.deadLettered += dead.length;
    this.metrics.deadLetters.inc({ consumer: this.consumerId }, dead.length);
    this.logger.warn(
      { topic: this.deadLetterSink.topic, attempts, records: dead.map(({ partition, message, poison }) => ({ partition, offset: message.offset, error: poison.error })) },
      'poison records dead-lettered; moving on',
    );
  }

  /**
   * Retries a write the downstream refused (nothing of it was stored) until it is accepted. Gives
   * up, leaving the batch uncommitted for redelivery, when the consumer is shutting down or the
   * group rebalances meanwhile. Kafka's own errors (the broker is down) go to kafkajs as before.
   */
  private async writeUntilAccepted(records: ProcessedRecord[], groupError: () => unknown): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.downstream.write(records);
        return;
      } catch (err) {
        if (!(err instanceof DownstreamRejected)) throw err;
        this.metrics.errors.inc({ consumer: this.consumerId }, records.length);
        if (this.draining) throw err;
        const revoked = groupError();
        if (revoked !== undefined) throw revoked;
        if (attempt === 0) this.logger.info({ records: records.length }, 'the downstream refused a write; retrying the batch in hand');
        await sleep(retryDelayMs(attempt));
      }
    }
  }
}

function endAll(spans: Span[]): void {
  for (const span of spans) span.end();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
