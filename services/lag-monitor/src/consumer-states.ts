import { PausedBy, type ConsumerState } from '@bplab/kit';
import type { OffsetSample } from './lag.js';

/**
 * What the consumers published in their commits' metadata (kit's consumer-state), trusted only
 * while the member that published it still owns the partition: after a rebalance the old state
 * stays beside the offset until the new owner commits, and it speaks for a member that is gone.
 * Pure.
 */
export function trustedState(p: OffsetSample['partitions'][number]): ConsumerState | null {
  const state = p.consumer_state;
  if (!state || typeof p.owner !== 'string') return null;
  return state.member === p.owner ? state : null;
}

export interface PublishedStates {
  /** Partitions whose owner has paused itself, by who holds the pause. */
  paused_partitions: Record<PausedBy, number[]>;
  /** The largest batch size the owners publish: at most this many per member are in hand; 1 when none is known. */
  batch_size: number;
}

export function publishedStates(sample: OffsetSample): PublishedStates {
  const paused: Record<PausedBy, number[]> = { [PausedBy.manual]: [], [PausedBy.downstream]: [] };
  let batchSize = 1;
  for (const p of [...sample.partitions].sort((a, b) => a.partition - b.partition)) {
    const state = trustedState(p);
    if (!state) continue;
    if (state.paused_by !== null) paused[state.paused_by].push(p.partition);
    batchSize = Math.max(batchSize, state.batch_size);
  }
  return { paused_partitions: paused, batch_size: batchSize };
}
