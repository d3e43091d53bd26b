/**
 * The producer's closed loop on the lag monitor's status: when to slow down, to what, and when to
 * go back to full speed. Pure: the loop (throttle-loop.ts) reads GET /lag and passes the clock in;
 * every rule here is table-tested.
 *
 *   off        the throttle is disabled: full speed, the lag monitor is not read
 *   open       enabled, full speed
 *   throttled  the monitor said critical: at most `fraction` x the consumers' measured rate
 *   holding    critical with nothing consumed (or no rate yet): nothing is sent, orders wait
 *
 * critical -> throttled (or holding); ok -> open; warning keeps the mode and its limit
 * (hysteresis: the producer opens only once the backlog is really gone, and slows only once it
 * is really too big). No usable report (unreachable, an error, stale data) keeps the mode too,
 * except that holding opens once there has been no fresh report for `blindMs`: without a
 * signal, the producer never waits forever.
 */
import { round } from '@bplab/kit';

export const THROTTLE_MODES = ['off', 'open', 'throttled', 'holding'] as const;
export type ThrottleMode = (typeof THROTTLE_MODES)[number];

/** The lag monitor's statuses (its GET /lag `status`). */
export const LAG_STATUSES = ['ok', 'warning', 'critical'] as const;
export type LagStatus = (typeof LAG_STATUSES)[number];

/** How a read of GET /lag went: a fresh report, a report on stale data, or none at all. */
export const POLL_RESULTS = ['ok', 'stale', 'unreachable'] as const;
export type PollResult = (typeof POLL_RESULTS)[number];

export interface ThrottleSettings {
  /** The limit is this share (0..1] of the consumers' measured rate, so a backlog drains while throttled. */
  fraction: number;
  /** Holding lasts at most this long without a fresh report; then the producer opens. */
  blindMs: number;
}

/** The fields of one GET /lag that the decision reads. */
export interface LagReading {
  status: LagStatus;
  totalLag: number;
  /** Messages per second the group committed over the monitor's rate window; null until two samples. */
  consumptionRate: number | null;
}

export type Poll =
  | { result: 'ok'; report: LagReading }
  /** The monitor answered, but its own last poll of Kafka failed: its numbers are old. */
  | { result: 'stale'; report: LagReading }
  | { result: 'unreachable'; error: string };

export interface ThrottleState {
  mode: ThrottleMode;
  /** Orders per second the producer is held to: null without a limit (off, open), 0 while holding. */
  limit: number | null;
  /** When the mode last changed (ms). */
  since: number;
  /** Why the current mode, in words. */
  reason: string;
  /** The last fresh report, and when it came (ms). */
  lastReport: LagReading | null;
  lastReportAt: number | null;
  /** How the last read went, and its error if it failed. */
  lastPoll: PollResult | null;
  lastError: string | null;
}

export function initialState(enabled: boolean, now: number): ThrottleState {
  return {
    mode: enabled ? 'open' : 'off',
    limit: null,
    since: now,
    reason: enabled ? REASONS.enabled : REASONS.disabled,
    lastReport: null,
    lastReportAt: null,
    lastPoll: null,
    lastError: null,
  };
}

const REASONS = {
  enabled: 'throttle enabled: full speed until the lag monitor reports critical',
  disabled: 'throttle disabled',
  ok: 'the lag monitor reports ok: full speed',
} as const;

/** The limit for a measured consumption rate: never so small that it rounds to a hold. */
export function limitFor(consumptionRate: number, fraction: number): number {
  return Math.max(0.01, round(consumptionRate * fraction));
}

function moveTo(state: ThrottleState, mode: ThrottleMode, limit: number | null, reason: string, now: number): ThrottleState {
  return { ...state, mode, limit, reason, since: mode === state.mode ? state.since : now };
}

/** POST /throttle: enabling starts open (until the next report), disabling turns it off. */
export function setEnabled(state: ThrottleState, enabled: boolean, now: number): ThrottleState {
  if (enabled && state.mode === 'off') return moveTo(state, 'open', null, REASONS.enabled, now);
  if (!enabled && state.mode !== 'off') return moveTo(state, 'off', null, REASONS.disabled, now);
  return state;
}

/** The next state after one read of the lag monitor. */
export function observe(state: ThrottleState, poll: Poll, settings: ThrottleSettings, now: number): ThrottleState {
  if (poll.result !== 'ok') {
    const error = poll.result === 'stale' ? 'the lag monitor reports stale data: its last poll of Kafka failed' : poll.error;
    const next = { ...state, lastPoll: poll.result, lastError: error };
    const blindFor = now - (state.lastReportAt ?? state.since);
    if (state.mode === 'holding' && blindFor >= settings.blindMs) {
      return moveTo(next, 'open', null, `no fresh lag report for ${Math.round(blindFor / 1000)} s while holding (${error}): full speed rather than hold forever`, now);
    }
    return next;
  }
  const report = poll.report;
  const next: ThrottleState = { ...state, lastReport: report, lastReportAt: now, lastPoll: 'ok', lastError: null };
  if (state.mode === 'off') return next;
  switch (report.status) {
    case 'ok':
      return moveTo(next, 'open', null, REASONS.ok, now);
    case 'warning':
      return next;
    case 'critical': {
      const rate = report.consumptionRate;
      if (rate === null || rate <= 0) {
        const why = rate === null ? 'no consumption rate measured yet' : 'the consumers commit nothing';
        return moveTo(next, 'holding', 0, `lag ${report.totalLag} is critical and ${why}: holding every order`, now);
      }
      const limit = limitFor(rate, settings.fraction);
      return moveTo(next, 'throttled', limit, `lag ${report.totalLag} is critical: ${settings.fraction} x the consumers' ${rate} msg/s = ${limit} msg/s`, now);
    }
  }
}
