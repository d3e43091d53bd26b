import { backlogged, saturatedRate, starvedPartitions } from '@bplab/kit';
import { drainEstimate, type Drain } from './drain.js';
import { evaluate, type GroupEvaluation, type PartitionEvaluation } from './evaluate.js';
import { snapshot, type LagSnapshot, type LagStatus, type OffsetSample, type PartitionLag, type Thresholds } from './lag.js';
import { RebalanceDetector, type RebalanceCost, type RebalanceEvent } from './rebalance.js';

/** A lag snapshot with its diagnosis: the Burrow-style evaluation and the drain estimate. */
export interface MonitorSnapshot extends LagSnapshot, Drain {
  partitions: (PartitionLag & { evaluation: PartitionEvaluation })[];
  evaluation: GroupEvaluation;
}

export interface Alert {
  timestamp: string;
  from: LagStatus;
  to: LagStatus;
  total_lag: number;
  rate_of_change: number | null;
  message: string;
}

/** How long a saturated per-consumer figure counts towards the estimate. */
const RATE_MEMORY_MS = 60_000;

export interface TrackerOptions {
  thresholds: Thresholds;
  rateWindowMs: number;
  /** Samples kept for time lag; older ones are dropped. */
  sampleWindowMs: number;
  /** The evaluation's sliding window (evaluate.ts); at most sampleWindowMs. */
  evaluationWindowMs: number;
  historySize: number;
  alertsSize: number;
  /** How precisely a rebalance's stop is known: the time between samples. */
  pollIntervalMs: number;
}

/**
 * Keeps the recent samples, the snapshot history and the alerts. No I/O: the poller calls
 * `record` with each sample, so the bookkeeping is tested without Kafka.
 */
export class LagTracker {
  private samples: OffsetSample[] = [];
  private readonly historyRing: MonitorSnapshot[] = [];
  private readonly alertRing: Alert[] = [];
  latest: MonitorSnapshot | undefined;
  /**
   * Messages per second one consumer manages: the highest saturated figure of the last minute,
   * since a pause, a rebalance stall or a burst that began inside the rate window all make the
   * measured rate lower than the capacity, never higher. With none in the last minute, the last
   * estimate stands.
   */
  perConsumerRate: number | null = null;
  private saturatedRates: { at: number; rate: number }[] = [];
  /** When the member count last changed (a rebalance); null until a change is seen. */
  private membersChangedAt: number | null = null;
  /** When the current unbroken run of backlogged samples began (the kit's backlogged); null when the latest is not. */
  private backloggedSince: number | null = null;
  private readonly rebalances: RebalanceDetector;

  constructor(private readonly options: TrackerOptions) {
    this.rebalances = new RebalanceDetector(options.pollIntervalMs);
  }

  /**
   * Adds a sample; returns the new snapshot, the alert it raised if its status changed, and the
   * rebalance events it opened and closed.
   */
  record(sample: OffsetSample): { snapshot: MonitorSnapshot; alert: Alert | undefined; rebalances: { opened: RebalanceEvent[]; closed: RebalanceEvent[] } } {
    this.samples.push(sample);
    this.samples = this.samples.filter((s) => sample.at - s.at <= this.options.sampleWindowMs);
    const next = diagnose(snapshot(this.samples, this.options.thresholds, this.options.rateWindowMs), this.samples, this.options.evaluationWindowMs);
    const alert = statusChange(this.latest, next);
    if (this.latest && next.members !== this.latest.members) this.membersChangedAt = sample.at;
    // Saturated as the operator's rule has it (the kit's saturated): a backlog of at least the
    // warning threshold, the members of the sample before, no change within the settle time.
    const group = {
      backlog: next.total_lag,
      consumptionRate: next.consumption_rate,
      members: next.members,
      partitions: next.partition_count,
      pausedPartitions: next.paused_partitions.manual.length + next.paused_partitions.downstream.length,
      starvedPartitions: starvedPartitions(next.partitions.map((p) => p.lag), next.batch_size),
    };
    const backlogThreshold = this.options.thresholds.lagWarning;
    this.backloggedSince = backlogged(group, backlogThreshold) ? (this.backloggedSince ?? sample.at) : null;
    const rate = saturatedRate(group, {
      backlogThreshold,
      expectedMembers: this.latest?.members ?? next.members,
      membershipChangedAt: this.membersChangedAt,
      backloggedSince: this.backloggedSince,
      rateWindowMs: this.options.rateWindowMs,
      now: sample.at,
    });
    if (rate !== null) this.saturatedRates.push({ at: sample.at, rate });
    this.saturatedRates = this.saturatedRates.filter((r) => sample.at - r.at <= RATE_MEMORY_MS);
    if (this.saturatedRates.length > 0) this.perConsumerRate = Math.max(...this.saturatedRates.map((r) => r.rate));
    if (alert) push(this.alertRing, alert, this.options.alertsSize);
    push(this.historyRing, next, this.options.historySize);
    this.latest = next;
    return { snapshot: next, alert, rebalances: this.rebalances.observe(sample) };
  }

  history(limit: number): MonitorSnapshot[] {
    return this.historyRing.slice(-limit);
  }

  alerts(limit: number): Alert[] {
    return this.alertRing.slice(-limit).reverse();
  }

  /** The newest rebalance events, newest first. */
  rebalanceEvents(limit: number): RebalanceEvent[] {
    return this.rebalances.events(limit);
  }

  rebalanceCost(): RebalanceCost {
    return this.rebalances.cost();
  }
}

/** A snapshot with each partition's evaluation, the group's, and the drain estimate. */
export function diagnose(base: LagSnapshot, samples: OffsetSample[], evaluationWindowMs: number): MonitorSnapshot {
  const evaluation = evaluate(samples, evaluationWindowMs);
  return {
    ...base,
    partitions: base.partitions.map((p) => ({ ...p, evaluation: evaluation.partitions.get(p.partition)! })),
    evaluation: evaluation.group,
    ...drainEstimate(base.total_lag, base.production_rate, base.consumption_rate),
  };
}

/**
 * An alert fires when the status changes, not on every poll over a threshold. The first
 * snapshot raises one only if it is already not ok.
 */
export function statusChange(previous: LagSnapshot | undefined, next: LagSnapshot): Alert | undefined {
  const from = previous?.status ?? 'ok';
  if (from === next.status) return undefined;
  const trend = next.rate_of_change === null ? '' : next.rate_of_change > 0 ? `, growing ${next.rate_of_change}/s` : `, shrinking ${-next.rate_of_change}/s`;
  const verb = next.status === 'ok' ? 'recovered' : `is ${next.status}`;
  return {
    timestamp: next.timestamp,
    from,
    to: next.status,
    total_lag: next.total_lag,
    rate_of_change: next.rate_of_change,
    message: `lag ${verb}: ${next.total_lag} messages behind${trend}`,
  };
}

function push<T>(ring: T[], item: T, size: number): void {
  ring.push(item);
  if (ring.length > size) ring.splice(0, ring.length - size);
}
