import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { contextFromHeaders, type EachMessagePayload, type Logger } from '@bplab/kit';
import type { ConsumerMetrics } from './metrics.js';
import { orderIdOf } from './order-id.js';
import type { KafkaSink } from './sink.js';

export interface ProcessorSettings {
  processingTimeMs: number;
}

/**
 * Handles one message: simulated work, sink write, then commit of exactly this offset. The commit
 * comes last, so a crash at any point means a redelivery (at-least-once), never a loss.
 */
export class Processor {
  processed = 0;
  lastProcessedAt: string | undefined;
  private inHand: Promise<void> | undefined;
  private draining = false;

  constructor(
    readonly settings: ProcessorSettings,
    private readonly consumerId: string,
    private readonly sink: KafkaSink,
    private readonly commit: (topic: string, partition: number, nextOffset: string) => Promise<void>,
    private readonly tracer: Tracer,
    private readonly metrics: ConsumerMetrics,
    private readonly logger: Logger,
  ) {}

  /**
   * Finishes the message in hand and takes no more. kafkajs's disconnect does not wait for a
   * running eachMessage, so without this a SIGTERM could exit between sink write and commit.
   */
  async drain(): Promise<void> {
    this.draining = true;
    await this.inHand?.catch(() => {});
  }

  readonly handle = async (payload: EachMessagePayload): Promise<void> => {
    // Refused before any side effect: the message stays uncommitted and goes to another member.
    if (this.draining) throw new Error('consumer is shutting down');
    this.inHand = this.process(payload);
    await this.inHand;
  };

  private async process({ topic, partition, message }: EachMessagePayload): Promise<void> {
    // The producer's span is the parent: one trace runs from POST /produce to the sink write.
    const parent = contextFromHeaders(message.headers);
    const span = this.tracer.startSpan(
      `${topic} process`,
      {
        kind: SpanKind.CONSUMER,
        attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': topic, 'messaging.kafka.destination.partition': partition, 'messaging.kafka.message.offset': message.offset },
      },
      parent,
    );
    const stopTimer = this.metrics.processing.startTimer({ consumer: this.consumerId });
    const orderId = orderIdOf(message.value, partition, message.offset);
    try {
      if (this.settings.processingTimeMs > 0) await sleep(this.settings.processingTimeMs);
      const traceId = span.spanContext().traceId;
      await this.sink.write({
        order_id: orderId,
        consumer: this.consumerId,
        partition,
        offset: message.offset,
        processed_at: new Date().toISOString(),
        ...(span.isRecording() ? { trace_id: traceId } : {}),
      });
      await this.commit(topic, partition, (BigInt(message.offset) + 1n).toString());
      stopTimer();
      this.processed += 1;
      this.lastProcessedAt = new Date().toISOString();
      this.metrics.consumed.inc({ consumer: this.consumerId, topic });
      this.metrics.rate.add(1);
    } catch (err) {
      this.metrics.errors.inc({ consumer: this.consumerId });
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
      this.logger.warn({ err: err instanceof Error ? err.message : err, partition, offset: message.offset }, 'message failed; it will be redelivered');
      throw err;
    } finally {
      span.end();
    }
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
