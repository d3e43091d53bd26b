import { backlogged, consumersNeeded, DEFAULT_RATE_WINDOW_MS, round, saturatedRate, SETTLE_MS, starvedPartitions, type GroupSample } from '@bplab/kit';
import type { AutoscalerSpec } from './spec.js';

export type { AutoscalerSpec } from './spec.js';

/** One sample from the lag monitor, in the units the decision uses. */
export interface MetricsSnapshot {
  group: string;
  topic: string;
  totalLag: number;
  partitionCount: number;
  /** Messages per second; null until the lag monitor has two samples. */
  productionRate: number | null;
  consumptionRate: number | null;
  /** Consumer group members. */
  members: number;
  /** When the lag monitor took the sample (ms since epoch). */
  sampledAt: number;
  /** The lag monitor's last poll of Kafka failed, so the figures are old. */
  stale: boolean;
  /**
   * How long a rebalance typically stops consumption (the lag monitor's rebalance_cost); null or
   * absent: not known (no rebalance measured yet, or an older lag monitor).
   */
  typicalRebalanceStopSeconds?: number | null;
  /** Partitions whose owner published a pause, by who holds it; absent: none known. */
  pausedPartitions?: { manual: number[]; downstream: number[] };
  /** The largest batch size the owners publish: each member holds up to this many uncommitted; absent: 1. */
  batchSize?: number;
  /** Each partition's lag, in partition order; absent: not known (a stand-in), none counted as starved. */
  partitionLags?: number[];
  /** The span the rates are slopes over (the monitor's rate_window_seconds); absent: its default. */
  rateWindowMs?: number;
  /** How often the lag monitor samples Kafka (its sample_interval_seconds); absent: not known (an older monitor). */
  sampleIntervalMs?: number;
}

/** A lag sample the decision has seen: growth is measured between two of them. */
export interface LagSample {
  /** When the lag monitor took it (ms since epoch). */
  at: number;
  lag: number;
  /**
   * Whether it asked for a scale-up beyond the minimum: more than the replica count then and more
   * than minReplicas. Starting the minimum (from 0, as an operator's first decision does) says
   * nothing about a rise.
   */
  askedUp: boolean;
  /** How often the lag monitor sampled then (MetricsSnapshot.sampleIntervalMs); null: not known. */
  sampleIntervalMs: number | null;
}

/**
 * What the decision remembers between polls: raw recommendations for the stabilisation windows,
 * scale events for the per-period step limits, the last per-replica rate measured while the
 * consumers were saturated, the last lag samples, and how long a scale-up takes to join.
 */
export interface ScalingHistory {
  recommendations: { at: number; replicas: number }[];
  scaleEvents: { at: number; from: number; to: number }[];
  perReplicaRate: number | null;
  /** Whether a backlog was draining at the last decision (see Decision.draining). */
  draining: boolean;
  /** The last time a backlog was draining. */
  lastDrainingAt: number | null;
  /** The last SAMPLES_KEPT distinct samples (by sampledAt), oldest first. */
  samples: LagSample[];
  /** The last scale-up while its new members are not all in the group yet. */
  pendingScaleUp: { at: number; to: number } | null;
  /** The last scale-up's lead: seconds from the scale to every member in the group; null before one. */
  scaleUpLeadSeconds: number | null;
  /** When the current unbroken run of backlogged samples began (backloggedSince); null when the last one was not. */
  backloggedSince: number | null;
  /** The sample time of the rise the riseStart hold is watching (see riseStart); null when none is held. */
  riseSince: number | null;
}

export const emptyHistory: ScalingHistory = {
  recommendations: [],
  scaleEvents: [],
  perReplicaRate: null,
  draining: false,
  lastDrainingAt: null,
  samples: [],
  pendingScaleUp: null,
  scaleUpLeadSeconds: null,
  backloggedSince: null,
  riseSince: null,
};

/** Two: growth is measured between the newest sample and the one before it. */
export const SAMPLES_KEPT = 2;

/** Which rule sized the recommendation: the larger of the two wins. */
export const Rule = { lag: 'lag', capacity: 'capacity' } as const;
export type Rule = (typeof Rule)[keyof typeof Rule];

