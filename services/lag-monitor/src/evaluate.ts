/**
 * Burrow-style evaluation of a consumer group, per partition, over a sliding window of the
 * poller's offset samples (linkedin/Burrow, "Consumer Lag Evaluation Rules"), and the group's
 * status as its worst partition's. Pure: samples in, statuses out; no clock, no I/O.
 *
 * Burrow stores the offsets a group commits (with their commit times) and judges the last N of
 * them. We cannot read commit times: Kafka's admin API gives the committed offset only. So the
 * window here is time: every sample from the last one at or before `now - window` (the
 * baseline) up to the newest, where each sample holds per partition the committed offset, the
 * lag, and which member owns the partition (assignment.ts). The rules, first match wins:
 *
 * 0. paused (PAUSED): lag above 0 now, and the partition's owner published with its last commit
 *    that it paused itself (by hand or because its downstream is overloaded: the kit's
 *    consumer-state rides in the commit metadata). Reported at once, window or not: a pause is a
 *    decision, not a fault, and it is told apart from the stuck consumer of rule 4.
 * 1. window_incomplete (OK): the monitor has not watched the partition for a whole window yet
 *    (no sample at or before now - window holds it). Nothing is judged on part of a window.
 * 2. lag_zero_in_window (OK, Burrow's rule 1): lag was 0 at some sample of the window.
 * 3. stopped (STOP, Burrow's "STOP"): lag above 0 at every sample, the committed offset the same
 *    at every sample (so nothing was committed here for at least the window), and no member owns
 *    the partition now: the group is empty, or a stable group assigned the partition to nobody.
 *    Burrow tells STOP from STALL by the time since the last commit; without commit times, we
 *    tell them by whether anyone is there to commit.
 * 4. stalled (STALL, Burrow's rule 2): as 3, but a member owns the partition, and that member
 *    committed nothing on any of its partitions during the window: it is alive (it heartbeats,
 *    it keeps its assignment) and makes no progress: stuck processing. (A paused owner that
 *    published its pause is rule 0; one that did not, another tool's consumer, lands here.)
 * 5. waiting_for_owner (OK) / owner_not_keeping_up (WARN): as 4, but the owner did commit on its
 *    other partitions. Our consumers take one message at a time, one partition's batch after
 *    another, so a partition can wait a while for its turn. Fine while the owner's lag over all
 *    its partitions fell across the window; a WARN otherwise (the owner is falling behind).
 * 6. lag_not_falling (WARN, Burrow's rule 3): the committed offset moved, but lag at the end of
 *    the window is not below lag at its start. Burrow asks that lag never drops from one commit
 *    to the next; we see many samples per commit, where that would follow poll timing, so we
 *    compare the window's two ends.
 * 7. lag_falling (OK): commits advanced and lag fell.
 *
 * Without an owner known (a rebalancing group, an unreadable assignment) the group as a whole
 * counts as the owner of every partition, if it has members at all.
 */

import { round, type PausedBy } from '@bplab/kit';
import { trustedState } from './consumer-states.js';
import { effectiveCommitted, partitionLag, type OffsetSample } from './lag.js';

export const Evaluation = { OK: 'OK', PAUSED: 'PAUSED', WARN: 'WARN', STALL: 'STALL', STOP: 'STOP' } as const;
export type EvaluationStatus = (typeof Evaluation)[keyof typeof Evaluation];
/**
 * For metrics and for "worst of": 0 OK, 0.5 PAUSED, 1 WARN, 2 STALL, 3 STOP. PAUSED sits below
 * WARN, so a rule or query on ">= 1" (something is wrong) does not count a chosen pause.
 */
export const EVALUATION_LEVEL: Record<EvaluationStatus, number> = { OK: 0, PAUSED: 0.5, WARN: 1, STALL: 2, STOP: 3 };
export const EVALUATION_STATUSES = Object.values(Evaluation);

export const EvaluationRule = {
  paused: 'paused',
  windowIncomplete: 'window_incomplete',
  lagZeroInWindow: 'lag_zero_in_window',
  stopped: 'stopped',
  stalled: 'stalled',
  waitingForOwner: 'waiting_for_owner',
  ownerNotKeepingUp: 'owner_not_keeping_up',
  lagNotFalling: 'lag_not_falling',
  lagFalling: 'lag_falling',
} as const;
export type EvaluationRuleName = (typeof EvaluationRule)[keyof typeof EvaluationRule];

/** Stands for "the whole group" as owner when per-partition ownership is not known. */
export const GROUP_OWNER = '(the group)';

export interface PartitionPoint {
  at: number;
  committed: number;
  lag: number;
}

