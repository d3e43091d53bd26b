import { describe, expect, it } from 'vitest';
import type { LagSnapshot } from '../src/lag.js';
import { recommend, saturatedRate } from '../src/recommend.js';

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

  it('flags a group that has lag but commits nothing (paused or stuck)', () => {
    const r = recommend({ ...base, status: 'warning', total_lag: 150, rate_of_change: 5, production_rate: 5, consumption_rate: 0 }, ctx(null));
    expect(r.map((x) => x.action).join(' | ')).toMatch(/paused or stuck/);
  });

  it('reports idle consumers beyond the partition count and the drain estimate', () => {
    const r = recommend({ ...base, members: 8, total_lag: 100, rate_of_change: -20, status: 'warning' }, ctx(null));
    expect(r.map((x) => x.action)).toEqual(expect.arrayContaining(['Remove 2 consumer(s)', 'Keep watching: lag is draining']));
    expect(r.find((x) => x.action.startsWith('Keep'))!.reason).toMatch(/5 s to zero/);
  });
});

describe('saturatedRate', () => {
  it.each([
    { name: 'busy consumers give their rate', s: { total_lag: 300, members: 3, consumption_rate: 6 }, prevMembers: 3, rate: 2 },
    { name: 'light-load blips (lag under the warning threshold) are not capacity', s: { total_lag: 2, members: 3, consumption_rate: 1 }, prevMembers: 3, rate: null },
    { name: 'a membership change (rebalance) is not measured', s: { total_lag: 300, members: 3, consumption_rate: 1 }, prevMembers: 2, rate: null },
    { name: 'more members than partitions count only the busy ones', s: { total_lag: 300, members: 12, consumption_rate: 12 }, prevMembers: 12, rate: 2 },
    { name: 'no consumption (paused) says nothing', s: { total_lag: 300, members: 1, consumption_rate: 0 }, prevMembers: 1, rate: null },
  ])('$name', ({ s, prevMembers, rate }) => {
    expect(saturatedRate({ ...base, ...s }, prevMembers, thresholds)).toBe(rate);
  });
});