/** What held the replica count away from the recommendation, or held it without one. */
export const Hold = {
  paused: 'paused',
  metricsUnavailable: 'metricsUnavailable',
  metricsStale: 'metricsStale',
  noPartitions: 'noPartitions',
  scaleUpWindow: 'scaleUpWindow',
  scaleDownWindow: 'scaleDownWindow',
  drainHold: 'drainHold',
  /** A scale-up that would not pay back its own rebalance stop (rebalancePayback). */
  rebalanceCost: 'rebalanceCost',
  /**
   * The first sample of a rise asked for a scale-up short of the upper bound: the rise began
   * somewhere since the sample before, so the growth measured across it understates the rate.
   * A sample a poll interval on sizes the scale-up, or one before that asking for the upper bound
   * (see riseStart).
   */
  riseStart: 'riseStart',
  /** Consumers paused themselves for an unhealthy downstream: the count stays as it is. */
  downstreamPaused: 'downstreamPaused',
  stepLimit: 'stepLimit',
} as const;
export type Hold = (typeof Hold)[keyof typeof Hold];

/** The bound that cut the raw recommendation. */
export const Limit = { partitions: 'partitions', maxReplicas: 'maxReplicas', minReplicas: 'minReplicas' } as const;
export type Limit = (typeof Limit)[keyof typeof Limit];

export interface Decision {
  desiredReplicas: number;
  /** For people: the rule's arithmetic, then any limit and hold. */
  reason: string;
  /** The rule that sized the recommendation; null when the count was held without one. */
  rule: Rule | null;
  /**
   * Why desiredReplicas is not the recommendation (a window, the drain hold, the step limit), or
   * why there is none (paused, metrics unavailable or stale, no partitions); null when neither.
   */
  heldBy: Hold | null;
  /** The bound that cut the raw recommendation, if any. */
  limitedBy: Limit | null;
  /** The recommendation before stabilisation and step limits, already within the bounds. */
  recommendation: number | null;
  lagReplicas: number | null;
  capacityReplicas: number | null;
  perReplicaRate: number | null;
  /**
   * A backlog is draining: lag reached lagThreshold, and stays "draining" until it is down to
   * about one message per member (the ones in hand).
   */
  draining: boolean;
  /** The sample decided on, for the history; null when the count was held without one. */
  sample: LagSample | null;
  /** The scale-up lead known after this sample: measured by it, or the last one measured. */
  scaleUpLeadSeconds: number | null;
  /** This sample shows every member of the pending scale-up in the group. */
  scaleUpJoined: boolean;
  /** The run of backlogged samples after this one (backloggedSince); null when held without a sample. */
  backloggedSince: number | null;
  /** The rise the riseStart hold watches after this decision (ScalingHistory.riseSince). */
  riseSince: number | null;
}

export interface DecisionInput {
  snapshot: MetricsSnapshot | null;
  currentReplicas: number;
  spec: AutoscalerSpec;
  history: ScalingHistory;
  now: number;
}

/** A sample older than this is not acted on: three poll intervals, at least 10 s. */
export function stalenessBoundMs(spec: AutoscalerSpec): number {
  return Math.max(3 * spec.pollIntervalSeconds, 10) * 1000;
}

/** [lower, upper] for the replica count: upper is min(max, partitions) unless idle consumers are allowed. */
export function replicaBounds(spec: AutoscalerSpec, partitionCount: number): { lower: number; upper: number } {
  const upper = spec.allowIdleConsumers ? spec.maxReplicas : Math.min(spec.maxReplicas, partitionCount);
  // A minimum above the partition count would only add idle consumers: the partition cap wins.
  return { lower: Math.min(spec.minReplicas, upper), upper };
}

/**
 * The per-replica consumption rate, measured only while the consumers are saturated (see
 * saturated in the kit: a backlog of one replica's worth on every partition, none paused, for the
 * whole rate window; as many members as replicas, no scale within SETTLE_MS, some consumption);
 * otherwise the last such figure stands.
 */
export function perReplicaRate(
  snapshot: MetricsSnapshot,
  previous: number | null,
  context: { currentReplicas: number; lagThreshold: number; lastScaleAt: number | null; backloggedSince: number | null; now: number },
): number | null {
  const saturation = {
    backlogThreshold: context.lagThreshold,
    expectedMembers: context.currentReplicas,
    membershipChangedAt: context.lastScaleAt,
    backloggedSince: context.backloggedSince,
    rateWindowMs: snapshot.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS,
    now: context.now,
  };
  return saturatedRate(groupOf(snapshot), saturation) ?? previous;
}

