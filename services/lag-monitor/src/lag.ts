/**
 * Lag, rates and status from offset samples. Pure: the poller feeds samples in, the routes and
 * metrics read snapshots out, and every rule here is table-tested without a broker.
 */

import { round, type ConsumerState } from '@bplab/kit';
import { publishedStates, type PublishedStates } from './consumer-states.js';

export type LagStatus = 'ok' | 'warning' | 'critical';
export const STATUS_LEVEL: Record<LagStatus, number> = { ok: 0, warning: 1, critical: 2 };

/** What one poll of Kafka's admin API returns. */
export interface OffsetSample {
  at: number;
  partitions: {
    partition: number;
    start_offset: number;
    end_offset: number;
    committed_offset: number | null;
    /**
     * The member id the partition is assigned to; null: assigned to nobody (an empty group, or a
     * stable group that left it out); absent: not known (the group is rebalancing, or its
     * assignment could not be read). See evaluate.ts.
     */
    owner?: string | null;
    /**
     * What the consumer that made the commit published with it (kit's consumer-state), if it
     * published anything; absent in samples built by hand.
     */
    consumer_state?: ConsumerState | null;
  }[];
  members: number;
  /** Each member's id and client id, in the order Kafka lists them. */
  member_list?: { member_id: string; client_id: string }[];
  group_state: string;
}

export interface PartitionLag {
  partition: number;
  start_offset: number;
  end_offset: number;
  /** null while the group has committed nothing on this partition. */
  committed_offset: number | null;
  lag: number;
  /** Seconds since the log end was where the group's commit is now (kafka-lag-exporter style). */
  lag_seconds: number;
}

export interface Thresholds {
  lagWarning: number;
  lagCritical: number;
  /** Lag growth, in messages per second, that is a warning whatever the lag. */
  rateWarning: number;
}

export interface LagSnapshot extends PublishedStates {
  timestamp: string;
  total_lag: number;
  /** The largest per-partition time lag: how old the oldest unprocessed order is, roughly. */
  lag_seconds: number;
  partitions: PartitionLag[];
  partition_count: number;
  status: LagStatus;
  /** Lag change per second over the rate window; null until two samples span some time. */
  rate_of_change: number | null;
  production_rate: number | null;
  consumption_rate: number | null;
  members: number;
  group_state: string;
}

/**
 * With no commit yet, the group will start from the earliest offset (our consumers use
 * fromBeginning), so everything from the partition's start offset is lag.
 */
export function effectiveCommitted(p: OffsetSample['partitions'][number]): number {
  return p.committed_offset ?? p.start_offset;
}

export function partitionLag(p: OffsetSample['partitions'][number]): number {
  return Math.max(0, p.end_offset - effectiveCommitted(p));
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const totalEnd = (s: OffsetSample) => sum(s.partitions.map((p) => p.end_offset));
const totalCommitted = (s: OffsetSample) => sum(s.partitions.map(effectiveCommitted));
const totalLag = (s: OffsetSample) => sum(s.partitions.map(partitionLag));

export interface Rates {
  production_rate: number;
  consumption_rate: number;
  rate_of_change: number;
}

/**
 * Rates over the oldest sample still inside the window and the newest one: a straight slope,
 * smoothed by the window's length. Null with fewer than two samples, never a rate against a
 * made-up zero.
 */
export function rates(samples: OffsetSample[], windowMs: number): Rates | null {
  const latest = samples.at(-1);
  if (!latest) return null;
  const oldest = samples.find((s) => latest.at - s.at <= windowMs && s.at < latest.at);
  if (!oldest) return null;
  const seconds = (latest.at - oldest.at) / 1000;
  return {
    production_rate: round(Math.max(0, totalEnd(latest) - totalEnd(oldest)) / seconds),
    consumption_rate: round(Math.max(0, totalCommitted(latest) - totalCommitted(oldest)) / seconds),
    rate_of_change: round((totalLag(latest) - totalLag(oldest)) / seconds),
  };
}

export function evaluateStatus(lag: number, rateOfChange: number | null, t: Thresholds): LagStatus {
  if (lag >= t.lagCritical) return 'critical';
  if (lag >= t.lagWarning) return 'warning';
  if (rateOfChange !== null && rateOfChange > t.rateWarning) return 'warning';
  return 'ok';
}

/**
 * Time lag of one partition: when did the log end first reach the offset the group has
 * committed now? The samples hold (time, end offset) pairs; between two of them we interpolate.
 * A commit older than every sample is at least as old as the oldest sample.
 */
export function partitionLagSeconds(samples: OffsetSample[], partition: number, committed: number, now: number): number {
  const ends = samples.flatMap((s) => {
    const p = s.partitions.find((x) => x.partition === partition);
    return p ? [{ at: s.at, end: p.end_offset }] : [];
  });
  const latest = ends.at(-1);
  if (!latest || committed >= latest.end) return 0;
  let reachedAt = ends[0]!.at;
  for (let i = ends.length - 1; i > 0; i--) {
    const after = ends[i]!;
    const before = ends[i - 1]!;
    if (before.end <= committed && committed < after.end) {
      // The log end passed `committed` between these two samples: interpolate linearly.
      const fraction = (committed - before.end) / (after.end - before.end);
      reachedAt = before.at + fraction * (after.at - before.at);
      break;
    }
  }
  return round(Math.max(0, now - reachedAt) / 1000);
}

export function snapshot(samples: OffsetSample[], thresholds: Thresholds, rateWindowMs: number): LagSnapshot {
  const latest = samples.at(-1);
  if (!latest) throw new Error('snapshot needs at least one sample');
  const partitions = latest.partitions
    .map((p) => ({
      partition: p.partition,
      start_offset: p.start_offset,
      end_offset: p.end_offset,
      committed_offset: p.committed_offset,
      lag: partitionLag(p),
      lag_seconds: partitionLagSeconds(samples, p.partition, effectiveCommitted(p), latest.at),
    }))
    .sort((a, b) => a.partition - b.partition);
  const lag = sum(partitions.map((p) => p.lag));
  const r = rates(samples, rateWindowMs);
  return {
    timestamp: new Date(latest.at).toISOString(),
    total_lag: lag,
    lag_seconds: Math.max(0, ...partitions.map((p) => p.lag_seconds)),
    partitions,
    partition_count: partitions.length,
    status: evaluateStatus(lag, r?.rate_of_change ?? null, thresholds),
    rate_of_change: r?.rate_of_change ?? null,
    production_rate: r?.production_rate ?? null,
    consumption_rate: r?.consumption_rate ?? null,
    members: latest.members,
    group_state: latest.group_state,
    ...publishedStates(latest),
  };
}
