import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { capacityRule, type MetricsSnapshot } from '../../../operator/src/decide.js';
import { parseSpec } from '../../../operator/src/spec.js';
import type { LagSnapshot } from '../src/lag.js';
import { recommend } from '../src/recommend.js';

const thresholds = { lagWarning: 100, lagCritical: 500, rateWarning: 10 };
const base: LagSnapshot = {
  timestamp: '2026-01-01T00:00:00Z',
  total_lag: 0,
  lag_seconds: 0,
  partitions: [],
  partition_count: 6,
  status: 'ok',
  rate_of_change: 0,
  production_rate: 0,
  consumption_rate: 0,
  members: 1,
  group_state: 'Stable',
  paused_partitions: { manual: [], downstream: [] },
  batch_size: 1,
};
const ctx = (perConsumerRate: number | null) => ({ thresholds, drainTargetSeconds: 60, perConsumerRate });

describe('recommend', () => {
  it('says nothing is needed when lag is low and steady', () => {
    expect(recommend(base, ctx(2))).toEqual([expect.objectContaining({ severity: 'info', action: 'No action needed' })]);
  });

  it('asks for a consumer when the group is empty', () => {
    const r = recommend({ ...base, members: 0, total_lag: 10 }, ctx(null));
    expect(r[0]).toMatchObject({ severity: 'critical' });
    expect(r[0]!.action).toMatch(/Start a consumer/);
  });

  it('sizes scaling from production, backlog and per-consumer rate', () => {
    // 10 msg/s arriving + 600 backlog / 60 s = 20 msg/s; at 2 msg/s per consumer: 10 -> capped at 6 partitions.
    const capped = recommend({ ...base, status: 'critical', total_lag: 600, rate_of_change: 8, production_rate: 10, consumption_rate: 2 }, ctx(2));
    expect(capped[0]).toMatchObject({ severity: 'critical', suggested_consumers: 6 });
    expect(capped[0]!.action).toMatch(/Add partitions/);
    // 4 msg/s + 120/60 = 6 msg/s at 2 msg/s each: 3 consumers.
    const scale = recommend({ ...base, status: 'warning', total_lag: 120, rate_of_change: 2, production_rate: 4, consumption_rate: 2 }, ctx(2));
    expect(scale[0]).toMatchObject({ severity: 'warning', suggested_consumers: 3, action: 'Scale consumers from 1 to 3' });
  });

  it('flags a group that has lag but commits nothing and says no pause (stuck)', () => {
    const r = recommend({ ...base, status: 'warning', total_lag: 150, rate_of_change: 5, production_rate: 5, consumption_rate: 0 }, ctx(null));
    expect(r.map((x) => x.action).join(' | ')).toMatch(/none says it is paused \(stuck\?\)/);
  });

  it('advises on a published pause instead of scaling: resume by hand, or relieve the downstream', () => {
    const stuck = { ...base, status: 'critical' as const, total_lag: 600, rate_of_change: 5, production_rate: 5, consumption_rate: 0 };
    const byHand = recommend({ ...stuck, paused_partitions: { manual: [0, 1, 2], downstream: [] } }, ctx(2));
    expect(byHand.map((x) => x.action)).toEqual(['Resume the consumers paused by hand: POST /resume']);
    expect(byHand[0]!.reason).toBe('partitions 0, 1, 2 are paused by hand while 600 messages wait');
    const downstream = recommend({ ...stuck, paused_partitions: { manual: [], downstream: [3] } }, ctx(2));
    expect(downstream).toHaveLength(1);
    expect(downstream[0]!.action).toMatch(/^Relieve the downstream: .* adding consumers would press harder on it$/);
    // Nothing waiting: a pause needs no advice.
    expect(recommend({ ...base, paused_partitions: { manual: [0], downstream: [] } }, ctx(2)).map((x) => x.action)).toEqual(['No action needed']);
  });

  it('reports idle consumers beyond the partition count and the drain estimate', () => {
    const r = recommend({ ...base, members: 8, total_lag: 100, rate_of_change: -20, status: 'warning' }, ctx(null));
    expect(r.map((x) => x.action)).toEqual(expect.arrayContaining(['Remove 2 consumer(s)', 'Keep watching: lag is draining']));
    expect(r.find((x) => x.action.startsWith('Keep'))!.reason).toMatch(/5 s to zero/);
  });
});