/** One partition's view of the window, all a rule needs. */
export interface PartitionWindow {
  partition: number;
  /** The baseline sample, then every later one holding the partition, oldest first (at least one). */
  points: PartitionPoint[];
  /** The baseline is at or before now - window. */
  complete: boolean;
  windowMs: number;
  /** Member id owning it now; GROUP_OWNER when unknown but the group has members; null: nobody. */
  owner: string | null;
  /** The owner's partitions (this one included), summed at the window's two ends. */
  ownerProgress: { committed: number; lagStart: number; lagEnd: number };
  /** The owner published that it paused itself (consumer-states.ts): which consumer, held by whom. */
  pausedBy: { consumer: string; by: PausedBy } | null;
}

export interface PartitionEvaluation {
  status: EvaluationStatus;
  rule: EvaluationRuleName;
  reason: string;
}

export interface GroupEvaluation {
  /** The worst partition's status (OK with no partitions). */
  status: EvaluationStatus;
  window_ms: number;
  /** Every partition has been watched for a whole window. */
  complete: boolean;
  counts: Record<EvaluationStatus, number>;
  /** The partitions at the group's status, when it is not OK. */
  worst_partitions: number[];
  reason: string;
}

const first = (w: PartitionWindow) => w.points[0]!;
const last = (w: PartitionWindow) => w.points.at(-1)!;
const spanSeconds = (w: PartitionWindow) => round((last(w).at - first(w).at) / 1000);

/** Burrow's rule 1: lag touched 0 somewhere in the window, so the consumer caught up. */
export function lagZeroInWindow(w: PartitionWindow): boolean {
  return w.points.some((p) => p.lag === 0);
}

/** Lag above 0 at every sample of the window. */
export function lagAlwaysPositive(w: PartitionWindow): boolean {
  return w.points.every((p) => p.lag > 0);
}

/** The committed offset is the same at every sample of the window (Burrow's "offsets stalled"). */
export function commitUnchanged(w: PartitionWindow): boolean {
  return w.points.every((p) => p.committed === first(w).committed);
}

/** PAUSED: lag waits on an owner that published its pause. */
export function pausedByOwner(w: PartitionWindow): boolean {
  return w.pausedBy !== null && last(w).lag > 0;
}

/** STOP: lag, no commit for the whole window, and nobody owns the partition to commit. */
export function stopped(w: PartitionWindow): boolean {
  return w.complete && lagAlwaysPositive(w) && commitUnchanged(w) && w.owner === null;
}

/** STALL: lag, no commit for the whole window, and its owner committed nothing anywhere. */
export function stalled(w: PartitionWindow): boolean {
  return w.complete && lagAlwaysPositive(w) && commitUnchanged(w) && w.owner !== null && w.ownerProgress.committed <= 0;
}

/** No commit here, but its owner is busy with its other partitions. */
export function waitingForOwner(w: PartitionWindow): boolean {
  return w.complete && lagAlwaysPositive(w) && commitUnchanged(w) && w.owner !== null && w.ownerProgress.committed > 0;
}

/** The owner's lag over all its partitions fell across the window. */
export function ownerLagFell(w: PartitionWindow): boolean {
  return w.ownerProgress.lagEnd < w.ownerProgress.lagStart;
}

/** WARN (Burrow's rule 3): lag at the end of the window is not below lag at its start. */
export function lagNotFalling(w: PartitionWindow): boolean {
  return last(w).lag >= first(w).lag;
}

export function evaluatePartition(w: PartitionWindow): PartitionEvaluation {
  const seconds = spanSeconds(w);
  const windowSeconds = w.windowMs / 1000;
  const { lag, committed } = last(w);
  const owner = w.owner === GROUP_OWNER ? 'the group' : `its owner ${w.owner}`;
  const ownerLag = `${w.ownerProgress.lagStart} -> ${w.ownerProgress.lagEnd}`;
  const result = (status: EvaluationStatus, rule: EvaluationRuleName, reason: string) => ({ status, rule, reason });

  if (pausedByOwner(w)) return result(Evaluation.PAUSED, EvaluationRule.paused, `lag ${lag}: ${w.pausedBy!.consumer} is paused (${w.pausedBy!.by}), staying in the group`);
  if (!w.complete) return result(Evaluation.OK, EvaluationRule.windowIncomplete, `watched for ${seconds} s of the ${windowSeconds} s window: not judged yet`);
  if (lagZeroInWindow(w)) return result(Evaluation.OK, EvaluationRule.lagZeroInWindow, `lag was 0 within the last ${seconds} s`);
  if (stopped(w)) return result(Evaluation.STOP, EvaluationRule.stopped, `lag ${lag}, committed offset ${committed} unchanged for ${seconds} s, and no member owns the partition`);
  if (stalled(w)) {
    return result(Evaluation.STALL, EvaluationRule.stalled, `lag ${lag}, committed offset ${committed} unchanged for ${seconds} s, and ${owner} committed nothing on any partition: stuck (or paused)`);
  }
  if (waitingForOwner(w)) {
    return ownerLagFell(w)
      ? result(Evaluation.OK, EvaluationRule.waitingForOwner, `waiting its turn: ${owner} committed ${w.ownerProgress.committed} on its other partitions and its lag fell ${ownerLag}`)
      : result(Evaluation.WARN, EvaluationRule.ownerNotKeepingUp, `no commit here for ${seconds} s; ${owner} committed ${w.ownerProgress.committed} elsewhere but its lag did not fall (${ownerLag})`);
  }
  const advanced = committed - first(w).committed;
  if (lagNotFalling(w)) return result(Evaluation.WARN, EvaluationRule.lagNotFalling, `committed ${advanced} in ${seconds} s but lag did not fall (${first(w).lag} -> ${lag})`);
  return result(Evaluation.OK, EvaluationRule.lagFalling, `lag fell ${first(w).lag} -> ${lag} in ${seconds} s`);
}

