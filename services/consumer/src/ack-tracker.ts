/**
 * Pipelined writes, the pure part: which messages the consumer has taken and which of their sink
 * writes Kafka has acknowledged, per partition in the order taken (offset order), and how far
 * each partition may commit: through the end of its acknowledged prefix, never past a message
 * whose write is not acknowledged, however many later ones are. No I/O, no clock.
 */

/** A message's place: what a commit and a resolved offset need of it. */
export interface Positioned {
  topic: string;
  partition: number;
  offset: string;
}

interface PartitionState {
  topic: string;
  partition: number;
  /** Taken and not yet in the acknowledged prefix, oldest first, from `head` on. */
  queue: { offset: bigint; acknowledged: boolean }[];
  head: number;
  /** The highest offset taken, so that every next one is checked to come later. */
  lastTaken: bigint | null;
  /** The last offset of the acknowledged prefix: every message taken up to it is acknowledged. */
  acknowledgedThrough: bigint | null;
  /** The offset the group has committed (the next to read), as far as this tracker knows. */
  committed: bigint | null;
}

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** The entry of a message taken and not acknowledged yet; acknowledgements mostly come in order, so near the head. */
function waitingAt(state: PartitionState, offset: bigint): PartitionState['queue'][number] | undefined {
  for (let i = state.head; i < state.queue.length; i++) {
    const entry = state.queue[i]!;
    if (entry.offset === offset) return entry.acknowledged ? undefined : entry;
    if (entry.offset > offset) return undefined;
  }
  return undefined;
}

export class AckTracker {
  private readonly partitions = new Map<string, PartitionState>();
  private pending = 0;

  /** Messages taken whose write is not acknowledged yet. */
  get unacknowledged(): number {
    return this.pending;
  }

  /**
   * Messages taken for processing, each partition's in offset order. A partition that starts
   * again at or below an offset it had taken (the group rebalanced, or a fetch went back after a
   * failed write) starts over; it must have nothing unacknowledged then.
   */
  take(messages: readonly Positioned[]): void {
    for (const { topic, partition, offset } of messages) {
      const at = BigInt(offset);
      let state = this.partitions.get(keyOf(topic, partition));
      if (state !== undefined && state.lastTaken !== null && at <= state.lastTaken) {
        if (state.queue.length > state.head) throw new Error(`partition ${topic}/${partition} went back to offset ${offset} with writes unacknowledged`);
        state = undefined;
      }
      if (state === undefined) {
        state = { topic, partition, queue: [], head: 0, lastTaken: null, acknowledgedThrough: null, committed: null };
        this.partitions.set(keyOf(topic, partition), state);
      }
      state.queue.push({ offset: at, acknowledged: false });
      state.lastTaken = at;
      this.pending += 1;
    }
  }

  /**
   * Their writes are acknowledged. Returns, per partition whose acknowledged prefix moved, the
   * prefix's new last offset: what the consumer may resolve (and later commit) there.
   */
  acknowledge(messages: readonly Positioned[]): Positioned[] {
    const touched = new Set<PartitionState>();
    for (const { topic, partition, offset } of messages) {
      const state = this.partitions.get(keyOf(topic, partition));
      const at = BigInt(offset);
      const entry = state === undefined ? undefined : waitingAt(state, at);
      if (state === undefined || entry === undefined) throw new Error(`offset ${offset} of ${topic}/${partition} is not waiting for an acknowledgement`);
      entry.acknowledged = true;
      this.pending -= 1;
      touched.add(state);
    }
    const moved: Positioned[] = [];
    for (const state of touched) {
      const before = state.head;
      while (state.head < state.queue.length && state.queue[state.head]!.acknowledged) {
        state.acknowledgedThrough = state.queue[state.head]!.offset;
        state.head += 1;
      }
      if (state.head === before) continue;
      // Drop the acknowledged prefix once it outweighs what is still waiting.
      if (state.head * 2 >= state.queue.length) {
        state.queue.splice(0, state.head);
        state.head = 0;
      }
      moved.push({ topic: state.topic, partition: state.partition, offset: String(state.acknowledgedThrough) });
    }
    return moved;
  }

  /**
   * What to commit now: per partition whose acknowledged prefix is past its last commit, the
   * prefix's last offset + 1 (the next message to read). In partition order.
   */
  toCommit(): Positioned[] {
    return [...this.partitions.values()]
      .filter((s) => s.acknowledgedThrough !== null && (s.committed === null || s.acknowledgedThrough + 1n > s.committed))
      .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))
      .map((s) => ({ topic: s.topic, partition: s.partition, offset: String(s.acknowledgedThrough! + 1n) }));
  }

  /** The group has these offsets committed (toCommit's entries, once the commit succeeded). */
  committed(offsets: readonly Positioned[]): void {
    for (const { topic, partition, offset } of offsets) {
      const state = this.partitions.get(keyOf(topic, partition));
      const at = BigInt(offset);
      if (state !== undefined && (state.committed === null || at > state.committed)) state.committed = at;
    }
  }

  /** Forgets everything: once every write has settled and nothing taken is in hand any more. */
  clear(): void {
    this.partitions.clear();
    this.pending = 0;
  }
}
