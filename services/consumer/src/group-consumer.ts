import { PausedBy, retryUntilDone, type Consumer, type Logger } from '@bplab/kit';
import type { EachBatchPayload } from 'kafkajs';
import type { ConsumerMetrics } from './metrics.js';
import { RUNS_IN_HAND } from './processor.js';

export interface GroupState {
  member_id: string | null;
  assigned_partitions: number[];
  rebalances: number;
  paused: boolean;
  /** Null while consuming; a manual pause wins over the downstream's when both hold. */
  paused_by: PausedBy | null;
  running: boolean;
  last_error: string | null;
}

/**
 * The consumer's membership in its group. Pause and resume use the client's own pause/resume,
 * which stops fetching but keeps heartbeating: a paused consumer stays in the group however long
 * it is paused, so pausing one consumer never triggers a rebalance.
 */
export class GroupConsumer {
  readonly state: GroupState = { member_id: null, assigned_partitions: [], rebalances: 0, paused: false, paused_by: null, running: false, last_error: null };
  private stopped = false;
  /** Each holder's pause; consumption is paused while either holds. */
  private readonly holds: Record<PausedBy, boolean> = { manual: false, downstream: false };

  constructor(
    private readonly consumer: Consumer,
    private readonly topic: string,
    private readonly consumerId: string,
    private readonly metrics: ConsumerMetrics,
    private readonly logger: Logger,
    private readonly work: {
      /** Takes one partition's fetched run and resolves once it is processed: eachBatch. */
      handle: (payload: EachBatchPayload) => Promise<void>;
      /** Runs before each connect attempt (connects the sink). */
      prepare: () => Promise<void>;
      /** Finishes the batch in hand before the group is left. */
      drain: () => Promise<void>;
      /** Publishes the state (paused or not) on these partitions' commits (commits.ts); never throws. */
      publishState: (partitions: number[]) => Promise<void>;
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
      // A rejoin after a crash restart starts unpaused; keep the user's (or the downstream's) pause,
      // and say so on the partitions this member holds now.
      if (this.state.paused) {
        consumer.pause([{ topic }]);
        void this.work.publishState(this.state.assigned_partitions);
      }
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
        // eachBatch without auto-resolve: the handler resolves (and commits) only what its sink
        // write has stored, a batch at a time; whatever it leaves is fetched again. Every
        // partition's run of a fetch is handed over at once, so one batch can span partitions.
        await this.consumer.run({ autoCommit: false, partitionsConsumedConcurrently: RUNS_IN_HAND, eachBatchAutoResolve: false, eachBatch: this.work.handle });
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

  /**
   * Sets one holder's pause. Consumption is paused while either holds it; paused_by names the
   * manual one first. A resume while the client restarts after a crash cannot reach it, but a
   * restarted client starts unpaused and GROUP_JOIN re-applies a pause, so the state still wins.
   */
  setPaused(by: PausedBy, paused: boolean): void {
    this.holds[by] = paused;
    const effective = this.holds.manual || this.holds.downstream;
    const before = this.state.paused_by;
    this.state.paused = effective;
    this.state.paused_by = this.holds.manual ? PausedBy.manual : this.holds.downstream ? PausedBy.downstream : null;
    if (this.state.paused_by !== before && this.state.running) void this.work.publishState(this.state.assigned_partitions);
    this.metrics.paused.set({ consumer: this.consumerId }, effective ? 1 : 0);
    try {
      if (effective) this.consumer.pause([{ topic: this.topic }]);
      else this.consumer.resume([{ topic: this.topic }]);
    } catch (err) {
      this.logger.warn({ err: err instanceof Error ? err.message : err, paused: effective }, 'the client is not running; its next group join applies the pause state');
    }
  }

  /** Finishes the batch in hand (its commit included) and leaves the group. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.work.drain();
    await this.consumer.disconnect();
    this.state.assigned_partitions = [];
    this.metrics.assigned.set({ consumer: this.consumerId }, 0);
  }
}
