/**
 * Batch processing, the pure part: how the consumer cuts what it fetched into batches, and how
 * long it waits before retrying a refused write. No I/O, no clock.
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

/**
 * The wait before retrying a write the downstream refused: 100 ms, doubling, at most 2 s, so a
 * short blip costs little and an outage is not hammered.
 */
export function retryDelayMs(attempt: number): number {
  return Math.min(2000, 100 * 2 ** Math.max(0, attempt));
}
