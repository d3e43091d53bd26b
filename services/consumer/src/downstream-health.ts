/**
 * Automatic pause and resume with hysteresis, the pure part: a sliding window over the
 * downstream's recent writes and probes, its p50 latency and error rate, and a two-state
 * controller that pauses above a high-water mark and resumes only after the window has stayed
 * below a low-water mark for a hold time. No I/O, no clock: every call is given `now`.
 *
 * Calls still in flight count too, once they have waited longer than the low-water latency: a
 * call unanswered for 3 s is a sample of at least 3 s. Without them a consumer that writes one
 * batch at a time would see one completed sample per latency period, and a downstream slower than
 * the window would never be judged.
 */

/** How the window looks against the thresholds. */
export const HealthLevel = {
  /** Fewer than minSamples observations in the window: no verdict. */
  unknown: 'unknown',
  /** p50 at or below the resume latency and error rate at or below the resume rate (low-water). */
  healthy: 'healthy',
  /** Between the marks: neither pauses nor counts towards a resume. */
  degraded: 'degraded',
  /** p50 at or above the pause latency, or error rate at or above the pause rate (high-water). */
  overloaded: 'overloaded',
} as const;
export type HealthLevel = (typeof HealthLevel)[keyof typeof HealthLevel];

/** The controller's state: consuming, or paused because of the downstream. */
export const ControlState = { running: 'running', paused: 'paused' } as const;
export type ControlState = (typeof ControlState)[keyof typeof ControlState];

export const Transition = { pause: 'pause', resume: 'resume' } as const;
export type Transition = (typeof Transition)[keyof typeof Transition];

export interface Thresholds {
  /** High-water: pause when the window's p50 latency reaches this. */
  pauseP50Ms: number;
  /** Low-water: below-or-at this (and the resume error rate) counts towards a resume; < pauseP50Ms. */
  resumeP50Ms: number;
  /** High-water: pause when the window's error rate (0..1) reaches this. */
  pauseErrorRate: number;
  /** Low-water for the error rate; < pauseErrorRate. */
  resumeErrorRate: number;
  /** The sliding window: observations older than this are forgotten. */
  windowMs: number;
  /** No verdict on fewer samples (completed calls in the window, plus slow calls in flight) than this. */
  minSamples: number;
  /**
   * The hysteresis hold: a resume needs the window healthy for this long without a break, and
   * the controller never changes state twice within it (no flapping faster than the hold).
   */
  holdMs: number;
}

/** One write or probe of the downstream: when it ended, how long it took, whether it succeeded. */
export interface Observation {
  at: number;
  latencyMs: number;
  ok: boolean;
}

export interface WindowStats {
  samples: number;
  p50LatencyMs: number | null;
  errorRate: number | null;
  level: HealthLevel;
}

export interface Controller {
  state: ControlState;
  /** The last transition (ms since epoch); null before the first. */
  changedAt: number | null;
  /** While paused: since when every step has seen a healthy window; null otherwise. */
  healthySince: number | null;
  /** The window, oldest first. */
  observations: readonly Observation[];
}

/** At most this many observations are kept, however short the window. */
export const MAX_OBSERVATIONS = 2000;

export function initialController(): Controller {
  return { state: ControlState.running, changedAt: null, healthySince: null, observations: [] };
}

/**
 * Adds observations (in the order they ended) and forgets what has left the window: one copy of
 * the window however many are added, so a busy consumer can add them in bulk.
 */
export function record(controller: Controller, observations: readonly Observation[], thresholds: Thresholds): Controller {
  const last = observations.at(-1);
  if (last === undefined) return controller;
  return { ...controller, observations: trim([...controller.observations, ...observations], thresholds, last.at) };
}

function trim(observations: readonly Observation[], thresholds: Thresholds, now: number): Observation[] {
  const recent = observations.filter((o) => now - o.at < thresholds.windowMs);
  return recent.slice(Math.max(0, recent.length - MAX_OBSERVATIONS));
}

/** The p50 (nearest rank: the smallest value with at least half the samples at or below it). */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length / 2) - 1]!;
}

/**
 * The window's verdict. `inFlight` holds the start times of calls not yet answered: each one that
 * has waited longer than resumeP50Ms is a latency sample of its wait so far (a lower bound, so it
 * can only ever argue against health). The error rate is over completed calls only.
 */
