import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, emptyHistory, perReplicaRate, updateHistory, type MetricsSnapshot, type ScalingHistory } from '../src/decide.js';
import { parseSpec, type AutoscalerSpec, type AutoscalerSpecInput } from '../src/spec.js';

const NOW = 1_700_000_000_000;

function spec(overrides: Partial<AutoscalerSpecInput> = {}): AutoscalerSpec {
  return parseSpec({
    scaleTargetRef: { name: 'consumer' },
    metricsSource: { url: 'http://lag-monitor:8010' },
    topic: 'orders',
    consumerGroup: 'order-processors',
    minReplicas: 1,
    maxReplicas: 10,
    lagThreshold: 100,
    targetDrainSeconds: 30,
    pollIntervalSeconds: 5,
    ...overrides,
  });
}

function snapshot(overrides: Partial<MetricsSnapshot> = {}): MetricsSnapshot {
  return {
    group: 'order-processors',
    topic: 'orders',
    totalLag: 0,
    partitionCount: 6,
    productionRate: null,
    consumptionRate: null,
    members: 1,
    sampledAt: NOW,
    stale: false,
    ...overrides,
  };
}

describe('decide: table', () => {
  const cases: {
    name: string;
    snap: MetricsSnapshot | null;
    current: number;
    spec?: Partial<AutoscalerSpecInput>;
    history?: ScalingHistory;
    desired: number;
    reason: RegExp;
  }[] = [
    { name: 'no metrics holds', snap: null, current: 3, desired: 3, reason: /^metrics unavailable$/ },
    { name: 'stale flag holds', snap: snapshot({ totalLag: 5000, stale: true }), current: 2, desired: 2, reason: /^metrics stale$/ },
    { name: 'old sample holds (older than 3 polls or 10 s)', snap: snapshot({ totalLag: 5000, sampledAt: NOW - 15_001 }), current: 2, desired: 2, reason: /stale/ },
    { name: 'sample within the bound is used', snap: snapshot({ totalLag: 500, sampledAt: NOW - 14_000 }), current: 2, desired: 5, reason: /lag 500/ },
    { name: 'paused holds', snap: snapshot({ totalLag: 5000 }), current: 1, spec: { paused: true }, desired: 1, reason: /^paused$/ },
    { name: 'lag rule: ceil(250 / 100) = 3', snap: snapshot({ totalLag: 250 }), current: 1, desired: 3, reason: /lag 250 \/ threshold 100 needs 3/ },
    { name: 'lag rule capped at partitions', snap: snapshot({ totalLag: 5000 }), current: 1, desired: 6, reason: /capped at 6 partitions/ },
    { name: 'capped at maxReplicas below partitions', snap: snapshot({ totalLag: 5000 }), current: 1, spec: { maxReplicas: 4 }, desired: 4, reason: /maxReplicas 4/ },
    { name: 'idle consumers allowed: max wins over partitions', snap: snapshot({ totalLag: 5000 }), current: 1, spec: { allowIdleConsumers: true }, desired: 10, reason: /maxReplicas 10/ },
    { name: 'no lag: minReplicas', snap: snapshot(), current: 1, spec: { minReplicas: 2 }, desired: 2, reason: /minReplicas 2/ },
    { name: 'minimum above partitions: partitions win', snap: snapshot({ partitionCount: 2 }), current: 1, spec: { minReplicas: 3 }, desired: 2, reason: /minReplicas 2/ },
    {
      name: 'lag rule sizes for the next poll while lag grows: 90 + (200 - 10) x 5 s = 1040 -> 11, capped at 6',
      snap: snapshot({ totalLag: 90, productionRate: 200, consumptionRate: 10 }),
      current: 1,
      desired: 6,
      reason: /lag 90 growing 190\/s, 1040 by the next poll \/ threshold 100 needs 11; capped at 6 partitions/,
    },
    {
      name: 'capacity rule: (40 + 300/30) / 10 = 5 beats lag 3',
      snap: snapshot({ totalLag: 300, productionRate: 40, consumptionRate: 20, members: 2 }),
      current: 2,
      desired: 5,
      reason: /capacity: \(40 msg\/s \+ lag 300 \/ 30 s\) \/ 10 msg\/s per replica needs 5/,
    },
    {
      name: 'no lag: the kept per-replica rate still sizes for production',
      snap: snapshot({ totalLag: 0, productionRate: 35, consumptionRate: 35, members: 4 }),
      current: 4,
      history: { ...emptyHistory, perReplicaRate: 10 },
      desired: 4,
      reason: /needs 4/,
    },
    {
      name: 'steady light load without a saturated sample: lag rule only',
      snap: snapshot({ totalLag: 0, productionRate: 5, consumptionRate: 5, members: 3 }),
      current: 3,
      desired: 1,
      reason: /lag 0/,
    },
    {
      name: 'scale-down held by the window at the highest recent recommendation',
      snap: snapshot({ totalLag: 0 }),
      current: 6,
      history: { ...emptyHistory, recommendations: [{ at: NOW - 10_000, replicas: 6 }, { at: NOW - 5_000, replicas: 4 }] },
      desired: 6,
      reason: /held at 6 by the 30 s scale-down window/,
    },
    {
      name: 'scale-down to the highest recommendation once older ones left the window',
      snap: snapshot({ totalLag: 0 }),
      current: 6,
      history: { ...emptyHistory, recommendations: [{ at: NOW - 31_000, replicas: 6 }, { at: NOW - 5_000, replicas: 4 }] },
      desired: 4,
      reason: /held at 4/,
    },
    {
      name: 'no scale-down while a backlog drained within the window, however low lag is now',
      snap: snapshot({ totalLag: 0 }),
      current: 6,
      history: { ...emptyHistory, lastDrainingAt: NOW - 20_000, recommendations: [{ at: NOW - 5_000, replicas: 1 }] },
      desired: 6,
      reason: /held at 6 until the backlog has been drained for the 30 s scale-down window/,
    },
    {
      name: 'a backlog under the threshold still counts as draining until about one message per member is left',
      snap: snapshot({ totalLag: 40, members: 6 }),
      current: 6,
      history: { ...emptyHistory, draining: true, lastDrainingAt: NOW - 2_000 },
      desired: 6,
      reason: /until the backlog has been drained/,
    },
    {
      name: 'scale-down in one step once the backlog left the window',
      snap: snapshot({ totalLag: 0 }),
      current: 6,
      history: { ...emptyHistory, lastDrainingAt: NOW - 31_000, recommendations: [{ at: NOW - 25_000, replicas: 2 }, { at: NOW - 5_000, replicas: 1 }] },
      desired: 2,
      reason: /held at 2 by the 30 s scale-down window/,
    },
    {
      name: 'scale-up ignores older low recommendations',
      snap: snapshot({ totalLag: 400 }),
      current: 1,
      history: { ...emptyHistory, recommendations: [{ at: NOW - 1_000, replicas: 1 }] },
      desired: 4,
      reason: /needs 4/,
    },
    {
      name: 'scale-up step limit per period counts from the period start',
      snap: snapshot({ totalLag: 600 }),
      current: 3,
      spec: { scaleUp: { maxStep: 2, periodSeconds: 15 } },
      history: { ...emptyHistory, scaleEvents: [{ at: NOW - 5_000, from: 1, to: 3 }] },
      desired: 3,
      reason: /step limited to 3/,
    },
    {
      name: 'scale-down step limit',
      snap: snapshot({ totalLag: 0 }),
      current: 6,
      spec: { scaleDown: { stabilizationWindowSeconds: 0, maxStep: 2 } },
      desired: 4,
      reason: /step limited to 4/,
    },
    {
      name: 'lowered maxReplicas applies at once despite the scale-down window',
      snap: snapshot({ totalLag: 5000 }),
      current: 6,
      spec: { maxReplicas: 3 },
      history: { ...emptyHistory, recommendations: [{ at: NOW - 1_000, replicas: 6 }] },
      desired: 3,
      reason: /maxReplicas 3/,
    },
  ];

  it.each(cases)('$name', ({ snap, current, spec: overrides, history, desired, reason }) => {
    const decision = decide({ snapshot: snap, currentReplicas: current, spec: spec(overrides), history: history ?? emptyHistory, now: NOW });
    expect(decision.desiredReplicas).toBe(desired);
    expect(decision.reason).toMatch(reason);
  });

  it('keeps the last saturated per-replica rate when lag is gone', () => {
    const s = spec();
    const saturated = decide({ snapshot: snapshot({ totalLag: 200, consumptionRate: 30, members: 3 }), currentReplicas: 3, spec: s, history: emptyHistory, now: NOW });
    expect(saturated.perReplicaRate).toBe(10);
    const history = updateHistory(emptyHistory, saturated, s, NOW, null);
    const drained = decide({ snapshot: snapshot({ totalLag: 0, consumptionRate: 4, members: 3 }), currentReplicas: 3, spec: s, history, now: NOW + 5000 });
    expect(drained.perReplicaRate).toBe(10);
  });

  it('updateHistory drops entries older than the longest window or period', () => {
    const s = spec();
    const d = decide({ snapshot: snapshot({ totalLag: 300 }), currentReplicas: 1, spec: s, history: emptyHistory, now: NOW });
    let history = updateHistory(emptyHistory, d, s, NOW, { from: 1, to: 3 });
    expect(history.recommendations).toEqual([{ at: NOW, replicas: 3 }]);
    expect(history.scaleEvents).toEqual([{ at: NOW, from: 1, to: 3 }]);
    history = updateHistory(history, d, s, NOW + 31_000, null);
    expect(history.recommendations).toEqual([{ at: NOW + 31_000, replicas: 3 }]);
    expect(history.scaleEvents).toEqual([]);
  });
});

