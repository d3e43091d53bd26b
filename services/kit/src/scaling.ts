/**
 * The scaling arithmetic that the operator's decision and the lag monitor's advice share, so the
 * two cannot disagree: when a group's consumption measures its capacity, what one consumer
 * manages, and how many consumers a load needs. Pure: no I/O, no clock.
 */

/**
 * After a membership change (a scale, a rebalance) consumption stalls for a moment, and the lag
 * monitor's rate window still holds that stall for a while: no capacity is measured until then.
 */
export const SETTLE_MS = 15_000;

/**
 * As the HPA's tolerance: a count short of the need by at most a tenth of a consumer is kept, so
 * measurement noise at steady load never adds a consumer (see consumersNeeded).
 */
export const CAPACITY_TOLERANCE = 0.1;

/** One look at a consumer group, in the units the arithmetic uses. */
export interface GroupSample {
  /** Messages waiting: the total lag. */
  backlog: number;
  /** Messages per second committed; null until there are two samples. */
  consumptionRate: number | null;
  members: number;
  partitions: number;
  /** Partitions whose consumers published a pause (the kit's consumer-state). */
  pausedPartitions: number;
  /**
   * Partitions with no more waiting than a batch in hand (starvedPartitions): their owner may be
   * waiting for arrivals rather than working flat out.
   */
  starvedPartitions: number;
}

export interface SaturationContext {
  /**
   * A backlog of at least this is work waiting. At light load lag blips to 1 or 2 (the message
   * in hand counts), and consumption there is the arrival rate, not capacity.
   */
  backlogThreshold: number;
  /** The members the group should have: the operator's replica count, the monitor's previous sample. */
  expectedMembers: number;
  /** The last membership change: the operator's last scale, the monitor's last change of member count; null if none. */
  membershipChangedAt: number | null;
  /** When the current unbroken run of backlogged samples (backlogged) began; null when this one is not. */
  backloggedSince: number | null;
  /** The span the consumption rate is a slope over: the lag monitor's RATE_WINDOW_MS. */
  rateWindowMs: number;
  now: number;
}

/** The lag monitor's RATE_WINDOW_MS by default: its rates are slopes over this span. */
export const DEFAULT_RATE_WINDOW_MS = 5_000;

/**
 * Work waiting for every consumer in this one sample: a backlog of at least the threshold, no
 * partition paused (a pause says nothing about capacity) and none starved (a consumer whose
 * partitions run dry consumes what arrives, not what it could).
 */
export function backlogged(group: GroupSample, backlogThreshold: number): boolean {
  return group.backlog >= backlogThreshold && group.pausedPartitions === 0 && group.starvedPartitions === 0;
}

/**
 * Saturated: the consumers work flat out, so their consumption is their capacity. All of:
 * backlogged, and so for the whole rate window (the rate is a slope over it: the first sample of
 * a burst would otherwise measure the quiet seconds before it, and 5 consumers at a steady 30/s
 * read as 6.5 msg/s each); a stable membership (the expected count, unchanged for SETTLE_MS);
 * some consumption. A starved partition's owner consumes what arrives and the group's rate is
 * shared out over every consumer (4 consumers on 6 partitions at a steady load that keeps 2 of
 * them flat out read as 25 % slower than they are, and asked for 6). Without these, every
 * scale-up's rebalance stall lowers the figure, which asks for more consumers: a runaway.
 */
export function saturated(group: GroupSample, context: SaturationContext): boolean {
  const settled = context.membershipChangedAt === null || context.now - context.membershipChangedAt >= SETTLE_MS;
  const sustained = context.backloggedSince !== null && context.now - context.backloggedSince >= context.rateWindowMs;
  return (
    backlogged(group, context.backlogThreshold) &&
    sustained &&
    group.members === context.expectedMembers &&
    settled &&
    busyConsumers(group.members, group.partitions) > 0 &&
    group.consumptionRate !== null &&
    group.consumptionRate > 0
  );
}

/**
 * Partitions whose lag is at most a batch: what their owner may have in hand, so nothing is
 * waiting for it there. Lag counts the messages in hand (not committed yet).
 */
export function starvedPartitions(lags: readonly number[], batchSize: number): number {
  return lags.filter((lag) => lag <= batchSize).length;
}

/** Consumers with work: members beyond the partition count sit idle. */
function busyConsumers(members: number, partitions: number): number {
  return Math.min(members, partitions);
}

/** What one consumer is set to do: its simulated work and the downstream write it waits for. */
export interface ConsumerWork {
  /** Orders taken per processing time (1: one at a time). */
  batchSize: number;
  /** Simulated work per batch (per message when batchSize is 1). */
  processingTimeMs: number;
  /** The downstream's added latency per write: one write per batch. */
  downstreamLatencyMs: number;
}

/**
 * Messages per second one consumer can do: batchSize orders per processing time plus one
 * downstream write, so batchSize x 1000 / (processing_ms + downstream latency); with batch 1 and
 * no latency, the seed's 1000 / processing_ms. Null when a batch takes no simulated time at all:
 * then only Kafka bounds it.
 */
export function maxThroughputPerSec({ batchSize, processingTimeMs, downstreamLatencyMs }: ConsumerWork): number | null {
  const perBatchMs = processingTimeMs + downstreamLatencyMs;
  return perBatchMs === 0 ? null : (batchSize * 1000) / perBatchMs;
}

/** Messages per second one busy consumer does. */
export function perConsumerRate(consumptionRate: number, members: number, partitions: number): number {
  return consumptionRate / busyConsumers(members, partitions);
}

/** The per-consumer rate when the group is saturated, otherwise null. */
export function saturatedRate(group: GroupSample, context: SaturationContext): number | null {
  if (!saturated(group, context)) return null;
  return perConsumerRate(group.consumptionRate!, group.members, group.partitions);
}

export interface Load {
  /** Messages per second arriving. */
  arrivalRate: number;
  backlog: number;
  /** How fast the backlog should drain. */
  drainSeconds: number;
}

/** Messages per second the group must do: the arrivals plus the backlog spread over the drain time. */
export function requiredRate(load: Load): number {
  return load.arrivalRate + load.backlog / load.drainSeconds;
}

/**
 * Consumers needed for a load at a per-consumer rate (> 0): enough to take it, or the `current`
 * count when that falls short by at most CAPACITY_TOLERANCE of a consumer. The tolerance only
 * keeps a count; it never sizes one below the load, which that count could not keep up with.
 * Rounded down, 30 msg/s at 9.93 each (3.02 consumers) took the mixed bench from 6 to 3 and,
 * once the backlog grew, back up to 4.
 */
export function consumersNeeded(load: Load, perConsumer: number, current: number | null = null): number {
  const need = requiredRate(load) / perConsumer;
  const enough = Math.max(0, Math.ceil(need));
  return current !== null && current < enough && need - current <= CAPACITY_TOLERANCE ? current : enough;
}