/**
 * The start of the current unbroken run of backlogged samples (the kit's backlogged), this one
 * included: `since` carried on, or this sample's time when the run starts here; null when this
 * sample is not backlogged.
 */
export function backloggedSince(snapshot: MetricsSnapshot, lagThreshold: number, since: number | null): number | null {
  return backlogged(groupOf(snapshot), lagThreshold) ? (since ?? snapshot.sampledAt) : null;
}

/** The snapshot in the units of the kit's scaling arithmetic. */
function groupOf(snapshot: MetricsSnapshot): GroupSample {
  const paused = snapshot.pausedPartitions;
  return {
    backlog: snapshot.totalLag,
    consumptionRate: snapshot.consumptionRate,
    members: snapshot.members,
    partitions: snapshot.partitionCount,
    pausedPartitions: paused ? paused.manual.length + paused.downstream.length : 0,
    starvedPartitions: starvedPartitions(snapshot.partitionLags ?? [], snapshot.batchSize ?? 1),
  };
}

/**
 * What a change of the count adds to the backlog by its own rebalance: the arrivals during the
 * typical stop, when nothing is consumed. Null when the stop is not known.
 */
export interface StopBacklog {
  seconds: number;
  messages: number;
}

export function stopBacklog(snapshot: MetricsSnapshot): StopBacklog | null {
  const seconds = snapshot.typicalRebalanceStopSeconds;
  if (seconds === null || seconds === undefined) return null;
  return { seconds, messages: (snapshot.productionRate ?? 0) * seconds };
}

/** "lag 300" or, sized for a change's stop, "lag 300 + 40 arriving in a 1 s rebalance stop". */
function backlogText(lag: number, stop: StopBacklog | null): string {
  return stop === null ? `lag ${lag}` : `lag ${lag} + ${fmt(stop.messages)} arriving in a ${fmt(stop.seconds)} s rebalance stop`;
}

/**
 * How fast the lag grows, and for how long the lag rule carries that growth forward.
 *
 * Growth is the larger of production − consumption from the lag monitor and the change since the
 * previous sample the loop saw: the monitor's rates are slopes over a window of several seconds,
 * which a burst only fills bit by bit, so they understate a burst that has just begun; the
 * change between two samples does not. While members are missing (a scale-up still joining, a
 * member restarting) the group consumes little or nothing, so growth then measures that gap
 * rather than arrivals: none is carried forward, and the lag as it is sizes the count.
 *
 * The horizon is the time until consumers added now consume and a decision sees them: a poll
 * interval plus the last measured scale-up lead (another poll interval until one is measured).
 * A scale-up sized for that lag is not followed by a second step (and a second rebalance) while a
 * burst goes on arriving.
 */
export interface Trend {
  /** Messages per second, 0 when the lag is not growing. */
  growth: number;
  seconds: number;
  /** The sample before this one (within the staleness bound); null without one. */
  previous: LagSample | null;
}

export function lagTrend(snapshot: MetricsSnapshot, spec: AutoscalerSpec, history: Pick<ScalingHistory, 'samples'>, currentReplicas: number, leadSeconds: number | null): Trend {
  const seconds = spec.pollIntervalSeconds + (leadSeconds ?? spec.pollIntervalSeconds);
  let previous: LagSample | null = null;
  for (const sample of history.samples) {
    if (sample.at < snapshot.sampledAt && snapshot.sampledAt - sample.at <= stalenessBoundMs(spec)) previous = sample;
  }
  if (snapshot.members < currentReplicas) return { growth: 0, seconds, previous };
  const rates = (snapshot.productionRate ?? 0) - (snapshot.consumptionRate ?? 0);
  const sampled = previous === null ? 0 : (snapshot.totalLag - previous.lag) / ((snapshot.sampledAt - previous.at) / 1000);
  return { growth: Math.max(0, rates, sampled), seconds, previous };
}

/** The trend from the monitor's rates alone, before any sample or measured lead. */
export const rateTrend = (snapshot: MetricsSnapshot, spec: AutoscalerSpec): Trend => lagTrend(snapshot, spec, emptyHistory, 0, null);

