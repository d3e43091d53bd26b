/**
 * Batch processing, the pure part: how the consumer cuts what it fetched into batches, what one
 * batch commits, and the throughput that follows. No I/O, no clock.
 */

/** The largest batch POST /config and BATCH_SIZE accept. */
export const MAX_BATCH_SIZE = 1000;

/** How the consumer takes its messages: one at a time (the seed's mode) or batch_size at a time. */
export const ProcessingMode = { single: 'single', batch: 'batch' } as const;
export type ProcessingMode = (typeof ProcessingMode)[keyof typeof ProcessingMode];

export function modeOf(batchSize: number): ProcessingMode {
  return batchSize > 1 ? ProcessingMode.batch : ProcessingMode.single;
}

/**
 * The next batch across the runs kafkajs fetched (one run per partition): how many messages to
 * take from each run, in run order, each from where it stopped, up to `size` in all (at least
 * one). A batch fills from several partitions, so batch_size x 1000 / processing_ms holds whenever
 * the consumer has batch_size messages waiting in all, not batch_size in each partition.
 */
export function planBatch(remaining: readonly number[], size: number): number[] {
  let left = Math.max(1, Math.floor(size));
  return remaining.map((r) => {
    const take = Math.max(0, Math.min(r, left));
    left -= take;
    return take;
  });
}

/** What a commit needs of a message. */
export interface Positioned {
  topic: string;
  partition: number;
  offset: string;
}

/**
 * The offsets one batch commits: per topic-partition, the batch's last (highest) offset + 1, the
 * next message to read. One entry per partition, in partition order.
 */
export function commitsFor(batch: readonly Positioned[]): Positioned[] {
  const highest = new Map<string, Positioned>();
  for (const m of batch) {
    const key = `${m.topic}\u0000${m.partition}`;
    const seen = highest.get(key);
    if (seen === undefined || BigInt(m.offset) > BigInt(seen.offset)) highest.set(key, m);
  }
  return [...highest.values()]
    .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))
    .map((m) => ({ topic: m.topic, partition: m.partition, offset: (BigInt(m.offset) + 1n).toString() }));
}

/**
 * The wait before retrying a write the downstream refused: 100 ms, doubling, at most 2 s, so a
 * short blip costs little and an outage is not hammered.
 */
export function retryDelayMs(attempt: number): number {
  return Math.min(2000, 100 * 2 ** Math.max(0, attempt));
}