describe('decide: properties', () => {
  const specArb = fc
    .record({
      minReplicas: fc.integer({ min: 1, max: 8 }),
      extra: fc.integer({ min: 0, max: 12 }),
      allowIdleConsumers: fc.boolean(),
      lagThreshold: fc.integer({ min: 1, max: 1000 }),
      targetDrainSeconds: fc.integer({ min: 1, max: 600 }),
      pollIntervalSeconds: fc.integer({ min: 1, max: 60 }),
      up: fc.integer({ min: 0, max: 120 }),
      down: fc.integer({ min: 0, max: 600 }),
      upStep: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
      downStep: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
    })
    .map((r) =>
      spec({
        minReplicas: r.minReplicas,
        maxReplicas: r.minReplicas + r.extra,
        allowIdleConsumers: r.allowIdleConsumers,
        lagThreshold: r.lagThreshold,
        targetDrainSeconds: r.targetDrainSeconds,
        pollIntervalSeconds: r.pollIntervalSeconds,
        scaleUp: { stabilizationWindowSeconds: r.up, maxStep: r.upStep },
        scaleDown: { stabilizationWindowSeconds: r.down, maxStep: r.downStep },
      }),
    );
  const rate = fc.option(fc.double({ min: 0, max: 10_000, noNaN: true }), { nil: null });
  const snapArb = fc.record({
    totalLag: fc.integer({ min: 0, max: 10_000_000 }),
    partitionCount: fc.integer({ min: 1, max: 64 }),
    productionRate: rate,
    consumptionRate: rate,
    members: fc.integer({ min: 0, max: 64 }),
  }).map((r) => snapshot(r));
  const historyArb = fc.record({
    recommendations: fc.array(fc.record({ at: fc.integer({ min: NOW - 600_000, max: NOW }), replicas: fc.integer({ min: 0, max: 64 }) }), { maxLength: 10 }),
    scaleEvents: fc.array(fc.record({ at: fc.integer({ min: NOW - 600_000, max: NOW }), from: fc.integer({ min: 0, max: 64 }), to: fc.integer({ min: 0, max: 64 }) }), { maxLength: 5 }),
    perReplicaRate: fc.option(fc.double({ min: 0.01, max: 1000, noNaN: true }), { nil: null }),
  });
  const current = fc.integer({ min: 0, max: 64 });

  it('never above partitions (unless idle consumers are allowed) or maxReplicas, never below min', () => {
    fc.assert(
      fc.property(specArb, snapArb, current, historyArb, (s, snap, cur, history) => {
        const { desiredReplicas } = decide({ snapshot: snap, currentReplicas: cur, spec: s, history, now: NOW });
        const upper = s.allowIdleConsumers ? s.maxReplicas : Math.min(s.maxReplicas, snap.partitionCount);
        expect(desiredReplicas).toBeLessThanOrEqual(upper);
        expect(desiredReplicas).toBeGreaterThanOrEqual(Math.min(s.minReplicas, upper));
      }),
    );
  });

  it('is monotone in lag', () => {
    fc.assert(
      fc.property(specArb, snapArb, current, historyArb, fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 0, max: 1_000_000 }), (s, snap, cur, history, lag, more) => {
        const at = (totalLag: number) => decide({ snapshot: { ...snap, totalLag }, currentReplicas: cur, spec: s, history, now: NOW }).desiredReplicas;
        expect(at(lag + more)).toBeGreaterThanOrEqual(at(lag));
      }),
    );
  });

  it('is stable under steady load: repeated polls of one snapshot settle and never flap', () => {
    fc.assert(
      fc.property(specArb, snapArb, current, (s, snap, start) => {
        let history = emptyHistory;
        let replicas = start;
        const seen: number[] = [];
        const pollMs = s.pollIntervalSeconds * 1000;
        const polls = Math.ceil((s.scaleDown.stabilizationWindowSeconds * 1000) / pollMs) + 70;
        for (let i = 0; i < polls; i++) {
          const now = NOW + i * pollMs;
          const decision = decide({ snapshot: { ...snap, sampledAt: now }, currentReplicas: replicas, spec: s, history, now });
          const scaled = decision.desiredReplicas === replicas ? null : { from: replicas, to: decision.desiredReplicas };
          history = updateHistory(history, decision, s, now, scaled);
          replicas = decision.desiredReplicas;
          seen.push(replicas);
        }
        // Monotone path to one fixed point: never up then down (or down then up).
        const tail = seen.slice(-5);
        expect(new Set(tail).size).toBe(1);
        const rising = seen[seen.length - 1]! >= start;
        for (let i = 1; i < seen.length; i++) {
          if (rising) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
          else expect(seen[i]!).toBeLessThanOrEqual(seen[i - 1]!);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('steady light load (consumers keep up, lag 0) never scales up', () => {
    fc.assert(
      fc.property(specArb, fc.integer({ min: 1, max: 6 }), fc.double({ min: 0, max: 50, noNaN: true }), (s, cur, production) => {
        const snap = snapshot({ totalLag: 0, productionRate: production, consumptionRate: production, members: cur });
        const { desiredReplicas } = decide({ snapshot: snap, currentReplicas: cur, spec: s, history: emptyHistory, now: NOW });
        expect(desiredReplicas).toBeLessThanOrEqual(Math.max(cur, s.minReplicas));
      }),
    );
  });
});

describe('perReplicaRate: only a saturated, settled group is measured', () => {
  const context = { currentReplicas: 3, lagThreshold: 100, lastScaleAt: null, now: NOW };
  const busy = snapshot({ totalLag: 300, consumptionRate: 30, members: 3 });
  it.each([
    { name: 'backlogged, stable group: consumption / members', snap: busy, ctx: {}, rate: 10 },
    { name: 'lag below one replica of backlog (light-load blips)', snap: snapshot({ totalLag: 2, consumptionRate: 3, members: 3 }), ctx: {}, rate: 7 },
    { name: 'a member still joining or leaving', snap: { ...busy, members: 2 }, ctx: {}, rate: 7 },
    { name: 'a scale 10 s ago: its rebalance stall is still in the rate window', snap: busy, ctx: { lastScaleAt: NOW - 10_000 }, rate: 7 },
    { name: 'a scale 15 s ago has settled', snap: busy, ctx: { lastScaleAt: NOW - 15_000 }, rate: 10 },
    { name: 'no consumption (paused group)', snap: { ...busy, consumptionRate: 0 }, ctx: {}, rate: 7 },
    { name: 'members beyond partitions are idle', snap: snapshot({ totalLag: 300, consumptionRate: 30, members: 8, partitionCount: 6 }), ctx: { currentReplicas: 8 }, rate: 5 },
  ])('$name', ({ snap, ctx, rate }) => {
    expect(perReplicaRate(snap, 7, { ...context, ...ctx })).toBe(rate);
  });
});

/**
 * A small closed-loop model of the lab: consumers of a fixed capacity, the operator polling every
 * 2 s, a rebalance stall after every scale (consumption at 30 % for 4 s), lag that blips to 1-2
 * at light load because the message in hand counts as lag.
 */
function simulate(options: { seconds: number; production: (t: number) => number; burst?: { at: number; count: number }; perConsumer: number }) {
  const s = spec({ lagThreshold: 50, maxReplicas: 6, pollIntervalSeconds: 2, scaleDown: { stabilizationWindowSeconds: 30 } });
  const dt = 2;
  let replicas = 1;
  let backlog = 0;
  let stallUntil = -1;
  let history = emptyHistory;
  const trace: number[] = [];
  for (let t = 0; t < options.seconds; t += dt) {
    if (options.burst && t === options.burst.at) backlog += options.burst.count;
    const capacity = options.perConsumer * Math.min(replicas, 6) * (t < stallUntil ? 0.3 : 1);
    const arriving = options.production(t);
    const consumption = Math.min(capacity, arriving + backlog / dt);
    backlog = Math.max(0, backlog + (arriving - consumption) * dt);
    const inHand = arriving > 0 ? 1 + ((t / dt) % 2) : 0;
    const snap = snapshot({ totalLag: Math.round(backlog) + inHand, productionRate: arriving, consumptionRate: consumption, members: replicas, sampledAt: NOW + t * 1000 });
    const decision = decide({ snapshot: snap, currentReplicas: replicas, spec: s, history, now: NOW + t * 1000 });
    const scaled = decision.desiredReplicas !== replicas ? { from: replicas, to: decision.desiredReplicas } : null;
    history = updateHistory(history, decision, s, NOW + t * 1000, scaled);
    if (scaled) {
      replicas = scaled.to;
      stallUntil = t + 4;
    }
    trace.push(replicas);
  }
  return trace;
}

describe('decide in a closed loop', () => {
  it('steady light load with lag blips and rebalance stalls never runs away (the demo regression)', () => {
    const trace = simulate({ seconds: 300, production: () => 1, perConsumer: 2 });
    expect(Math.max(...trace)).toBe(1);
  });

  it('a burst that is still arriving scales up in one step, not one poll behind it', () => {
    const trace = simulate({ seconds: 240, production: (t) => (t >= 20 && t < 22 ? 200 : 1), perConsumer: 2 });
    expect(trace.filter((r, i) => i > 0 && r !== trace[i - 1])).toEqual([6, 1]);
  });

  it('a burst scales to the partition count, drains, and returns to min under continuing light load', () => {
    const trace = simulate({ seconds: 240, production: () => 1, burst: { at: 20, count: 300 }, perConsumer: 2 });
    expect(Math.max(...trace)).toBe(6);
    expect(trace.at(-1)).toBe(1);
    // Up once, down once: each change is a stop-the-world rebalance with Kafka's eager protocol.
    const changes = trace.filter((r, i) => i > 0 && r !== trace[i - 1]);
    expect(changes).toEqual([6, 1]);
  });
});