/**
 * The lag rule (KEDA's): lagThreshold messages per replica, for the lag expected when consumers
 * added now would be consuming (see Trend) rather than the lag now: while a burst is still
 * arriving, sizing for the present asks for too few, and a second step (a second rebalance)
 * follows. When consumers keep up, growth is 0 and this is exactly ceil(totalLag / lagThreshold).
 * Given the stop of the change it sizes, the arrivals during it count as lag too (see decide).
 */
export function lagRule(
  snapshot: MetricsSnapshot,
  spec: AutoscalerSpec,
  stop: StopBacklog | null = null,
  trend: Trend = rateTrend(snapshot, spec),
): { replicas: number; reason: string } {
  const expectedLag = snapshot.totalLag + trend.growth * trend.seconds + (stop?.messages ?? 0);
  const replicas = Math.ceil(expectedLag / spec.lagThreshold);
  const lag = backlogText(snapshot.totalLag, stop);
  const reason =
    trend.growth > 0
      ? `${lag} growing ${fmt(trend.growth)}/s, ${Math.round(expectedLag)} in ${fmt(trend.seconds)} s / threshold ${spec.lagThreshold} needs ${replicas}`
      : `${lag} / threshold ${spec.lagThreshold} needs ${replicas}`;
  return { replicas, reason };
}

/**
 * The capacity rule: enough replicas at the measured per-replica rate to take the arrivals and
 * drain the backlog within targetDrainSeconds (consumersNeeded in the kit, as the lag monitor's
 * advice), keeping the current count when it falls short only within the kit's tolerance. Given
 * the stop of the change it sizes, the arrivals during it count as backlog too (see decide).
 */
export function capacityRule(
  snapshot: MetricsSnapshot,
  spec: AutoscalerSpec,
  rate: number,
  currentReplicas: number,
  stop: StopBacklog | null = null,
): { replicas: number; reason: string } {
  const arrival = snapshot.productionRate ?? 0;
  const backlog = snapshot.totalLag + (stop?.messages ?? 0);
  const replicas = consumersNeeded({ arrivalRate: arrival, backlog, drainSeconds: spec.targetDrainSeconds }, rate, currentReplicas);
  const lag = stop === null ? `lag ${snapshot.totalLag}` : `(${backlogText(snapshot.totalLag, stop)})`;
  const reason = `capacity: (${fmt(arrival)} msg/s + ${lag} / ${spec.targetDrainSeconds} s) / ${fmt(rate)} msg/s per replica needs ${replicas}`;
  return { replicas, reason };
}

/**
 * Whether scaling from `current` to `target` replicas pays back its own rebalance: the time to
 * drain the backlog as things are, against the typical stop plus the drain at `target` of the
 * backlog and what arrived during the stop, each replica at the measured rate (only replicas
 * with a partition consume). Null, so no hold, unless the stop and the rate are known and the
 * current replicas consume faster than arrivals: if they do not, only a scale-up ends the backlog.
 */
export function rebalancePayback(
  snapshot: MetricsSnapshot,
  rate: number | null,
  current: number,
  target: number,
): { currentSeconds: number; scaledSeconds: number; stopSeconds: number } | null {
  const stop = stopBacklog(snapshot);
  if (stop === null || rate === null || rate <= 0) return null;
  const arrival = snapshot.productionRate ?? 0;
  const net = (replicas: number) => Math.min(replicas, snapshot.partitionCount) * rate - arrival;
  if (net(current) <= 0) return null;
  return {
    currentSeconds: snapshot.totalLag / net(current),
    scaledSeconds: stop.seconds + (snapshot.totalLag + stop.messages) / net(target),
    stopSeconds: stop.seconds,
  };
}

/** Partitions paused by their consumers for an unhealthy downstream. */
function downstreamPaused(snapshot: MetricsSnapshot): number[] {
  return snapshot.pausedPartitions?.downstream ?? [];
}

/**
 * Whether a backlog is draining: lag reached lagThreshold, or a drain under way has not yet got
 * down to about what the members hold in hand: one message each, or a batch each in batch mode.
 */
export function isDraining(snapshot: MetricsSnapshot, lagThreshold: number, wasDraining: boolean): boolean {
  const inHand = snapshot.members * (snapshot.batchSize ?? 1);
  return snapshot.totalLag >= lagThreshold || (wasDraining && snapshot.totalLag > Math.max(1, inHand));
}

