import { retryUntilDone, type Consumer, type EachMessagePayload, type Logger } from '@bplab/kit';
import type { ConsumerMetrics } from './metrics.js';

export interface GroupState {
  member_id: string | null;
  assigned_partitions: number[];
  rebalances: number;
  paused: boolean;
  running: boolean;
  last_error: string | null;
}

/**
 * The consumer's membership in its group. Pause and resume use the client's own pause/resume,
 * which stops fetching but keeps heartbeating: a paused consumer stays in the group however long
 * it is paused, so pausing one consumer never triggers a rebalance.
 */
export class GroupConsumer {
  readonly state: GroupState = { member_id: null, assigned_partitions: [], rebalances: 0, paused: false, running: false, last_error: null };
  private stopped = false;

  constructor(
    private readonly consumer: Consumer,
    private readonly topic: string,
    private readonly consumerId: string,
    private readonly metrics: ConsumerMetrics,
    private readonly logger: Logger,
    private readonly work: {
      /** Processes one message: eachMessage. */
      handle: (payload: EachMessagePayload) => Promise<void>;
      /** Runs before each connect attempt (connects the sink). */
      prepare: () => Promise<void>;
      /** Finishes the message in hand before the group is left. */
      drain: () => Promise<void>;
    },
  ) {
    const { GROUP_JOIN, CRASH, STOP } = consumer.events;
    consumer.on(GROUP_JOIN, ({ payload }) => {
      this.state.member_id = payload.memberId;
      this.state.assigned_partitions = [...(payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
      this.state.rebalances += 1;
      this.state.running = true;
      this.metrics.rebalances.inc({ consumer: consumerId });
      this.metrics.assigned.set({ consumer: consumerId }, this.state.assigned_partitions.length);
      this.logger.info({ memberId: payload.memberId, partitions: this.state.assigned_partitions }, 'joined group');
      // A rejoin after a crash restart starts unpaused; keep the user's pause.
      if (this.state.paused) consumer.pause([{ topic }]);
    });
    consumer.on(CRASH, ({ payload }) => {
      this.state.running = false;
      this.state.last_error = payload.error.message;
      this.logger.warn({ err: payload.error.message, restart: payload.restart }, 'consumer crashed');
      if (!payload.restart && !this.stopped) void this.start();
    });
    consumer.on(STOP, () => {
      this.state.running = false;
    });
  }

  /**
   * Connects (after `prepare`) and subscribes, retrying until the broker answers; the HTTP API is
   * up meanwhile and /health says why consumption has not started.
   */
  async start(): Promise<void> {
    await retryUntilDone(
      'start consuming',
      async () => {
        await this.work.prepare();
        await this.consumer.connect();
        // A group with no commit starts at the earliest offset, so no order is ever skipped.
        await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
        await this.consumer.run({ autoCommit: false, partitionsConsumedConcurrently: 1, eachMessage: this.work.handle });
        this.state.last_error = null;
      },
      this.logger,
      () => this.stopped,
      async (err) => {
        this.state.last_error = err.message;
        await this.consumer.disconnect().catch(() => {});
      },
    );
  }

  setPaused(paused: boolean): void {
    this.state.paused = paused;
    this.metrics.paused.set({ consumer: this.consumerId }, paused ? 1 : 0);
    if (paused) this.consumer.pause([{ topic: this.topic }]);
    else this.consumer.resume([{ topic: this.topic }]);
  }

  /** Finishes the message in hand (its commit included) and leaves the group. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.work.drain();
    await this.consumer.disconnect();
    this.state.assigned_partitions = [];
    this.metrics.assigned.set({ consumer: this.consumerId }, 0);
  }
}
