import { consumersNeeded, requiredRate, round } from '@bplab/kit';
import type { LagSnapshot, Thresholds } from './lag.js';

export interface Recommendation {
  severity: 'info' | 'warning' | 'critical';
  action: string;
  reason: string;
  /** The consumer count this advice is about, when it is about one. */
  suggested_consumers?: number;
}

export interface RecommendContext {
  thresholds: Thresholds;
  /** How fast a backlog should drain, for the capacity estimate. */
  drainTargetSeconds: number;
  /** The per-consumer rate measured while the consumers were saturated (LagTracker.perConsumerRate), if any. */
  perConsumerRate: number | null;
}

/**
 * Advice from one snapshot, in order of urgency. The capacity arithmetic is the seed's
 * "1000 ms / processing time" generalised, and the operator's capacity rule: consumers needed =
 * (arrival rate + backlog / drain target) / per-consumer rate, within the kit's tolerance
 * (consumersNeeded), and never more than one per partition.
 */
export function recommend(s: LagSnapshot, ctx: RecommendContext): Recommendation[] {
  const out: Recommendation[] = [];
  const partitions = s.partition_count;
  const growing = s.rate_of_change !== null && s.rate_of_change > 0;

  if (s.members === 0) {
    if (s.total_lag > 0) out.push({ severity: 'critical', action: 'Start a consumer: the group has no members', reason: `${s.total_lag} messages are waiting and nobody is consuming them` });
    return out;
  }
  // Consumers that published a pause: the advice is about the pause, not about capacity, since
  // more consumers would only wait too (or press harder on an overloaded downstream).
  const { manual, downstream } = s.paused_partitions;
  if (s.total_lag > 0 && downstream.length > 0) {
    out.push({
      severity: 'warning',
      action: 'Relieve the downstream: the consumers paused themselves because it is overloaded (GET /downstream on a consumer); adding consumers would press harder on it',
      reason: `partitions ${downstream.join(', ')} are paused by the downstream's health; they resume on their own once it recovers`,
    });
  }
  if (s.total_lag > 0 && manual.length > 0) {
    out.push({ severity: 'warning', action: 'Resume the consumers paused by hand: POST /resume', reason: `partitions ${manual.join(', ')} are paused by hand while ${s.total_lag} messages wait` });
  }
  const paused = s.total_lag > 0 && manual.length + downstream.length > 0;
  if (!paused && s.total_lag > 0 && s.consumption_rate === 0) {
    out.push({
      severity: 'warning',
      action: 'Check the consumers: lag is not moving and none says it is paused (stuck?)',
      reason: `lag is ${s.total_lag} and nothing was committed in the last rate window`,
    });
  }

  if (paused) {
    // Sized once they consume again.
  } else if (ctx.perConsumerRate !== null && ctx.perConsumerRate > 0 && (growing || s.status !== 'ok')) {
    const load = { arrivalRate: s.production_rate ?? 0, backlog: s.total_lag, drainSeconds: ctx.drainTargetSeconds };
    const needed = consumersNeeded(load, ctx.perConsumerRate, s.members);
    if (needed > partitions) {
      out.push({
        severity: 'critical',
        action: `Add partitions, speed processing up (POST /fast) or throttle the producer (POST /config rate_ms): even ${partitions} consumers cannot keep up`,
        reason: `about ${needed} consumers at ${round(ctx.perConsumerRate)} msg/s each would be needed, but ${partitions} partitions allow at most ${partitions} active consumers`,
        suggested_consumers: partitions,
      });
    } else if (needed > s.members) {
      out.push({
        severity: s.status === 'critical' ? 'critical' : 'warning',
        action: `Scale consumers from ${s.members} to ${needed}`,
        reason: `production ${s.production_rate ?? 0} msg/s plus draining ${s.total_lag} messages in ${ctx.drainTargetSeconds} s needs ${round(requiredRate(load))} msg/s; one consumer does ${round(ctx.perConsumerRate)} msg/s`,
        suggested_consumers: needed,
      });
    }
  } else if (s.status !== 'ok' && s.members < partitions) {
    out.push({
      severity: s.status === 'critical' ? 'critical' : 'warning',
      action: `Add consumers (up to ${partitions}, one per partition)`,
      reason: `lag is ${s.total_lag}; no per-consumer rate measured yet to size the step`,
      suggested_consumers: partitions,
    });
  }

  if (s.members > partitions) {
    out.push({ severity: 'info', action: `Remove ${s.members - partitions} consumer(s)`, reason: `${s.members} members share ${partitions} partitions: the extra ones sit idle` });
  }
  if (s.total_lag > 0 && s.rate_of_change !== null && s.rate_of_change < 0) {
    out.push({ severity: 'info', action: 'Keep watching: lag is draining', reason: `about ${Math.ceil(s.total_lag / -s.rate_of_change)} s to zero at ${-s.rate_of_change} msg/s` });
  }
  if (out.length === 0) out.push({ severity: 'info', action: 'No action needed', reason: `lag ${s.total_lag} is under the warning threshold (${ctx.thresholds.lagWarning}) and not growing fast` });
  return out;
}