/**
 * The drain hold, a rule the HPA lacks: no scale-down while a backlog drains, nor until it has
 * been drained for the whole scale-down window. Without it a draining backlog steps replicas down
 * one at a time (6, 5, 4, ...) as its recommendations fall, and with Kafka's eager rebalancing
 * every step stops the whole group; with it, one step. With no window it still holds while the
 * backlog lasts: a backlog is when the per-replica rate is measured, and a scale-down sized by
 * the lag alone before that was undone by the capacity rule once the rate came (3 -> 1 -> 2).
 */
export function drainHold(draining: boolean, lastDrainingAt: number | null, spec: AutoscalerSpec, now: number): boolean {
  return draining || (lastDrainingAt !== null && now - lastDrainingAt < spec.scaleDown.stabilizationWindowSeconds * 1000);
}

export function decide({ snapshot, currentReplicas, spec, history, now }: DecisionInput): Decision {
  const hold = (heldBy: Hold, reason: string): Decision => ({
    desiredReplicas: currentReplicas,
    reason,
    rule: null,
    heldBy,
    limitedBy: null,
    recommendation: null,
    lagReplicas: null,
    capacityReplicas: null,
    perReplicaRate: history.perReplicaRate,
    draining: history.draining,
    sample: null,
    scaleUpLeadSeconds: history.scaleUpLeadSeconds,
    scaleUpJoined: false,
    backloggedSince: null,
    riseSince: null,
  });
  if (spec.paused) return hold(Hold.paused, 'paused');
  if (snapshot === null) return hold(Hold.metricsUnavailable, 'metrics unavailable');
  if (snapshot.stale || now - snapshot.sampledAt > stalenessBoundMs(spec)) return hold(Hold.metricsStale, 'metrics stale');
  if (snapshot.partitionCount < 1) return hold(Hold.noPartitions, 'metrics unavailable: topic has no partitions');

  const lastScaleAt = history.scaleEvents.at(-1)?.at ?? null;
  const since = backloggedSince(snapshot, spec.lagThreshold, history.backloggedSince);
  const rate = perReplicaRate(snapshot, history.perReplicaRate, { currentReplicas, lagThreshold: spec.lagThreshold, lastScaleAt, backloggedSince: since, now });
  const pending = history.pendingScaleUp;
  const scaleUpJoined = pending !== null && snapshot.sampledAt >= pending.at && snapshot.members >= pending.to;
  const scaleUpLeadSeconds = scaleUpJoined ? (snapshot.sampledAt - pending.at) / 1000 : history.scaleUpLeadSeconds;
  const trend = lagTrend(snapshot, spec, history, currentReplicas, scaleUpLeadSeconds);
  let lag = lagRule(snapshot, spec, null, trend);
  let capacity = rate === null ? null : capacityRule(snapshot, spec, rate, currentReplicas);
  // Any change of the count stops the whole group for about the typical rebalance stop while
  // arrivals go on, so a change is sized for the backlog it finds once its stop is over: a
  // scale-up is not followed by a second step (and stop), and a scale-down never goes below what
  // that backlog needs (at most to none at all). Sized the same way at the new count, the
  // recommendation then stays put instead of stepping back. No change, no stop: rules as they are.
  const stop = stopBacklog(snapshot);
  const wanted = Math.max(lag.replicas, capacity?.replicas ?? 0);
  if (stop !== null && wanted !== currentReplicas) {
    const scaleDown = wanted < currentReplicas;
    const keep = (sized: { replicas: number; reason: string }) =>
      scaleDown && sized.replicas > currentReplicas ? { replicas: currentReplicas, reason: `${sized.reason}, more than the current ${currentReplicas}: no scale-down` } : sized;
    lag = keep(lagRule(snapshot, spec, stop, trend));
    capacity = rate === null ? null : keep(capacityRule(snapshot, spec, rate, currentReplicas, stop));
  }
  const sizing = capacity !== null && capacity.replicas > lag.replicas ? { rule: Rule.capacity, ...capacity } : { rule: Rule.lag, ...lag };
  const reasons = [sizing.reason];

  const { lower, upper } = replicaBounds(spec, snapshot.partitionCount);
  let limitedBy: Limit | null = null;
  if (sizing.replicas > upper) {
    // When both bind, the partition count is the one that matters: say so.
    limitedBy = !spec.allowIdleConsumers && snapshot.partitionCount <= spec.maxReplicas ? Limit.partitions : Limit.maxReplicas;
    reasons.push(limitedBy === Limit.partitions ? `capped at ${upper} partitions` : `capped at maxReplicas ${upper}`);
  } else if (sizing.replicas < lower) {
    limitedBy = Limit.minReplicas;
    reasons.push(`raised to minReplicas ${lower}`);
  }
  const recommendation = clamp(sizing.replicas, lower, upper);

  const draining = isDraining(snapshot, spec.lagThreshold, history.draining);
  // Each stage moves the count from the recommendation towards the current one; the bounds win
  // over all of them (a lowered maxReplicas or partition count applies at once).
  const holds: { by: StageHold; at: number; because?: string }[] = [];
  const stabilised = stabilise(recommendation, currentReplicas, spec, history, now);
  let desired = stabilised;
  if (stabilised < currentReplicas && drainHold(draining, history.lastDrainingAt, spec, now)) {
    desired = currentReplicas;
    holds.push({ by: Hold.drainHold, at: desired });
  } else if (stabilised !== recommendation) {
    holds.push({ by: stabilised > recommendation ? Hold.scaleDownWindow : Hold.scaleUpWindow, at: stabilised });
  }
  const rise = { since: history.riseSince, at: snapshot.sampledAt, pollMs: spec.pollIntervalSeconds * 1000, sampleMs: snapshot.sampleIntervalMs ?? null };
  const riseHeld = desired > currentReplicas && riseStart(trend, recommendation, upper, rise);
  if (riseHeld) {
    holds.push({ by: Hold.riseStart, at: currentReplicas });
    desired = currentReplicas;
  }
  const paused = downstreamPaused(snapshot);
  if (paused.length > 0 && desired !== currentReplicas) {
    const because = `partition${paused.length === 1 ? '' : 's'} ${paused.join(', ')} paused by the consumers for an unhealthy downstream; more consumers would press harder on it, fewer would rebalance for nothing`;
    holds.push({ by: Hold.downstreamPaused, at: currentReplicas, because });
    desired = currentReplicas;
  } else if (desired > currentReplicas) {
    const payback = rebalancePayback(snapshot, rate, currentReplicas, desired);
    if (payback !== null && payback.currentSeconds < payback.scaledSeconds) {
      const because = `${currentReplicas} replicas drain the backlog in ${fmt(payback.currentSeconds)} s, sooner than a ${fmt(payback.stopSeconds)} s rebalance stop plus the drain at ${desired} (${fmt(payback.scaledSeconds)} s in all)`;
      holds.push({ by: Hold.rebalanceCost, at: currentReplicas, because });
      desired = currentReplicas;
    }
  }
  const stepped = limitStep(desired, currentReplicas, spec, history, now);
  if (stepped !== desired) holds.push({ by: Hold.stepLimit, at: stepped });
  desired = clamp(stepped, lower, upper);
  const held = holds.map((h) => ({ ...h, at: clamp(h.at, lower, upper) })).filter((h) => h.at !== recommendation);
  reasons.push(...held.map((h) => holdReason(h, spec)));

  return {
    desiredReplicas: desired,
    reason: reasons.join('; '),
    rule: sizing.rule,
    heldBy: held.at(-1)?.by ?? null,
    limitedBy,
    recommendation,
    lagReplicas: lag.replicas,
    capacityReplicas: capacity?.replicas ?? null,
    perReplicaRate: rate,
    draining,
    sample: { at: snapshot.sampledAt, lag: snapshot.totalLag, askedUp: recommendation > Math.max(currentReplicas, lower), sampleIntervalMs: snapshot.sampleIntervalMs ?? null },
    scaleUpLeadSeconds,
    scaleUpJoined,
    backloggedSince: since,
    riseSince: riseHeld ? (history.riseSince ?? snapshot.sampledAt) : null,
  };
}