/**
 * The lag monitor advises and the operator acts, from the same arithmetic (the kit's scaling):
 * given the same snapshot and per-consumer rate, the monitor's suggested count is the operator's
 * capacity rule, capped at one consumer per partition as the operator caps it.
 */
describe('the monitor and the operator agree', () => {
  const operatorSpec = (drainSeconds: number) =>
    parseSpec({ scaleTargetRef: { name: 'consumer' }, metricsSource: { url: 'http://lag-monitor:8010' }, topic: 'orders', consumerGroup: 'order-processors', targetDrainSeconds: drainSeconds });
  const operatorSnapshot = (s: LagSnapshot): MetricsSnapshot => ({
    group: 'order-processors',
    topic: 'orders',
    totalLag: s.total_lag,
    partitionCount: s.partition_count,
    productionRate: s.production_rate,
    consumptionRate: s.consumption_rate,
    members: s.members,
    sampledAt: 0,
    stale: false,
  });
  const suggested = (s: LagSnapshot, rate: number, drainSeconds: number) =>
    recommend(s, { thresholds, drainTargetSeconds: drainSeconds, perConsumerRate: rate }).find((r) => r.suggested_consumers !== undefined)?.suggested_consumers;
  const operatorCount = (s: LagSnapshot, rate: number, drainSeconds: number) =>
    Math.min(s.partition_count, capacityRule(operatorSnapshot(s), operatorSpec(drainSeconds), rate, s.members).replicas);

  it('on a need within the tolerance of a whole consumer: (10.5 + 1200 / 60) / 10 = 3.05 keeps 3 members for both, and asks 4 of 2', () => {
    const s: LagSnapshot = { ...base, status: 'critical', total_lag: 1200, rate_of_change: 1, production_rate: 10.5, consumption_rate: 10 };
    expect(suggested({ ...s, members: 3 }, 10, 60)).toBeUndefined();
    expect(operatorCount({ ...s, members: 3 }, 10, 60)).toBe(3);
    expect(suggested({ ...s, members: 2 }, 10, 60)).toBe(4);
    expect(operatorCount({ ...s, members: 2 }, 10, 60)).toBe(4);
  });

  it('on the consumer count whenever the monitor suggests one to scale to', () => {
    const snapshotArb = fc.record({
      total_lag: fc.integer({ min: 0, max: 1_000_000 }),
      production_rate: fc.double({ min: 0, max: 5000, noNaN: true }),
      members: fc.integer({ min: 1, max: 12 }),
      partition_count: fc.integer({ min: 1, max: 12 }),
      status: fc.constantFrom('ok' as const, 'warning' as const, 'critical' as const),
      rate_of_change: fc.double({ min: -100, max: 100, noNaN: true }),
    });
    fc.assert(
      fc.property(snapshotArb, fc.double({ min: 0.01, max: 500, noNaN: true }), fc.integer({ min: 1, max: 600 }), (fields, rate, drainSeconds) => {
        const s: LagSnapshot = { ...base, ...fields, consumption_rate: rate };
        const monitor = suggested(s, rate, drainSeconds);
        const operator = operatorCount(s, rate, drainSeconds);
        if (monitor !== undefined) expect(monitor).toBe(operator);
        // And the monitor asks for more exactly when the operator would add consumers.
        if (s.status !== 'ok' && s.members < s.partition_count) expect(monitor !== undefined).toBe(operator > s.members);
      }),
    );
  });
});