export function windowStats(observations: readonly Observation[], thresholds: Thresholds, now: number, inFlight: readonly number[] = []): WindowStats {
  const recent = observations.filter((o) => now - o.at < thresholds.windowMs);
  const waiting = inFlight.map((started) => now - started).filter((waited) => waited > thresholds.resumeP50Ms);
  const latencies = [...recent.map((o) => o.latencyMs), ...waiting];
  const samples = latencies.length;
  const p50LatencyMs = median(latencies);
  const errorRate = recent.length === 0 ? null : recent.filter((o) => !o.ok).length / recent.length;
  return { samples, p50LatencyMs, errorRate, level: levelOf(samples, p50LatencyMs, errorRate, thresholds) };
}

function levelOf(samples: number, p50: number | null, errorRate: number | null, t: Thresholds): HealthLevel {
  if (samples < t.minSamples || p50 === null) return HealthLevel.unknown;
  if (p50 >= t.pauseP50Ms || (errorRate ?? 0) >= t.pauseErrorRate) return HealthLevel.overloaded;
  // Healthy needs completed calls: a verdict of health from waits alone is impossible anyway.
  if (errorRate !== null && p50 <= t.resumeP50Ms && errorRate <= t.resumeErrorRate) return HealthLevel.healthy;
  return HealthLevel.degraded;
}

export interface Step {
  controller: Controller;
  transition: Transition | null;
  stats: WindowStats;
  /** For people: why the controller did what it did (or waits). */
  reason: string;
}

/**
 * One evaluation. Running: pause when the window is overloaded, unless the last transition was
 * less than holdMs ago. Paused: resume once every evaluation for holdMs has seen a healthy window
 * (any other level restarts the hold). Call it often (the driver does every 200 ms) and after
 * each observation.
 */
export function step(controller: Controller, thresholds: Thresholds, now: number, inFlight: readonly number[] = []): Step {
  const observations = trim(controller.observations, thresholds, now);
  const stats = windowStats(observations, thresholds, now, inFlight);
  const current = { ...controller, observations };
  const describe = `p50 ${stats.p50LatencyMs ?? '-'} ms, errors ${stats.errorRate === null ? '-' : pct(stats.errorRate)} over ${stats.samples} samples`;

  if (controller.state === ControlState.running) {
    if (stats.level !== HealthLevel.overloaded) return { controller: current, transition: null, stats, reason: `running: ${describe}` };
    if (controller.changedAt !== null && now - controller.changedAt < thresholds.holdMs) {
      return { controller: current, transition: null, stats, reason: `overloaded (${describe}) but resumed less than ${thresholds.holdMs} ms ago` };
    }
    return {
      controller: { ...current, state: ControlState.paused, changedAt: now, healthySince: null },
      transition: Transition.pause,
      stats,
      reason: `paused: ${describe} reaches p50 ${thresholds.pauseP50Ms} ms or errors ${pct(thresholds.pauseErrorRate)}`,
    };
  }

  const healthySince = stats.level === HealthLevel.healthy ? (controller.healthySince ?? now) : null;
  if (healthySince !== null && now - healthySince >= thresholds.holdMs) {
    return {
      controller: { ...current, state: ControlState.running, changedAt: now, healthySince: null },
      transition: Transition.resume,
      stats,
      reason: `resumed: ${describe}, at or below p50 ${thresholds.resumeP50Ms} ms and errors ${pct(thresholds.resumeErrorRate)} for ${thresholds.holdMs} ms`,
    };
  }
  const waiting = healthySince === null ? `waiting for a healthy window (${describe})` : `healthy for ${now - healthySince} of ${thresholds.holdMs} ms (${describe})`;
  return { controller: { ...current, healthySince }, transition: null, stats, reason: `paused: ${waiting}` };
}

/**
 * Back to running with an empty window, as after a manual resume: the operator's word stands for
 * at least holdMs before the controller may pause again.
 */
export function reset(now: number): Controller {
  return { ...initialController(), changedAt: now };
}

function pct(rate: number): string {
  return `${Math.round(rate * 1000) / 10} %`;
}