/**
 * Whether a scale-up waits for the rise's rate: the lag is growing and the sample before this
 * one did not ask for a scale-up, so a rise began somewhere between the two, and the growth
 * measured across them understates its rate by as much as the rise is younger than the interval.
 * A burst then gets one step, sized from a growth measured wholly inside it, instead of a small
 * step now and a second (a second rebalance) after. Not when this sample already asks for the
 * upper bound (no later sample can ask for more), nor without a sample before it (nothing
 * measured, as after a restart): the scale-up goes ahead.
 *
 * The wait lasts one poll interval from the rise's first sample (`rise.since`). When the lag
 * monitor samples more often than the operator polls, the operator reads each of its samples
 * meanwhile (nextReadDelayMs), and one that asks for the upper bound ends the wait early. One
 * that asks for less does not: half an interval into a slow rise, the lag rule sizes for less
 * lag than a whole interval in, and a burst of 300 over 3 s would then go 1 -> 5 -> 6. With no
 * sample interval known (an older monitor), the wait is one sample, as the operator reads once
 * per poll. Half a sample interval of slack keeps a sample due at the interval's end from
 * counting as inside it.
 */
export function riseStart(
  trend: Trend,
  recommendation: number,
  upper: number,
  rise: { since: number | null; at: number; pollMs: number; sampleMs: number | null },
): boolean {
  if (trend.growth <= 0 || recommendation >= upper) return false;
  const firstOfRise = trend.previous !== null && !trend.previous.askedUp;
  const watching = rise.since !== null && rise.sampleMs !== null && rise.at - rise.since < rise.pollMs - rise.sampleMs / 2;
  return firstOfRise || watching;
}

