import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { consumersNeeded, requiredRate, saturatedRate, SETTLE_MS, starvedPartitions, type GroupSample, type SaturationContext } from '../src/scaling.js';

const NOW = 1_700_000_000_000;
const busy: GroupSample = { backlog: 300, consumptionRate: 30, members: 3, partitions: 6, pausedPartitions: 0, starvedPartitions: 0 };
const context: SaturationContext = { backlogThreshold: 100, expectedMembers: 3, membershipChangedAt: null, backloggedSince: NOW - 5_000, rateWindowMs: 5_000, now: NOW };

describe('saturatedRate: only a saturated, settled group measures capacity', () => {
  it.each([
    { name: 'backlogged, stable group: consumption / members', group: {}, ctx: {}, rate: 10 },
    { name: 'a backlog of exactly the threshold counts', group: { backlog: 100 }, ctx: {}, rate: 10 },
    { name: 'lag below the threshold (light-load blips) is not capacity', group: { backlog: 99 }, ctx: {}, rate: null },
    { name: 'a member still joining or leaving', group: { members: 2 }, ctx: {}, rate: null },
    { name: `a membership change ${SETTLE_MS - 1} ms ago: its rebalance stall is still in the rate window`, group: {}, ctx: { membershipChangedAt: NOW - SETTLE_MS + 1 }, rate: null },
    { name: `a membership change ${SETTLE_MS} ms ago has settled`, group: {}, ctx: { membershipChangedAt: NOW - SETTLE_MS }, rate: 10 },
    { name: 'no consumption (paused group)', group: { consumptionRate: 0 }, ctx: {}, rate: null },
    { name: 'a consumer that published its pause: the rest consume less than the group could', group: { pausedPartitions: 2, consumptionRate: 20 }, ctx: {}, rate: null },
    {
      name: 'a starved partition: its owner consumes what arrives there, not what it could (4 on 6 partitions, 2 of them flat out)',
      group: { members: 4, consumptionRate: 25.6, starvedPartitions: 2 },
      ctx: { expectedMembers: 4 },
      rate: null,
    },
    { name: 'backlogged for less than the rate window: the rate is a slope over time before the backlog', group: {}, ctx: { backloggedSince: NOW - 4_999 }, rate: null },
    { name: 'not backlogged before (no run of backlogged samples)', group: {}, ctx: { backloggedSince: null }, rate: null },
    { name: 'no rate yet (one sample)', group: { consumptionRate: null }, ctx: {}, rate: null },
    { name: 'no members', group: { members: 0 }, ctx: { expectedMembers: 0 }, rate: null },
    { name: 'members beyond partitions are idle: only the busy ones count', group: { members: 8 }, ctx: { expectedMembers: 8 }, rate: 5 },
  ])('$name', ({ group, ctx, rate }) => {
    expect(saturatedRate({ ...busy, ...group }, { ...context, ...ctx })).toBe(rate);
  });
});

describe('starvedPartitions: partitions with no more waiting than a batch in hand', () => {
  it.each([
    { name: 'every partition backlogged', lags: [5, 9, 2, 40], batch: 1, starved: 0 },
    { name: 'the message in hand alone is not a backlog', lags: [1, 9, 0, 40], batch: 1, starved: 2 },
    { name: 'in batch mode, a batch in hand is not a backlog either', lags: [10, 11, 3, 40], batch: 10, starved: 2 },
    { name: 'no partitions known', lags: [], batch: 1, starved: 0 },
  ])('$name', ({ lags, batch, starved }) => {
    expect(starvedPartitions(lags, batch)).toBe(starved);
  });
});

describe('consumersNeeded: (arrival + backlog / drain time) / per-consumer rate, keeping a count short by at most 10 %', () => {
  it.each([
    { name: 'arrivals only: 40 msg/s at 10 each', load: { arrivalRate: 40, backlog: 0, drainSeconds: 30 }, rate: 10, current: null, needed: 4 },
    { name: 'arrivals and backlog: (40 + 300 / 30) / 10', load: { arrivalRate: 40, backlog: 300, drainSeconds: 30 }, rate: 10, current: null, needed: 5 },
    { name: 'short by 0.05 of a consumer: 3 are kept', load: { arrivalRate: 30.5, backlog: 0, drainSeconds: 30 }, rate: 10, current: 3, needed: 3 },
    { name: 'short by 0.11: a fourth', load: { arrivalRate: 31.1, backlog: 0, drainSeconds: 30 }, rate: 10, current: 3, needed: 4 },
    { name: 'from 6, 3.05 needs 4: the tolerance never sizes below the load', load: { arrivalRate: 30.5, backlog: 0, drainSeconds: 30 }, rate: 10, current: 6, needed: 4 },
    { name: 'the mixed bench after a burst: (30 + 20 / 30) / 9.93 = 3.09 from 6 -> 4, not 3', load: { arrivalRate: 30, backlog: 20, drainSeconds: 30 }, rate: 9.93, current: 6, needed: 4 },
    { name: 'no count given: enough for the load', load: { arrivalRate: 30.5, backlog: 0, drainSeconds: 30 }, rate: 10, current: null, needed: 4 },
    { name: 'nothing to do needs nobody', load: { arrivalRate: 0, backlog: 0, drainSeconds: 30 }, rate: 10, current: 2, needed: 0 },
  ])('$name', ({ load, rate, current, needed }) => {
    expect(consumersNeeded(load, rate, current)).toBe(needed);
  });

  it('is enough for the load unless it keeps a count short by at most the tolerance, and one fewer would not be enough', () => {
    const load = fc.record({
      arrivalRate: fc.double({ min: 0, max: 10_000, noNaN: true }),
      backlog: fc.integer({ min: 0, max: 10_000_000 }),
      drainSeconds: fc.integer({ min: 1, max: 600 }),
    });
    fc.assert(
      fc.property(load, fc.double({ min: 0.01, max: 1000, noNaN: true }), fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }), (l, rate, current) => {
        const needed = consumersNeeded(l, rate, current);
        // In consumers, not msg/s: an arrival rate of 5e-324 needs 0 consumers (the division
        // underflows), and 0 x rate is then short of it (seed 179980483).
        const need = requiredRate(l) / rate;
        if (needed !== current) expect(needed).toBeGreaterThanOrEqual(need * (1 - 1e-9));
        else expect(needed).toBeGreaterThanOrEqual(need - 0.1 - 1e-9 * need);
        if (needed > 0) expect(needed - 1).toBeLessThan(need);
      }),
    );
  });
});
