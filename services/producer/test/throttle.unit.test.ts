import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  initialState,
  LAG_STATUSES,
  limitFor,
  observe,
  setEnabled,
  THROTTLE_MODES,
  type LagStatus,
  type Poll,
  type ThrottleMode,
  type ThrottleSettings,
  type ThrottleState,
} from '../src/throttle.js';

const T0 = 1_700_000_000_000;
const settings: ThrottleSettings = { fraction: 0.8, blindMs: 30_000 };

/** A state in `mode` since T0, with a fresh report at T0 that fits the mode. */
function inMode(mode: ThrottleMode): ThrottleState {
  const limit = { off: null, open: null, throttled: 8, holding: 0 }[mode];
  const status: LagStatus = mode === 'throttled' || mode === 'holding' ? 'critical' : 'ok';
  return {
    ...initialState(mode !== 'off', T0),
    mode,
    limit,
    lastReport: { status, totalLag: 600, consumptionRate: mode === 'holding' ? 0 : 10 },
    lastReportAt: T0,
    lastPoll: 'ok',
  };
}

const report = (status: LagStatus, consumptionRate: number | null): Poll => ({ result: 'ok', report: { status, totalLag: 700, consumptionRate } });
const unreachable: Poll = { result: 'unreachable', error: 'GET http://127.0.0.1:8010/lag: connect ECONNREFUSED' };
const stale: Poll = { result: 'stale', report: { status: 'ok', totalLag: 0, consumptionRate: 10 } };

describe('observe: the mode after one read of the lag monitor', () => {
  const LATER = T0 + 5000;
  it.each([
    // ok: full speed from anywhere
    { from: 'open', poll: report('ok', 10), mode: 'open', limit: null },
    { from: 'throttled', poll: report('ok', 10), mode: 'open', limit: null },
    { from: 'holding', poll: report('ok', 0), mode: 'open', limit: null },
    { from: 'holding', poll: report('ok', null), mode: 'open', limit: null },
    // warning: hysteresis, the mode and its limit stay
    { from: 'open', poll: report('warning', 10), mode: 'open', limit: null },
    { from: 'throttled', poll: report('warning', 20), mode: 'throttled', limit: 8 },
    { from: 'throttled', poll: report('warning', 0), mode: 'throttled', limit: 8 },
    { from: 'holding', poll: report('warning', 10), mode: 'holding', limit: 0 },
    // critical: the consumers' measured rate x fraction, or a hold when they do nothing
    { from: 'open', poll: report('critical', 10), mode: 'throttled', limit: 8 },
    { from: 'open', poll: report('critical', 2.5), mode: 'throttled', limit: 2 },
    { from: 'throttled', poll: report('critical', 25), mode: 'throttled', limit: 20 },
    { from: 'holding', poll: report('critical', 10), mode: 'throttled', limit: 8 },
    { from: 'open', poll: report('critical', 0), mode: 'holding', limit: 0 },
    { from: 'open', poll: report('critical', null), mode: 'holding', limit: 0 },
    { from: 'throttled', poll: report('critical', 0), mode: 'holding', limit: 0 },
    { from: 'open', poll: report('critical', 0.001), mode: 'throttled', limit: 0.01 },
    // no usable report: the mode stays
    { from: 'open', poll: unreachable, mode: 'open', limit: null },
    { from: 'throttled', poll: unreachable, mode: 'throttled', limit: 8 },
    { from: 'holding', poll: unreachable, mode: 'holding', limit: 0 },
    { from: 'throttled', poll: stale, mode: 'throttled', limit: 8 },
    { from: 'holding', poll: stale, mode: 'holding', limit: 0 },
    // disabled: reads change nothing
    { from: 'off', poll: report('critical', 10), mode: 'off', limit: null },
    { from: 'off', poll: report('critical', 0), mode: 'off', limit: null },
    { from: 'off', poll: unreachable, mode: 'off', limit: null },
  ] as const)('$from + $poll.result $poll.report.status rate $poll.report.consumptionRate -> $mode at $limit', ({ from, poll, mode, limit }) => {
    const next = observe(inMode(from), poll, settings, LATER);
    expect(next.mode).toBe(mode);
    expect(next.limit).toBe(limit);
    expect(next.since).toBe(mode === from ? T0 : LATER);
  });

  it('records a fresh report; a stale or missing one is reported, not recorded', () => {
    const fresh = observe(inMode('throttled'), report('warning', 12), settings, T0 + 1000);
    expect(fresh).toMatchObject({ lastReport: { status: 'warning', consumptionRate: 12 }, lastReportAt: T0 + 1000, lastPoll: 'ok', lastError: null });
    const down = observe(fresh, unreachable, settings, T0 + 2000);
    expect(down).toMatchObject({ lastReport: { status: 'warning' }, lastReportAt: T0 + 1000, lastPoll: 'unreachable', lastError: expect.stringMatching(/ECONNREFUSED/) });
    const old = observe(fresh, stale, settings, T0 + 2000);
    expect(old).toMatchObject({ lastReport: { status: 'warning' }, lastReportAt: T0 + 1000, lastPoll: 'stale', lastError: expect.stringMatching(/stale/) });
  });

  it.each([
    { name: 'holding opens once blind for blindMs: never waits forever', from: 'holding', blindMs: 30_000, poll: unreachable, mode: 'open', limit: null },
    { name: 'holding on stale data too', from: 'holding', blindMs: 30_000, poll: stale, mode: 'open', limit: null },
    { name: 'holding stays while blind for less', from: 'holding', blindMs: 29_999, poll: unreachable, mode: 'holding', limit: 0 },
    { name: 'throttled stays however long: it never blocks', from: 'throttled', blindMs: 3_600_000, poll: unreachable, mode: 'throttled', limit: 8 },
  ] as const)('$name', ({ from, blindMs, poll, mode, limit }) => {
    const next = observe(inMode(from), poll, settings, T0 + blindMs);
    expect(next).toMatchObject({ mode, limit });
    if (mode === 'open') expect(next.reason).toMatch(/no fresh lag report for 30 s while holding/);
  });

  it('the reason says what was measured and what follows from it', () => {
    expect(observe(inMode('open'), report('critical', 10), settings, T0).reason).toBe("lag 700 is critical: 0.8 x the consumers' 10 msg/s = 8 msg/s");
    expect(observe(inMode('open'), report('critical', null), settings, T0).reason).toMatch(/no consumption rate measured yet: holding/);
    expect(observe(inMode('open'), report('critical', 0), settings, T0).reason).toMatch(/the consumers commit nothing: holding/);
  });

  it('whatever it reads, the limit is never above fraction x the measured rate and only holding is 0', () => {
    const poll: fc.Arbitrary<Poll> = fc.oneof(
      fc.record({
        result: fc.constant('ok' as const),
        report: fc.record({
          status: fc.constantFrom(...LAG_STATUSES),
          totalLag: fc.nat(),
          consumptionRate: fc.option(fc.double({ min: 0, max: 10_000, noNaN: true }), { nil: null }),
        }),
      }),
      fc.constant(unreachable),
      fc.constant(stale),
    );
    fc.assert(
      fc.property(fc.constantFrom(...THROTTLE_MODES), fc.array(fc.tuple(poll, fc.integer({ min: 0, max: 60_000 })), { maxLength: 50 }), (mode, polls) => {
        let state = inMode(mode);
        let now = T0;
        for (const [p, dt] of polls) {
          now += dt;
          state = observe(state, p, settings, now);
          expect(state.limit === 0).toBe(state.mode === 'holding');
          expect(state.limit === null).toBe(state.mode === 'off' || state.mode === 'open');
          if (state.mode === 'throttled' && p.result === 'ok' && p.report.status === 'critical') {
            expect(state.limit).toBeLessThanOrEqual(Math.max(0.01, p.report.consumptionRate! * settings.fraction + 0.005));
          }
        }
      }),
    );
  });
});

