import { consumersNeeded, round, saturatedRate, SETTLE_MS } from '@bplab/kit';
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
}

/**
 * What the decision remembers between polls: raw recommendations for the stabilisation windows,
 * scale events for the per-period step limits, and the last per-replica rate measured while the
 * consumers were saturated.
 */
export interface ScalingHistory {
  recommendations: { at: number; replicas: number }[];
  scaleEvents: { at: number; from: number; to: number }[];
  perReplicaRate: number | null;
  /** Whether a backlog was draining at the last decision (see Decision.draining). */
  draining: boolean;
  /** The last time a backlog was draining. */
  lastDrainingAt: number | null;
}

export const emptyHistory: ScalingHistory = { recommendations: [], scaleEvents: [], perReplicaRate: null, draining: false, lastDrainingAt: null };

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
 * saturated in the kit: a backlog of one replica's worth, as many members as replicas, no scale
 * within SETTLE_MS, some consumption); otherwise the last such figure stands.
 */
export function perReplicaRate(
  snapshot: MetricsSnapshot,
  previous: number | null,
  context: { currentReplicas: number; lagThreshold: number; lastScaleAt: number | null; now: number },
): number | null {
  const group = { backlog: snapshot.totalLag, consumptionRate: snapshot.consumptionRate, members: snapshot.members, partitions: snapshot.partitionCount };
  const saturation = { backlogThreshold: context.lagThreshold, expectedMembers: context.currentReplicas, membershipChangedAt: context.lastScaleAt, now: context.now };
  return saturatedRate(group, saturation) ?? previous;
}

/**
 * The lag rule (KEDA's): lagThreshold messages per replica, for the lag expected at the next
 * poll rather than the lag now. While a burst is still arriving, sizing for the present asks for
 * too few and a second step (a second rebalance) follows one poll later. When consumers keep up,
 * growth is 0 and this is exactly ceil(totalLag / lagThreshold).
 */
export function lagRule(snapshot: MetricsSnapshot, spec: AutoscalerSpec): { replicas: number; reason: string } {
  const growth = Math.max(0, (snapshot.productionRate ?? 0) - (snapshot.consumptionRate ?? 0));
  const expectedLag = snapshot.totalLag + growth * spec.pollIntervalSeconds;
  const replicas = Math.ceil(expectedLag / spec.lagThreshold);
  const reason =
    growth > 0
      ? `lag ${snapshot.totalLag} growing ${fmt(growth)}/s, ${Math.round(expectedLag)} by the next poll / threshold ${spec.lagThreshold} needs ${replicas}`
      : `lag ${snapshot.totalLag} / threshold ${spec.lagThreshold} needs ${replicas}`;
  return { replicas, reason };
}

/**
 * The capacity rule: enough replicas at the measured per-replica rate to take the arrivals and
 * drain the backlog within targetDrainSeconds (consumersNeeded in the kit, as the lag monitor's
 * advice).
 */
export function capacityRule(snapshot: MetricsSnapshot, spec: AutoscalerSpec, rate: number): { replicas: number; reason: string } {
  const arrival = snapshot.productionRate ?? 0;
  const replicas = consumersNeeded({ arrivalRate: arrival, backlog: snapshot.totalLag, drainSeconds: spec.targetDrainSeconds }, rate);
  const reason = `capacity: (${fmt(arrival)} msg/s + lag ${snapshot.totalLag} / ${spec.targetDrainSeconds} s) / ${fmt(rate)} msg/s per replica needs ${replicas}`;
  return { replicas, reason };
}

/**
 * Whether a backlog is draining: lag reached lagThreshold, or a drain under way has not yet got
 * down to about one message per member (the ones in hand).
 */
export function isDraining(snapshot: MetricsSnapshot, lagThreshold: number, wasDraining: boolean): boolean {
  return snapshot.totalLag >= lagThreshold || (wasDraining && snapshot.totalLag > Math.max(1, snapshot.members));
}

/**
 * The drain hold, a rule the HPA lacks: no scale-down until a backlog has been drained for the
 * whole scale-down window. Without it a draining backlog steps replicas down one at a time
 * (6, 5, 4, ...) as its recommendations fall, and with Kafka's eager rebalancing every step stops
 * the whole group; with it, one step.
 */
export function drainHold(lastDrainingAt: number | null, spec: AutoscalerSpec, now: number): boolean {
  return lastDrainingAt !== null && now - lastDrainingAt < spec.scaleDown.stabilizationWindowSeconds * 1000;
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
  });
  if (spec.paused) return hold(Hold.paused, 'paused');
  if (snapshot === null) return hold(Hold.metricsUnavailable, 'metrics unavailable');
  if (snapshot.stale || now - snapshot.sampledAt > stalenessBoundMs(spec)) return hold(Hold.metricsStale, 'metrics stale');
  if (snapshot.partitionCount < 1) return hold(Hold.noPartitions, 'metrics unavailable: topic has no partitions');

  const lastScaleAt = history.scaleEvents.at(-1)?.at ?? null;
  const rate = perReplicaRate(snapshot, history.perReplicaRate, { currentReplicas, lagThreshold: spec.lagThreshold, lastScaleAt, now });
  const lag = lagRule(snapshot, spec);
  const capacity = rate === null ? null : capacityRule(snapshot, spec, rate);
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
  const holds: { by: StageHold; at: number }[] = [];
  const stabilised = stabilise(recommendation, currentReplicas, spec, history, now);
  let desired = stabilised;
  if (stabilised < currentReplicas && drainHold(draining ? now : history.lastDrainingAt, spec, now)) {
    desired = currentReplicas;
    holds.push({ by: Hold.drainHold, at: desired });
  } else if (stabilised !== recommendation) {
    holds.push({ by: stabilised > recommendation ? Hold.scaleDownWindow : Hold.scaleUpWindow, at: stabilised });
  }
  const stepped = limitStep(desired, currentReplicas, spec, history, now);
  if (stepped !== desired) holds.push({ by: Hold.stepLimit, at: stepped });
  desired = clamp(stepped, lower, upper);
  const held = holds.map((h) => ({ ...h, at: clamp(h.at, lower, upper) })).filter((h) => h.at !== recommendation);
  reasons.push(...held.map((h) => holdReason(h.by, h.at, spec)));

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
  };
}

/** The holds that act after a rule has run, in the order they act. */
type StageHold = typeof Hold.scaleUpWindow | typeof Hold.scaleDownWindow | typeof Hold.drainHold | typeof Hold.stepLimit;

function holdReason(hold: StageHold, at: number, spec: AutoscalerSpec): string {
  switch (hold) {
    case Hold.drainHold:
      return `held at ${at} until the backlog has been drained for the ${spec.scaleDown.stabilizationWindowSeconds} s scale-down window`;
    case Hold.scaleDownWindow:
      return `held at ${at} by the ${spec.scaleDown.stabilizationWindowSeconds} s scale-down window`;
    case Hold.scaleUpWindow:
      return `held at ${at} by the ${spec.scaleUp.stabilizationWindowSeconds} s scale-up window`;
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
  };
}

function clamp(value: number, lower: number, upper: number): number {
  return Math.min(upper, Math.max(lower, value));
}

function fmt(value: number): string {
  return String(round(value));
}