/** The holds that act after a rule has run, in the order they act. */
type StageHold =
  | typeof Hold.scaleUpWindow
  | typeof Hold.scaleDownWindow
  | typeof Hold.drainHold
  | typeof Hold.downstreamPaused
  | typeof Hold.rebalanceCost
  | typeof Hold.riseStart
  | typeof Hold.stepLimit;

/** A hold's words; the two that depend on the snapshot bring theirs (`because`). */
function holdReason({ by, at, because }: { by: StageHold; at: number; because?: string }, spec: AutoscalerSpec): string {
  switch (by) {
    case Hold.downstreamPaused:
    case Hold.rebalanceCost:
      return `held at ${at}: ${because}`;
    case Hold.drainHold:
      return spec.scaleDown.stabilizationWindowSeconds === 0
        ? `held at ${at} while the backlog drains`
        : `held at ${at} until the backlog has been drained for the ${spec.scaleDown.stabilizationWindowSeconds} s scale-down window`;
    case Hold.scaleDownWindow:
      return `held at ${at} by the ${spec.scaleDown.stabilizationWindowSeconds} s scale-down window`;
    case Hold.scaleUpWindow:
      return `held at ${at} by the ${spec.scaleUp.stabilizationWindowSeconds} s scale-up window`;
    case Hold.riseStart:
      return `held at ${at} for the rise's rate: the lag began to rise after the sample before it, so it is watched for a poll interval unless a sample asks for the upper bound`;
    case Hold.stepLimit:
      return `step limited to ${at}`;
  }
}

/**
 * HPA's stabilisation: scale up only to the lowest recommendation inside the scale-up window,
 * down only to the highest inside the scale-down window (the current one included), so a
 * short dip in lag never removes consumers that the next burst needs.
 */
function stabilise(recommendation: number, current: number, spec: AutoscalerSpec, history: ScalingHistory, now: number): number {
  const within = (seconds: number) =>
    history.recommendations.filter((r) => now - r.at < seconds * 1000).map((r) => r.replicas);
  const upCandidate = Math.min(recommendation, ...within(spec.scaleUp.stabilizationWindowSeconds));
  const downCandidate = Math.max(recommendation, ...within(spec.scaleDown.stabilizationWindowSeconds));
  if (upCandidate > current) return upCandidate;
  if (downCandidate < current) return downCandidate;
  return current;
}

/**
 * At most maxStep replicas added (removed) relative to the count at the start of the period. As
 * the HPA counts it: the start is the current count less what was added (plus what was removed)
 * within the period, counting only changes in this direction, so a scale-up does not make room
 * for a larger scale-down in the same period, nor the reverse.
 */
function limitStep(desired: number, current: number, spec: AutoscalerSpec, history: ScalingHistory, now: number): number {
  if (desired === current) return desired;
  const up = desired > current;
  const rules = up ? spec.scaleUp : spec.scaleDown;
  if (rules.maxStep === undefined) return desired;
  const changed = history.scaleEvents
    .filter((e) => now - e.at < rules.periodSeconds * 1000 && e.to > e.from === up)
    .reduce((sum, e) => sum + Math.abs(e.to - e.from), 0);
  return up
    ? Math.min(desired, Math.max(current, current - changed + rules.maxStep))
    : Math.max(desired, Math.min(current, current + changed - rules.maxStep));
}

