/**
 * When will the backlog be gone? Lag divided by how much faster the group consumes than the
 * topic grows, over the rate window. Pure.
 */

import { round } from '@bplab/kit';

export const DrainStatus = {
  /** No lag: nothing to drain. */
  caughtUp: 'caught_up',
  /** Consumption outpaces production: drain_seconds says when lag reaches 0 at these rates. */
  draining: 'draining',
  /** Lag and consumption no faster than production: it will not drain at these rates. */
  notDraining: 'not_draining',
  /** No rates yet (one sample, or a gap longer than the rate window). */
  unknown: 'unknown',
} as const;
export type DrainStatusName = (typeof DrainStatus)[keyof typeof DrainStatus];

export interface Drain {
  /** Seconds until lag is 0 at the current rates; null unless draining. */
  drain_seconds: number | null;
  drain_status: DrainStatusName;
  /** The arithmetic in words: "not draining: short by 3 msg/s". */
  drain_reason: string;
}

export function drainEstimate(lag: number, productionRate: number | null, consumptionRate: number | null): Drain {
  if (lag <= 0) return { drain_seconds: null, drain_status: DrainStatus.caughtUp, drain_reason: 'no lag' };
  if (productionRate === null || consumptionRate === null) return { drain_seconds: null, drain_status: DrainStatus.unknown, drain_reason: 'no rates yet' };
  const net = round(consumptionRate - productionRate);
  if (net > 0) {
    return {
      drain_seconds: round(lag / net),
      drain_status: DrainStatus.draining,
      drain_reason: `draining ${net} msg/s (consumed ${consumptionRate} - produced ${productionRate}): ${lag} messages in about ${Math.ceil(lag / net)} s`,
    };
  }
  const reason =
    consumptionRate === 0
      ? 'not draining: nothing consumed in the rate window'
      : net === 0
        ? `not draining: consumption only matches production (${productionRate} msg/s)`
        : `not draining: short by ${-net} msg/s (produced ${productionRate}, consumed ${consumptionRate})`;
  return { drain_seconds: null, drain_status: DrainStatus.notDraining, drain_reason: reason };
}
