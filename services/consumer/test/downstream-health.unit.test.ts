import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ControlState,
  HealthLevel,
  initialController,
  median,
  record,
  reset,
  step,
  Transition,
  windowStats,
  type Controller,
  type Observation,
  type Thresholds,
} from '../src/downstream-health.js';

const T: Thresholds = { pauseP50Ms: 1000, resumeP50Ms: 250, pauseErrorRate: 0.5, resumeErrorRate: 0.1, windowMs: 5000, minSamples: 3, holdMs: 5000 };
const T0 = 1_700_000_000_000;

const slow = (at: number): Observation => ({ at, latencyMs: 1500, ok: true });
const fast = (at: number): Observation => ({ at, latencyMs: 20, ok: true });
const failed = (at: number): Observation => ({ at, latencyMs: 5, ok: false });
const middling = (at: number): Observation => ({ at, latencyMs: 500, ok: true });

/** Feeds observations (each followed by a step, as the driver does) and returns the last step. */
function feed(start: Controller, observations: Observation[], now?: number) {
  let c = start;
  let last = step(c, T, observations[0]?.at ?? now ?? T0);
  for (const o of observations) {
    c = record(c, [o], T);
    last = step(c, T, o.at);
    c = last.controller;
  }
  if (now !== undefined) last = step(c, T, now);
  return last;
}

const paused = (at: number): Controller => ({ ...feed(initialController(), [slow(at - 2), slow(at - 1), slow(at)]).controller });

describe('windowStats: p50 latency and error rate over the sliding window', () => {
  it.each([
    { name: 'no samples: no verdict', obs: [], now: T0, stats: { samples: 0, p50LatencyMs: null, errorRate: null, level: HealthLevel.unknown } },
    { name: 'fewer than minSamples: no verdict however slow', obs: [slow(T0), slow(T0)], now: T0, stats: { samples: 2, level: HealthLevel.unknown } },
    { name: 'fast and no errors: healthy', obs: [fast(T0), fast(T0), fast(T0)], now: T0, stats: { p50LatencyMs: 20, errorRate: 0, level: HealthLevel.healthy } },
    { name: 'p50 over the high-water mark: overloaded', obs: [fast(T0), slow(T0), slow(T0)], now: T0, stats: { p50LatencyMs: 1500, level: HealthLevel.overloaded } },
    { name: 'one slow call in three is not the p50', obs: [fast(T0), fast(T0), slow(T0)], now: T0, stats: { p50LatencyMs: 20, level: HealthLevel.healthy } },
    { name: 'half the calls failing: overloaded by errors', obs: [failed(T0), failed(T0), fast(T0), fast(T0)], now: T0, stats: { errorRate: 0.5, level: HealthLevel.overloaded } },
    { name: 'between the marks: degraded', obs: [middling(T0), middling(T0), middling(T0)], now: T0, stats: { p50LatencyMs: 500, level: HealthLevel.degraded } },
    { name: 'errors between the marks: degraded', obs: [failed(T0), fast(T0), fast(T0), fast(T0), fast(T0)], now: T0, stats: { errorRate: 0.2, level: HealthLevel.degraded } },
    { name: 'what left the window is forgotten', obs: [slow(T0), slow(T0), slow(T0), fast(T0 + 5000), fast(T0 + 5000), fast(T0 + 5000)], now: T0 + 5000, stats: { samples: 3, level: HealthLevel.healthy } },
  ])('$name', ({ obs, now, stats }) => {
    expect(windowStats(obs, T, now)).toMatchObject(stats);
  });

  const one = { ...T, minSamples: 1 };
  it.each([
    { name: 'a call unanswered past the high-water mark is a slow sample: overloaded', obs: [], inFlight: [T0 - 1200], stats: { samples: 1, p50LatencyMs: 1200, errorRate: null, level: HealthLevel.overloaded } },
    { name: 'a call waiting less than the low-water mark is no sample yet', obs: [fast(T0 - 100)], inFlight: [T0 - 250], stats: { samples: 1, p50LatencyMs: 20, level: HealthLevel.healthy } },
    { name: 'a wait between the marks argues against health: degraded', obs: [fast(T0 - 100)], inFlight: [T0 - 400, T0 - 300], stats: { samples: 3, p50LatencyMs: 300, level: HealthLevel.degraded } },
    { name: 'waits alone never make a window healthy', obs: [], inFlight: [T0 - 300], stats: { samples: 1, errorRate: null, level: HealthLevel.degraded } },
    { name: 'one slow completed call outvoted by fast ones', obs: [slow(T0 - 10), fast(T0 - 5), fast(T0 - 1)], inFlight: [], stats: { p50LatencyMs: 20, level: HealthLevel.healthy } },
  ])('in flight: $name', ({ obs, inFlight, stats }) => {
    expect(windowStats(obs, one, T0, inFlight)).toMatchObject(stats);
  });

  it.each([
    { values: [], p50: null },
    { values: [7], p50: 7 },
    { values: [3, 1, 2], p50: 2 },
    { values: [4, 1, 3, 2], p50: 2 },
  ])('median of $values is $p50', ({ values, p50 }) => {
    expect(median(values)).toBe(p50);
  });
});