/** The worst of some statuses: STOP over STALL over WARN over PAUSED over OK; OK for none. */
export function worst(statuses: EvaluationStatus[]): EvaluationStatus {
  return statuses.reduce<EvaluationStatus>((a, b) => (EVALUATION_LEVEL[b] > EVALUATION_LEVEL[a] ? b : a), Evaluation.OK);
}

/** The group's evaluation: its worst partition's status, with what made it so. */
export function evaluateGroup(partitions: { partition: number; evaluation: PartitionEvaluation }[], windowMs: number): GroupEvaluation {
  const status = worst(partitions.map((p) => p.evaluation.status));
  const counts = Object.fromEntries(EVALUATION_STATUSES.map((s) => [s, 0])) as Record<EvaluationStatus, number>;
  for (const p of partitions) counts[p.evaluation.status] += 1;
  const worstOnes = status === Evaluation.OK ? [] : partitions.filter((p) => p.evaluation.status === status);
  const complete = partitions.every((p) => p.evaluation.rule !== EvaluationRule.windowIncomplete);
  const reason =
    worstOnes.length > 0
      ? `${status} on partition${worstOnes.length > 1 ? 's' : ''} ${worstOnes.map((p) => p.partition).join(', ')}: ${worstOnes[0]!.evaluation.reason}`
      : complete
        ? `every partition OK over the last ${windowMs / 1000} s`
        : `not judged yet: the monitor has watched for less than the ${windowMs / 1000} s window`;
  return { status, window_ms: windowMs, complete, counts, worst_partitions: worstOnes.map((p) => p.partition), reason };
}

/** Who owns a partition of a sample: its member, the group when unknown, null for nobody. */
function ownerIn(sample: OffsetSample, p: OffsetSample['partitions'][number]): string | null {
  if (sample.members === 0) return null;
  if (p.owner !== undefined) return p.owner;
  return GROUP_OWNER;
}

/**
 * Each partition's window from the samples (oldest first, as the tracker keeps them): the
 * baseline is the newest sample at or before `now - windowMs`, now the newest sample.
 */
export function partitionWindows(samples: OffsetSample[], windowMs: number): PartitionWindow[] {
  const latest = samples.at(-1);
  if (!latest) return [];
  const baselineIndex = samples.findLastIndex((s) => s.at <= latest.at - windowMs);
  const window = samples.slice(Math.max(0, baselineIndex));
  const baseline = baselineIndex >= 0 ? samples[baselineIndex]! : undefined;
  const owners = new Map(latest.partitions.map((p) => [p.partition, ownerIn(latest, p)]));
  const at = (s: OffsetSample | undefined, partition: number) => s?.partitions.find((x) => x.partition === partition);

  const ownerProgress = (owner: string | null) => {
    const progress = { committed: 0, lagStart: 0, lagEnd: 0 };
    if (owner === null) return progress;
    for (const [partition, o] of owners) {
      const start = at(window[0], partition);
      const end = at(latest, partition);
      if (o !== owner || !start || !end) continue;
      progress.committed += effectiveCommitted(end) - effectiveCommitted(start);
      progress.lagStart += partitionLag(start);
      progress.lagEnd += partitionLag(end);
    }
    return progress;
  };

  return latest.partitions
    .map((p) => {
      const points = window.flatMap((s) => {
        const x = at(s, p.partition);
        return x ? [{ at: s.at, committed: effectiveCommitted(x), lag: partitionLag(x) }] : [];
      });
      const owner = owners.get(p.partition) ?? null;
      const state = trustedState(p);
      const pausedBy = state?.paused_by ? { consumer: state.consumer, by: state.paused_by } : null;
      return { partition: p.partition, points, complete: at(baseline, p.partition) !== undefined, windowMs, owner, ownerProgress: ownerProgress(owner), pausedBy };
    })
    .sort((a, b) => a.partition - b.partition);
}

/** Every partition's evaluation and the group's, from the tracker's samples. */
export function evaluate(samples: OffsetSample[], windowMs: number): { partitions: Map<number, PartitionEvaluation>; group: GroupEvaluation } {
  const evaluated = partitionWindows(samples, windowMs).map((w) => ({ partition: w.partition, evaluation: evaluatePartition(w) }));
  return { partitions: new Map(evaluated.map((p) => [p.partition, p.evaluation])), group: evaluateGroup(evaluated, windowMs) };
}
