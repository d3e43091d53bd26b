import type { Logger } from '@bplab/kit';
import { AckTracker, type Positioned } from './ack-tracker.js';

/**
 * At most this many messages taken and not yet acknowledged: two of the largest batches, so one
 * batch's write can be in flight while the next is processed.
 */
export const MAX_UNACKNOWLEDGED = 2_000;

/**
 * The consumer's writes between processing and commit. The processor hands over each batch as
 * soon as the downstream has accepted it and goes on with the next one; the batch's sink write is
 * acknowledged (acks=all) in the background. Offsets are committed in the background too, one
 * commit at a time, each carrying everything acknowledged by then: per partition the end of the
 * acknowledged prefix (ack-tracker.ts), so never an offset whose write is not acknowledged. At one
 * message per processing time that is a commit right after each write; flat out it is one commit
 * per commit round trip, whatever the rate.
 *
 * A write that fails is never acknowledged: its partition commits no further, and the processor,
 * told through onFailure, settles the pipeline and gives its messages back for redelivery.
 */
export class WritePipeline {
  private readonly tracker = new AckTracker();
  /** Batches handed over whose write has not settled (acknowledged or failed). */
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private commitWanted = false;
  private committing = false;
  private commits: Promise<void> = Promise.resolve();
  /** The first write that failed since the last reset. */
  failure: unknown = undefined;

  constructor(
    private readonly commit: (offsets: Positioned[]) => Promise<void>,
    /** A partition's acknowledged prefix moved: the offset it now ends at (resolvable, and soon committed). */
    private readonly onAcknowledged: (through: Positioned) => void,
    private readonly onFailure: (err: unknown) => void,
    private readonly logger: Logger,
    private readonly maxUnacknowledged = MAX_UNACKNOWLEDGED,
  ) {}

  /** Messages taken whose write is not acknowledged yet. */
  get unacknowledged(): number {
    return this.tracker.unacknowledged;
  }

  /** Waits until `count` more messages fit under the bound (a batch always fits an empty pipeline). */
  async room(count: number): Promise<void> {
    while (this.tracker.unacknowledged > 0 && this.tracker.unacknowledged + count > this.maxUnacknowledged) await this.nextSettle();
  }

  /**
   * A batch whose write has started: `messages` in the order taken, `stored` settling with Kafka's
   * acknowledgement. `acknowledged` runs first when it succeeds, `failed` when it does not.
   */
  hand(messages: readonly Positioned[], stored: Promise<void>, acknowledged: () => void, failed: (err: unknown) => void): void {
    this.tracker.take(messages);
    this.inFlight += 1;
    stored.then(
      () => {
        acknowledged();
        for (const through of this.tracker.acknowledge(messages)) this.onAcknowledged(through);
        this.settled();
        this.requestCommit();
      },
      (err: unknown) => {
        failed(err);
        this.failure ??= err;
        this.settled();
        this.onFailure(err);
      },
    );
  }

  /**
   * Waits until every write handed over has settled, then commits everything acknowledged. What
   * the processor does before it gives messages back: at a pause, a rebalance, a failed write and
   * shutdown.
   */
  async settle(): Promise<void> {
    while (this.inFlight > 0) await this.nextSettle();
    this.requestCommit();
    await this.commits;
  }

  /** Forgets every message: only once settled, with nothing taken left in hand. */
  reset(): void {
    this.tracker.clear();
    this.failure = undefined;
  }

  private nextSettle(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private settled(): void {
    this.inFlight -= 1;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** One commit at a time; whatever is acknowledged meanwhile goes in the next. */
  private requestCommit(): void {
    this.commitWanted = true;
    if (this.committing) return;
    this.committing = true;
    this.commits = this.commitLoop();
  }

  private async commitLoop(): Promise<void> {
    try {
      while (this.commitWanted) {
        this.commitWanted = false;
        const offsets = this.tracker.toCommit();
        if (offsets.length === 0) continue;
        try {
          await this.commit(offsets);
          this.tracker.committed(offsets);
        } catch (err) {
          // The next acknowledgement (or settle) tries again; if the group is rebalancing, these
          // messages go to the partitions' next owners: redelivered, never lost.
          this.logger.warn({ err: err instanceof Error ? err.message : err, offsets }, 'offset commit failed; the next one carries these offsets');
        }
      }
    } finally {
      this.committing = false;
    }
  }
}