describe('the controller pauses on a high-water mark and resumes after a hold below the low-water marks', () => {
  it.each([
    { name: 'slow downstream: pause', start: initialController(), obs: [slow(T0), slow(T0 + 1), slow(T0 + 2)], now: undefined, transition: Transition.pause, state: ControlState.paused },
    { name: 'failing downstream: pause', start: initialController(), obs: [failed(T0), failed(T0 + 1), fast(T0 + 2)], now: undefined, transition: Transition.pause, state: ControlState.paused },
    { name: 'two slow calls are not enough samples', start: initialController(), obs: [slow(T0), slow(T0 + 1)], now: undefined, transition: null, state: ControlState.running },
    { name: 'between the marks: keep consuming', start: initialController(), obs: [middling(T0), middling(T0 + 1), middling(T0 + 2)], now: undefined, transition: null, state: ControlState.running },
    {
      name: 'overloaded but resumed less than the hold ago: no pause yet',
      start: { ...initialController(), changedAt: T0 - 4999 },
      obs: [slow(T0), slow(T0), slow(T0)],
      now: undefined,
      transition: null,
      state: ControlState.running,
    },
    { name: 'overloaded a hold after the last resume: pause', start: { ...initialController(), changedAt: T0 - 5000 }, obs: [slow(T0), slow(T0), slow(T0)], now: undefined, transition: Transition.pause, state: ControlState.paused },
    { name: 'paused, healthy just now: the hold starts, still paused', start: paused(T0), obs: [fast(T0 + 5000), fast(T0 + 5001), fast(T0 + 5002)], now: undefined, transition: null, state: ControlState.paused },
    {
      name: 'paused, healthy for the whole hold: resume',
      start: paused(T0),
      obs: [5000, 5001, 5002, 6000, 7000, 8000, 9000, 10_002].map((t) => fast(T0 + t)),
      now: undefined,
      transition: Transition.resume,
      state: ControlState.running,
    },
    {
      name: 'paused, healthy for a moment less than the hold: still paused',
      start: paused(T0),
      obs: [5000, 5001, 5002, 6000, 7000, 8000, 9000, 10_001].map((t) => fast(T0 + t)),
      now: undefined,
      transition: null,
      state: ControlState.paused,
    },
    { name: 'paused with no samples at all (the probes hang): stay paused', start: paused(T0), obs: [], now: T0 + 60_000, transition: null, state: ControlState.paused },
  ])('$name', ({ start, obs, now, transition, state }) => {
    const last = feed(start, obs, now);
    expect(last.transition).toBe(transition);
    expect(last.controller.state).toBe(state);
  });

  it('resumes exactly when the window has been healthy for the hold, evaluated every 200 ms', () => {
    let c = paused(T0);
    const resumedAt: number[] = [];
    // Probes every second from T0 + 1 s, all fast; the slow samples leave the window at T0 + 5 s.
    for (let now = T0 + 200; now <= T0 + 20_000; now += 200) {
      if (now % 1000 === 0) c = record(c, [fast(now)], T);
      const s = step(c, T, now);
      c = s.controller;
      if (s.transition === Transition.resume) resumedAt.push(now);
    }
    // Healthy from the third probe (T0 + 3 s: 3 fast of 5 samples), the p50 fast; a hold later.
    expect(resumedAt).toEqual([T0 + 3000 + T.holdMs]);
  });

  it('a degraded moment during the hold restarts it', () => {
    let c = paused(T0);
    const resumedAt: number[] = [];
    // A probe every 500 ms (10 in the 5 s window, the p50 is the 5th fastest): slow until 2.5 s,
    // then fast, except middling ones (between the marks) from 6 s to 8.5 s.
    for (let now = T0 + 500; now <= T0 + 25_000; now += 500) {
      const t = now - T0;
      const probe = t <= 2500 ? slow(now) : t >= 6000 && t <= 8500 ? middling(now) : fast(now);
      c = record(c, [probe], T);
      const s = step(c, T, now);
      c = s.controller;
      if (s.transition === Transition.resume) resumedAt.push(now);
    }
    // Healthy from 5 s (five fast of ten), which would resume at 10 s; but from 8.5 s the
    // middling ones are the p50 (degraded) until 11 s, so the hold restarts there: 11 s + 5 s.
    expect(resumedAt).toEqual([T0 + 16_000]);
  });

  it('reset (a manual resume) is running with an empty window and counts as a transition for the hold', () => {
    const r = reset(T0);
    expect(r).toEqual({ state: ControlState.running, changedAt: T0, healthySince: null, observations: [] });
    expect(feed(r, [slow(T0 + 1), slow(T0 + 2), slow(T0 + 3)]).transition).toBeNull();
    expect(feed(r, [slow(T0 + 5000), slow(T0 + 5001), slow(T0 + 5002)]).transition).toBe(Transition.pause);
  });
});

