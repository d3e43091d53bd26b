/**
 * "How many consumers would I need if ...": the operator's capacity rule on inputs the caller
 * chooses, each falling back to what the monitor measured. Pure. The arithmetic is the kit's
 * requiredRate and consumersNeeded, the very functions the operator's capacity rule and the
 * recommendations call, so the three cannot disagree.
 */

import { consumersNeeded, maxThroughputPerSec, requiredRate, round } from '@bplab/kit';

export interface WhatIfQuery {
  /** Messages per second arriving; default: the measured production rate. */
  production_rate?: number;
  /** Processing time per message; a consumer then does 1000 / processing_ms msg/s (one at a time). Default: the measured per-consumer rate. */
  processing_ms?: number;
  /** How fast the backlog should drain; default: DRAIN_TARGET_SECONDS. */
  drain_seconds?: number;
}

export interface WhatIfContext {
  backlog: number;
  partitions: number;
  measuredProductionRate: number | null;
  /** LagTracker.perConsumerRate: measured while the consumers were saturated; null before that. */
  measuredPerConsumerRate: number | null;
  drainTargetSeconds: number;
}

export const WhatIfSource = { query: 'query', measured: 'measured', config: 'config' } as const;
export type WhatIfSourceName = (typeof WhatIfSource)[keyof typeof WhatIfSource];

export interface WhatIf {
  inputs: { production_rate: number; processing_ms: number | null; drain_seconds: number; backlog: number };
  /** Where each input came from: the query, a measurement, or the monitor's config. */
  sources: { production_rate: WhatIfSourceName; per_consumer_rate: WhatIfSourceName | null; drain_seconds: WhatIfSourceName; backlog: WhatIfSourceName };
  /** Messages per second one consumer does; null when neither given nor measured. */
  per_consumer_rate: number | null;
  /** Messages per second the group must do: arrivals plus the backlog over the drain time. */
  required_rate: number;
  /** The kit's consumersNeeded, before the partition cap; null without a per-consumer rate. */
  consumers_needed: number | null;
  /** What to run: consumers_needed, at most one per partition. */
  consumers: number | null;
  partitions: number;
  capped_by_partitions: boolean;
  reason: string;
}

/** Messages per second of a consumer that takes processing_ms per message, one at a time. */
export const ratePerConsumer = (processingMs: number): number => maxThroughputPerSec({ batchSize: 1, processingTimeMs: processingMs, downstreamLatencyMs: 0 })!;

export function whatIf(query: WhatIfQuery, ctx: WhatIfContext): WhatIf {
  const production = query.production_rate ?? ctx.measuredProductionRate ?? 0;
  const drainSeconds = query.drain_seconds ?? ctx.drainTargetSeconds;
  const perConsumer = query.processing_ms !== undefined ? ratePerConsumer(query.processing_ms) : ctx.measuredPerConsumerRate;
  const load = { arrivalRate: production, backlog: ctx.backlog, drainSeconds };
  const required = requiredRate(load);
  const base = {
    inputs: { production_rate: production, processing_ms: query.processing_ms ?? null, drain_seconds: drainSeconds, backlog: ctx.backlog },
    sources: {
      production_rate: query.production_rate !== undefined ? WhatIfSource.query : WhatIfSource.measured,
      per_consumer_rate: query.processing_ms !== undefined ? WhatIfSource.query : perConsumer !== null ? WhatIfSource.measured : null,
      drain_seconds: query.drain_seconds !== undefined ? WhatIfSource.query : WhatIfSource.config,
      backlog: WhatIfSource.measured,
    },
    required_rate: round(required),
    partitions: ctx.partitions,
  };
  const sum = `(${round(production)} msg/s + lag ${ctx.backlog} / ${drainSeconds} s) = ${round(required)} msg/s`;
  if (perConsumer === null || !(perConsumer > 0)) {
    return {
      ...base,
      per_consumer_rate: null,
      consumers_needed: null,
      consumers: null,
      capped_by_partitions: false,
      reason: `${sum}, but no per-consumer rate: pass processing_ms, or wait until the monitor has measured saturated consumers`,
    };
  }
  const needed = consumersNeeded(load, perConsumer);
  const capped = needed > ctx.partitions;
  const consumers = Math.min(needed, ctx.partitions);
  const reason = capped
    ? `${sum} / ${round(perConsumer)} msg/s per consumer needs ${needed}, but ${ctx.partitions} partitions allow ${ctx.partitions} busy consumers (${round(ctx.partitions * perConsumer)} msg/s): add partitions, speed processing up or throttle the producer`
    : `${sum} / ${round(perConsumer)} msg/s per consumer needs ${needed}`;
  return { ...base, per_consumer_rate: round(perConsumer), consumers_needed: needed, consumers, capped_by_partitions: capped, reason };
}
