import { SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import { contextFromHeaders, type Logger } from '@bplab/kit';
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { Positioned } from './ack-tracker.js';
import { planBatch, retryDelayMs } from './batch.js';
import { DeadLetterLog, deadLetterOf, poisonOf, retryDelays, type Poison } from './dead-letter.js';
import { DownstreamRejected, type AcceptedWrite, type SimulatedDownstream } from './downstream.js';
import type { ConsumerMetrics } from './metrics.js';
import { orderIdOf } from './order-id.js';
import { WritePipeline } from './pipeline.js';
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

/** One partition's fetched messages (one eachBatch call), held until all of them are acknowledged. */
interface Run {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
  /** How many are taken for processing so far. */
  taken: number;
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
 * simulated processing time and ONE write to the downstream with all its records. The processing
 * and the downstream's acceptance (its latency, its refusals) happen in line, one batch at a
 * time; the write's store in Kafka (acks=all) is pipelined (pipeline.ts): the next batch is
 * processed while it is acknowledged, and the offsets are committed in the background, per
 * partition only as far as every write before is acknowledged. So a crash at any point means a
 * redelivery of what was in flight (at-least-once), never a loss. With batchSize 1 this is the
 * seed's one message at a time: each message its own processing time and write, in order per
 * partition.
 *
 * kafkajs calls eachBatch once per partition run of a fetch, concurrently (RUNS_IN_HAND); each
 * call joins the queue and waits until its run is acknowledged (its offsets resolved), so one
 * loop here takes batches across all of them, in the order they came, each partition in offset
 * order. kafkajs fetches again once every run of the fetch has returned. A pause, a rebalance,
 * a failed write, a seek or shutdown first settles the pipeline (every write in flight
 * acknowledged or failed, everything acknowledged committed), then gives the rest back: it is
 * fetched again (on resume, or by the partition's next owner) from the first message not
 * acknowledged.
 *
 * A write the downstream refuses is retried with the batch still in hand and the member
 * heartbeating, until it is accepted; it is given up (uncommitted, so redelivered) only when the
 * group rebalances or the consumer shuts down meanwhile.
 *
 * A poison record (dead-letter.ts: flagged poison, or not one of our orders) fails processing
 * every time: it is retried maxRetries times with backoff, the batch in hand and the member
 * heartbeating, then written to the dead letter topic, and the consumer moves on. The batch's good
 * records go to the sink in its one write; the batch counts as acknowledged once both writes are.
 */
export class Processor {
  processed = 0;
  batches = 0;
  /** Retries of poison records, one per record per retry. */
  retries = 0;
  deadLettered = 0;
  readonly deadLetterLog = new DeadLetterLog();
  lastProcessedAt: string | undefined;
  private readonly pipeline: WritePipeline;
  private readonly runs: Run[] = [];
  private looping = false;
  private loopDone: Promise<void> = Promise.resolve();
  private draining = false;
  /** The group rebalanced (a heartbeat failed) while runs were in hand: they go back. */
  private groupError: unknown = undefined;
  /** The member heartbeats while runs are in hand (kafkajs only heartbeats between calls). */
  private keepAlive: NodeJS.Timeout | undefined;

  constructor(
    readonly settings: ProcessorSettings,
    private readonly consumerId: string,
    private readonly downstream: SimulatedDownstream,
    commit: (offsets: Positioned[]) => Promise<void>,
    /** Paused by hand or by the downstream: no new batch is started. */
    private readonly isPaused: () => boolean,
    private readonly heartbeatIntervalMs: number,
    private readonly tracer: Tracer,
    private readonly metrics: ConsumerMetrics,
    private readonly logger: Logger,
    readonly deadLetterSink: TopicWriter,
  ) {
    this.pipeline = new WritePipeline(commit, (through) => this.acknowledgedThrough(through), () => this.kick(), logger);
  }

  /**
   * Finishes the batch in hand, settles the pipeline (its commits included) and starts no other
   * batch. kafkajs's disconnect does not wait for a running eachBatch, so without this a SIGTERM
   * could exit between sink write and commit.
   */
  async drain(): Promise<void> {
    this.draining = true;
    this.kick();
    await this.loopDone;
  }

  /** eachBatch: queues the partition's run and resolves once all of it is acknowledged. */
  readonly handle = (payload: EachBatchPayload): Promise<void> => {
    // Refused before any side effect: the messages stay uncommitted and go to another member.
    if (this.draining) return Promise.reject(new Error('consumer is shutting down'));
    const { topic, partition, messages } = payload.batch;
    return new Promise<void>((done, fail) => {
      this.runs.push({ topic, partition, messages, taken: 0, payload, done, fail });
      this.keepAlive ??= setInterval(() => this.heartbeatInHand(), Math.max(100, this.heartbeatIntervalMs / 2));
      this.kick();
    });
  };

  /** Starts the loop unless it runs; after the other runs of the same fetch have queued too, so the first batch can mix them. */
  private kick(): void {
    if (this.looping) return;
    this.looping = true;
    this.loopDone = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.loop());
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        await this.pipeline.room(this.settings.batchSize);
        const stop = this.stopReason();
        if (stop !== undefined) return await this.giveBack(stop.err);
        const open = this.runs.filter((r) => r.taken < r.messages.length);
        // Everything in hand is taken: the acknowledgements release the runs.
        if (open.length === 0) return;
        // Rate-limited by kafkajs; once the group rebalances it throws, before any side effect.
        try {
          await open[0]!.payload.heartbeat();
        } catch (err) {
          this.groupError ??= err;
          continue;
        }
        const counts = planBatch(
          open.map((r) => r.messages.length - r.taken),
          this.settings.batchSize,
        );
        // A run the batch would take from is revoked (a seek) or the client is stopping.
        if (open.some((r, i) => counts[i]! > 0 && (r.payload.isStale() || !r.payload.isRunning()))) return await this.giveBack(null);
        const taken = open.flatMap((r, i) => r.messages.slice(r.taken, r.taken + counts[i]!).map((message) => ({ topic: r.topic, partition: r.partition, message })));
        open.forEach((r, i) => (r.taken += counts[i]!));
        try {
          await this.process(taken);
        } catch (err) {
          return await this.giveBack(err);
        }
      }
    } finally {
      this.looping = false;
    }
  }

  /** Why the runs in hand go back now; `err` null gives them back without an error (fetched again as they are). */
  private stopReason(): { err: unknown } | undefined {
    if (this.pipeline.failure !== undefined) return { err: this.pipeline.failure };
    // Refused before any side effect: the rest stays uncommitted and goes to another member.
    if (this.draining) return { err: new Error('consumer is shutting down') };
    if (this.groupError !== undefined) return { err: this.groupError };
    // Paused: the rest stays unresolved and is fetched again on resume. A pause never
    // interrupts the batch in hand.
    if (this.isPaused()) return { err: null };
    return undefined;
  }

  /**
   * Settles the pipeline (every write in flight acknowledged or failed, what is acknowledged
   * resolved and committed), then returns every run still in hand: from its first message not
   * acknowledged on, it is fetched again.
   */
  private async giveBack(err: unknown): Promise<void> {
    await this.pipeline.settle();
    for (const run of [...this.runs]) this.release(run, err);
    this.pipeline.reset();
    this.groupError = undefined;
  }

  /** A partition's writes are acknowledged through `through`: resolved, and its run released once all of it is. */
  private acknowledgedThrough(through: Positioned): void {
    const run = this.runs.find((r) => r.topic === through.topic && r.partition === through.partition);
    if (run === undefined) return;
    run.payload.resolveOffset(through.offset);
    if (run.taken === run.messages.length && run.messages.at(-1)!.offset === through.offset) this.release(run, null);
  }

  private release(run: Run, err: unknown): void {
    const at = this.runs.indexOf(run);
    if (at < 0) return;
    this.runs.splice(at, 1);
    if (this.runs.length === 0) {
      clearInterval(this.keepAlive);
      this.keepAlive = undefined;
    }
    if (err === null) run.done();
    else run.fail(err);
  }

  /** A failed heartbeat (the group rebalances) sends the runs in hand back, after the pipeline settles. */
  private heartbeatInHand(): void {
    this.runs[0]?.payload.heartbeat().catch((err: unknown) => {
      this.groupError ??= err;
      this.kick();
    });
  }

  /**
   * The batch in line: its processing time, the retries of its poison records, and the
   * downstream's acceptance of its write; then its writes go to the pipeline and the loop moves on.
   * Throws (nothing handed over) when the batch is given up before that.
   */
  private async process(taken: Taken[]): Promise<void> {
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
    try {
      if (this.settings.processingTimeMs > 0) await sleep(this.settings.processingTimeMs);
      const delays = retryDelays(this.settings.maxRetries, this.settings.retryBackoffMs);
      const failed = await this.retryFailing(taken, delays);
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
      const deadLetters = dead.map(({ topic, partition, message, poison }) =>
        deadLetterOf(message, { error: poison.error, attempts, topic, partition, offset: message.offset, consumer: this.consumerId }),
      );
      // A batch of poison records alone has nothing for the downstream.
      const write = records.length > 0 ? await this.writeUntilAccepted(records) : undefined;
      const stored = Promise.all([write?.stored, this.deadLetterSink.write(deadLetters)]).then(() => {});
      this.pipeline.hand(
        taken.map(({ topic, partition, message }) => ({ topic, partition, offset: message.offset })),
        stored,
        () => this.acknowledged(taken.length, good, dead, attempts, started, spans),
        (err) => this.writeFailed(err, taken, spans),
      );
    } catch (err) {
      // Refused writes were counted per attempt in writeUntilAccepted.
      if (!(err instanceof DownstreamRejected)) this.metrics.errors.inc({ consumer: this.consumerId }, taken.length);
      this.batchFailed(err, taken, spans);
      throw err;
    }
  }

  /** A batch's writes are acknowledged: it counts as processed (its commit follows in the background). */
  private acknowledged(count: number, good: (Taken & { span: Span })[], dead: (Taken & { poison: Poison; span: Span })[], attempts: number, started: number, spans: Span[]): void {
    const seconds = (performance.now() - started) / 1000;
    // Each order in a batch took the batch's time, from its start to its acknowledgement.
    for (let i = 0; i < count; i++) this.metrics.processing.observe({ consumer: this.consumerId }, seconds);
    this.processed += good.length;
    this.batches += 1;
    this.lastProcessedAt = new Date().toISOString();
    for (const { topic } of good) this.metrics.consumed.inc({ consumer: this.consumerId, topic });
    this.metrics.batches.inc({ consumer: this.consumerId });
    this.metrics.rate.add(good.length);
    if (dead.length > 0) this.deadLettersWritten(dead, attempts);
    endAll(spans);
  }

  private writeFailed(err: unknown, taken: Taken[], spans: Span[]): void {
    this.metrics.errors.inc({ consumer: this.consumerId }, taken.length);
    this.batchFailed(err, taken, spans);
  }

  private batchFailed(err: unknown, taken: Taken[], spans: Span[]): void {
    for (const span of spans) span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
    endAll(spans);
    this.logger.warn(
      { err: err instanceof Error ? err.message : err, messages: taken.length, partitions: [...new Set(taken.map((t) => t.partition))] },
      'batch failed; it will be redelivered',
    );
  }

  /**
   * Processes each record of the batch (poisonOf), and retries those that fail after each of
   * `delays`, the member heartbeating meanwhile. Resolves with the ones that still fail, by their
   * index in `taken`. Gives up (the batch is redelivered) when the consumer is shutting down or
   * the group rebalances meanwhile.
   */
  private async retryFailing(taken: Taken[], delays: number[]): Promise<Map<number, Poison>> {
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
      if (this.groupError !== undefined) throw this.groupError;
      await sleep(delay);
      this.retries += failed.size;
      this.metrics.retries.inc({ consumer: this.consumerId }, failed.size);
      failed = attempt(failed.keys());
    }
    return failed;
  }

  /** Counts, logs and lists dead letters once both writes of their batch are acknowledged. */
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
   * Retries a write the downstream refused (nothing of it was stored) until it is accepted, and
   * resolves with it accepted, its store under way. Gives up, leaving the batch uncommitted for
   * redelivery, when the consumer is shutting down or the group rebalances meanwhile.
   */
  private async writeUntilAccepted(records: ProcessedRecord[]): Promise<AcceptedWrite> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.downstream.write(records);
      } catch (err) {
        if (!(err instanceof DownstreamRejected)) throw err;
        this.metrics.errors.inc({ consumer: this.consumerId }, records.length);
        if (this.draining) throw err;
        if (this.groupError !== undefined) throw this.groupError;
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