describe('property: the controller never flaps faster than the hold time', () => {
  const thresholds = fc
    .record({
      resumeP50Ms: fc.integer({ min: 0, max: 2000 }),
      gapMs: fc.integer({ min: 1, max: 2000 }),
      resumeErrorRate: fc.double({ min: 0, max: 0.8, noNaN: true }),
      gapRate: fc.double({ min: 0.01, max: 0.2, noNaN: true }),
      windowMs: fc.integer({ min: 500, max: 20_000 }),
      minSamples: fc.integer({ min: 1, max: 10 }),
      holdMs: fc.integer({ min: 0, max: 20_000 }),
    })
    .map(({ gapMs, gapRate, ...t }): Thresholds => ({ ...t, pauseP50Ms: t.resumeP50Ms + gapMs, pauseErrorRate: Math.min(1, t.resumeErrorRate + gapRate) }));
  const events = fc.array(
    fc.oneof(
      fc.record({ kind: fc.constant('observe' as const), dt: fc.integer({ min: 0, max: 3000 }), latencyMs: fc.integer({ min: 0, max: 5000 }), ok: fc.boolean() }),
      fc.record({ kind: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 3000 }), waits: fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 3 }) }),
    ),
    { maxLength: 400 },
  );

  it('transitions alternate from pause, at least holdMs apart; a pause only when overloaded, a resume only after holdMs of healthy evaluations', () => {
    fc.assert(
      fc.property(thresholds, events, (t, evs) => {
        let c = initialController();
        let now = T0;
        const transitions: { at: number; kind: Transition }[] = [];
        const levels: { at: number; level: HealthLevel }[] = [];
        for (const e of evs) {
          now += e.dt;
          if (e.kind === 'observe') c = record(c, [{ at: now, latencyMs: e.latencyMs, ok: e.ok }], t);
          // Calls in flight (a tick can see some, waiting for so long) count as samples too.
          const s = step(c, t, now, e.kind === 'tick' ? e.waits.map((w) => now - w) : []);
          c = s.controller;
          levels.push({ at: now, level: s.stats.level });
          if (s.transition === null) continue;
          transitions.push({ at: now, kind: s.transition });
          if (s.transition === Transition.pause) expect(s.stats.level).toBe(HealthLevel.overloaded);
          else {
            // Every evaluation since the hold began saw a healthy window.
            const previous = transitions.at(-2)!;
            const during = levels.filter((l) => l.at >= now - t.holdMs && l.at > previous.at);
            expect(during.length).toBeGreaterThan(0);
            for (const l of during) expect(l.level).toBe(HealthLevel.healthy);
          }
        }
        transitions.forEach((tr, i) => expect(tr.kind).toBe(i % 2 === 0 ? Transition.pause : Transition.resume));
        for (let i = 1; i < transitions.length; i++) expect(transitions[i]!.at - transitions[i - 1]!.at).toBeGreaterThanOrEqual(t.holdMs);
        expect(c.state).toBe(transitions.length % 2 === 1 ? ControlState.paused : ControlState.running);
      }),
      { numRuns: 500 },
    );
  });
});