/**
 * The history after a decision: its recommendation and per-replica rate, the scale it caused
 * (if the target accepted it), and nothing older than the longest window or period.
 */
export function updateHistory(
  history: ScalingHistory,
  decision: Decision,
  spec: AutoscalerSpec,
  now: number,
  scaled: { from: number; to: number } | null,
): ScalingHistory {
  const keepMs = Math.max(
    SETTLE_MS,
    1000 *
      Math.max(
        spec.scaleUp.stabilizationWindowSeconds,
        spec.scaleDown.stabilizationWindowSeconds,
        spec.scaleUp.periodSeconds,
        spec.scaleDown.periodSeconds,
      ),
  );
  const recent = <T extends { at: number }>(items: T[]) => items.filter((item) => now - item.at < keepMs);
  return {
    recommendations: recent(
      decision.recommendation === null
        ? history.recommendations
        : [...history.recommendations, { at: now, replicas: decision.recommendation }],
    ),
    scaleEvents: recent(scaled === null ? history.scaleEvents : [...history.scaleEvents, { at: now, ...scaled }]),
    perReplicaRate: decision.perReplicaRate,
    draining: decision.draining,
    lastDrainingAt: decision.draining ? now : history.lastDrainingAt,
    samples: decision.sample === null ? history.samples : keepSample(history.samples, decision.sample),
    riseSince: decision.riseSince,
    // A scale-up waits for its members; any other change of the count ends the wait. A start from
    // none (an operator's first 0 -> 1) is not waited for: its members join an empty group, with no
    // running member to stop and rejoin, in a third of a scale-up's lead (0.34 s against about 1 s
    // locally). Measured, that lead shortened the horizon of the next burst's lag rule, and a
    // burst of 300 over 3 s went 1 -> 5 -> 6 in 36 of the 2520 runs of the burst model.
    pendingScaleUp:
      scaled !== null ? (scaled.to > scaled.from && scaled.from > 0 ? { at: now, to: scaled.to } : null) : decision.scaleUpJoined ? null : history.pendingScaleUp,
    scaleUpLeadSeconds: decision.scaleUpLeadSeconds,
    backloggedSince: decision.backloggedSince,
  };
}

/** How long after the lag monitor's sample time the operator reads it: time to publish it on /lag. */
export const READ_MARGIN_MS = 50;

/**
 * The wait until the next read of the lag monitor: just after one of its samples, when it samples
 * at least as often as the operator polls. The monitor samples Kafka on its own clock; read at a
 * random point of that clock, a burst would wait half a sample interval more on average (a whole
 * one at worst) before a decision sees it. The newest sample seen and the monitor's sample
 * interval give the clock (without the interval, as from an older monitor, the last two samples
 * seen). A poll reads the last sample due within a poll interval; while a rise is held for its
 * rate (riseStart), every sample. When the clock is not known (too few samples, or further apart
 * than a poll interval), or the next sample is already overdue (the monitor is late or down), the
 * plain poll interval.
 */
export function nextReadDelayMs(history: Pick<ScalingHistory, 'samples' | 'riseSince'>, spec: AutoscalerSpec, now: number): number {
  const pollMs = spec.pollIntervalSeconds * 1000;
  const last = history.samples.at(-1);
  const before = history.samples.at(-2);
  if (last === undefined) return pollMs;
  const interval = last.sampleIntervalMs ?? (before === undefined ? null : last.at - before.at);
  if (interval === null || interval <= 0 || interval > pollMs) return pollMs;
  // Each poll lands on the latest sample due within a poll interval; a rise held for its rate
  // (riseSince) reads every sample.
  const step = history.riseSince !== null ? interval : Math.floor(pollMs / interval) * interval;
  const due = last.at + step + READ_MARGIN_MS;
  return due > now ? due - now : pollMs;
}

/** The newest SAMPLES_KEPT distinct samples, `sample` among them (seen again, it replaces itself). */
function keepSample(samples: LagSample[], sample: LagSample): LagSample[] {
  return [...samples.filter((s) => s.at !== sample.at), sample].sort((a, b) => a.at - b.at).slice(-SAMPLES_KEPT);
}

function clamp(value: number, lower: number, upper: number): number {
  return Math.min(upper, Math.max(lower, value));
}

function fmt(value: number): string {
  return String(round(value));
}