describe('setEnabled', () => {
  it.each([
    { from: 'off', enabled: true, mode: 'open', changed: true },
    { from: 'off', enabled: false, mode: 'off', changed: false },
    { from: 'open', enabled: true, mode: 'open', changed: false },
    { from: 'throttled', enabled: true, mode: 'throttled', changed: false },
    { from: 'holding', enabled: true, mode: 'holding', changed: false },
    { from: 'open', enabled: false, mode: 'off', changed: true },
    { from: 'throttled', enabled: false, mode: 'off', changed: true },
    { from: 'holding', enabled: false, mode: 'off', changed: true },
  ] as const)('$from, enabled $enabled -> $mode', ({ from, enabled, mode, changed }) => {
    const next = setEnabled(inMode(from), enabled, T0 + 1000);
    expect(next.mode).toBe(mode);
    expect(next.since).toBe(changed ? T0 + 1000 : T0);
    if (mode === 'off' || mode === 'open') expect(next.limit).toBeNull();
  });

  it('starts off, or open when enabled at start', () => {
    expect(initialState(false, T0)).toMatchObject({ mode: 'off', limit: null, since: T0, lastPoll: null });
    expect(initialState(true, T0)).toMatchObject({ mode: 'open', limit: null, since: T0, lastPoll: null });
  });
});

describe('limitFor', () => {
  it.each([
    { rate: 10, fraction: 0.8, limit: 8 },
    { rate: 3.33, fraction: 0.5, limit: 1.67 },
    { rate: 10, fraction: 1, limit: 10 },
    { rate: 0.001, fraction: 0.8, limit: 0.01 },
  ])('$fraction x $rate msg/s -> $limit msg/s', ({ rate, fraction, limit }) => {
    expect(limitFor(rate, fraction)).toBe(limit);
  });
});
