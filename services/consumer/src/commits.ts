import { encodeConsumerState, type Admin, type Consumer, type ConsumerState, type Logger } from '@bplab/kit';

export interface OffsetToCommit {
  topic: string;
  partition: number;
  offset: string;
}

/**
 * Every offset commit of this consumer, one at a time, each carrying the consumer's published
 * state (kit's consumer-state) in its metadata: the processor's commits, and a re-commit of the
 * assigned partitions' current offsets when the state changes (a pause, a resume, a rejoin while
 * paused), so the lag monitor sees the change without waiting for a commit that a paused consumer
 * never makes. One queue, so a re-commit (fetch, then commit the same offsets) can never land
 * after a newer commit of the processor and move an offset back.
 */
export class Commits {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly consumer: Consumer,
    private readonly admin: Admin,
    private readonly groupId: string,
    private readonly topic: string,
    private readonly state: () => ConsumerState,
    private readonly logger: Logger,
  ) {}

  /** The processor's commit: offsets whose sink writes are acknowledged. */
  commit(offsets: OffsetToCommit[]): Promise<void> {
    return this.enqueue(() => this.consumer.commitOffsets(offsets.map((o) => ({ ...o, metadata: this.metadata() }))));
  }

  /**
   * Re-commits the partitions' committed offsets with the current state. A partition with no
   * commit yet gets its log start, where this group (fromBeginning) would begin anyway. Best
   * effort: during a rebalance the commit is refused, and the next group join publishes again.
   */
  publish(partitions: number[]): Promise<void> {
    if (partitions.length === 0) return Promise.resolve();
    return this.enqueue(async () => {
      await this.admin.connect();
      const [committed] = await this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] });
      const offsets = new Map((committed?.partitions ?? []).map((p) => [p.partition, p.offset]));
      const missing = partitions.filter((p) => Number(offsets.get(p) ?? -1) < 0);
      if (missing.length > 0) for (const p of await this.admin.fetchTopicOffsets(this.topic)) if (missing.includes(p.partition)) offsets.set(p.partition, p.low);
      const metadata = this.metadata();
      await this.consumer.commitOffsets(partitions.map((partition) => ({ topic: this.topic, partition, offset: offsets.get(partition)!, metadata })));
    }).catch((err: unknown) => {
      this.logger.warn({ err: err instanceof Error ? err.message : err, partitions }, 'could not publish the consumer state; the next group join will');
    });
  }

  async close(): Promise<void> {
    await this.queue;
    await this.admin.disconnect().catch(() => {});
  }

  private metadata(): string {
    return encodeConsumerState(this.state());
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => {});
    return run;
  }
}
