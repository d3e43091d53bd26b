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

export type Limit = 'partitions' | 'maxReplicas' | 'minReplicas';

export interface Decision {
  desiredReplicas: number;
  reason: string;
  /** False when the decision held the current count without a recommendation (no or stale metrics, paused). */
  recommended: boolean;
  /** The recommendation before stabilisation and step limits, already within the bounds. */
  recommendation: number | null;
  lagReplicas: number | null;
  capacityReplicas: number | null;
  perReplicaRate: number | null;
  /** The bound that cut the raw recommendation, if any. */
  limitedBy: Limit | null;
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

/**
 * The capacity rule's tolerance, as the HPA's: a need within 10 % of a whole replica does not
 * ask for another one, so measurement noise at steady load never adds a consumer.
 */
export const CAPACITY_TOLERANCE = 0.1;

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
 * After a scale the group rebalances and consumption stalls for a moment; the lag monitor's rate
 * window still holds that stall for a while. No per-replica figure is taken until it has passed.
 */
export const SETTLE_AFTER_SCALE_MS = 15_000;

/**
 * The per-replica consumption rate, measured only while the consumers are saturated; otherwise
 * the last such figure stands. Saturated means all of:
 * - a backlog of at least one replica's worth (lagThreshold): at light load lag blips to 1 or 2
 *   (the message in hand counts), and consumption there is the arrival rate, not capacity;
 * - as many group members as the target has replicas: nobody is joining or leaving;
 * - no scale within SETTLE_AFTER_SCALE_MS, so no rebalance stall sits in the rate window;
 * - some consumption (a paused group says nothing about capacity).
 * Without these, every scale-up's rebalance lowers the figure, which asks for more replicas:
 * a runaway to the maximum under steady light load (seen in the demo before this rule).
 */
export function perReplicaRate(
  snapshot: MetricsSnapshot,
  previous: number | null,
  context: { currentReplicas: number; lagThreshold: number; lastScaleAt: number | null; now: number },
): number | null {
  const { totalLag, consumptionRate, members, partitionCount } = snapshot;
  const settled = context.lastScaleAt === null || context.now - context.lastScaleAt >= SETTLE_AFTER_SCALE_MS;
  const saturated = totalLag >= context.lagThreshold && members === context.currentReplicas && settled;
  if (saturated && consumptionRate !== null && consumptionRate > 0 && members > 0) {
    // More members than partitions leaves the extra ones idle: only the busy ones count.
    return consumptionRate / Math.min(members, partitionCount);
  }
  return previous;
}

export function decide({ snapshot, currentReplicas, spec, history, now }: DecisionInput): Decision {
  const hold = (reason: string): Decision => ({
    desiredReplicas: currentReplicas,
    reason,
    recommended: false,
    recommendation: null,
    lagReplicas: null,
    capacityReplicas: null,
    perReplicaRate: history.perReplicaRate,
    limitedBy: null,
    draining: history.draining,
  });
  if (spec.paused) return hold('paused');
  if (snapshot === null) return hold('metrics unavailable');
  if (snapshot.stale || now - snapshot.sampledAt > stalenessBoundMs(spec)) return hold('metrics stale');
  if (snapshot.partitionCount < 1) return hold('metrics unavailable: topic has no partitions');

  const lastScaleAt = history.scaleEvents.at(-1)?.at ?? null;
  const rate = perReplicaRate(snapshot, history.perReplicaRate, { currentReplicas, lagThreshold: spec.lagThreshold, lastScaleAt, now });
  // The lag rule sizes for the lag expected at the next poll, not the lag now: while a burst is
  // still arriving, sizing for the present asks for too few and a second step (a second
  // rebalance) follows one poll later. When consumers keep up, growth is 0 and this is
  // exactly ceil(totalLag / lagThreshold).
  const growth = Math.max(0, (snapshot.productionRate ?? 0) - (snapshot.consumptionRate ?? 0));
  const expectedLag = snapshot.totalLag + growth * spec.pollIntervalSeconds;
  const lagReplicas = Math.ceil(expectedLag / spec.lagThreshold);
  const lagReason =
    growth > 0
      ? `lag ${snapshot.totalLag} growing ${fmt(growth)}/s, ${Math.round(expectedLag)} by the next poll / threshold ${spec.lagThreshold} needs ${lagReplicas}`
      : `lag ${snapshot.totalLag} / threshold ${spec.lagThreshold} needs ${lagReplicas}`;
  let capacityReplicas: number | null = null;
  const reasons: string[] = [];
  if (rate !== null) {
    const arrival = snapshot.productionRate ?? 0;
    const need = (arrival + snapshot.totalLag / spec.targetDrainSeconds) / rate;
    capacityReplicas = Math.max(0, Math.ceil(need - CAPACITY_TOLERANCE));
    reasons.push(
      capacityReplicas > lagReplicas
        ? `capacity: (${fmt(arrival)} msg/s + lag ${snapshot.totalLag} / ${spec.targetDrainSeconds} s) / ${fmt(rate)} msg/s per replica needs ${capacityReplicas}`
        : lagReason,
    );
  } else {
    reasons.push(lagReason);
  }
  const raw = Math.max(lagReplicas, capacityReplicas ?? 0);

  const { lower, upper } = replicaBounds(spec, snapshot.partitionCount);
  let limitedBy: Limit | null = null;
  if (raw > upper) {
    // When both bind, the partition count is the one that matters: say so.
    limitedBy = !spec.allowIdleConsumers && snapshot.partitionCount <= spec.maxReplicas ? 'partitions' : 'maxReplicas';
    reasons.push(limitedBy === 'partitions' ? `capped at ${upper} partitions` : `capped at maxReplicas ${upper}`);
  } else if (raw < lower) {
    limitedBy = 'minReplicas';
    reasons.push(`raised to minReplicas ${lower}`);
  }
  const recommendation = clamp(raw, lower, upper);

  const draining = snapshot.totalLag >= spec.lagThreshold || (history.draining && snapshot.totalLag > Math.max(1, snapshot.members));
  const lastDrainingAt = draining ? now : history.lastDrainingAt;
  let desired = stabilise(recommendation, currentReplicas, spec, history, now);
  if (desired < currentReplicas && lastDrainingAt !== null && now - lastDrainingAt < spec.scaleDown.stabilizationWindowSeconds * 1000) {
    desired = currentReplicas;
    reasons.push(`held at ${desired} until the backlog has been drained for the ${spec.scaleDown.stabilizationWindowSeconds} s scale-down window`);
  } else if (desired !== recommendation) {
    const which = desired > recommendation ? spec.scaleDown : spec.scaleUp;
    reasons.push(`held at ${desired} by the ${which.stabilizationWindowSeconds} s ${desired > recommendation ? 'scale-down' : 'scale-up'} window`);
  }
  const stepped = limitStep(desired, currentReplicas, spec, history, now);
  if (stepped !== desired) reasons.push(`step limited to ${stepped}`);
  // The bounds win over everything: a lowered maxReplicas or partition count applies at once.
  desired = clamp(stepped, lower, upper);

  return {
    desiredReplicas: desired,
    reason: reasons.join('; '),
    recommended: true,
    recommendation,
    lagReplicas,
    capacityReplicas,
    perReplicaRate: rate,
    limitedBy,
    draining,
  };
}

/**
 * HPA's stabilisation: scale up only to the lowest recommendation inside the scale-up window,
 * down only to the highest inside the scale-down window (the current one included), so a
 * short dip in lag never removes consumers that the next burst needs. decide() adds one rule the
 * HPA lacks: no scale-down until a backlog has been fully drained for the whole window. Without
 * it a draining backlog steps replicas down one at a time (6, 5, 4, ...) as its recommendations
 * fall, and with Kafka's eager rebalancing every step stops the whole group; with it, one step.
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

/** At most maxStep replicas added (removed) relative to the count at the start of the period. */
function limitStep(desired: number, current: number, spec: AutoscalerSpec, history: ScalingHistory, now: number): number {
  const rules = desired > current ? spec.scaleUp : spec.scaleDown;
  if (desired === current || rules.maxStep === undefined) return desired;
  const inPeriod = history.scaleEvents.filter((e) => now - e.at < rules.periodSeconds * 1000);
  const periodStart = inPeriod.length > 0 ? inPeriod[0]!.from : current;
  return desired > current
    ? Math.min(desired, Math.max(current, periodStart + rules.maxStep))
    : Math.max(desired, Math.min(current, periodStart - rules.maxStep));
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
    SETTLE_AFTER_SCALE_MS,
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
  return String(Math.round(value * 100) / 100);
}
