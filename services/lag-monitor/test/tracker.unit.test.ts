import { describe, expect, it } from 'vitest';
import type { OffsetSample } from '../src/lag.js';
import { LagTracker } from '../src/tracker.js';

const options = { thresholds: { lagWarning: 100, lagCritical: 500, rateWarning: 1000 }, rateWindowMs: 5000, sampleWindowMs: 60_000, evaluationWindowMs: 10_000, historySize: 3, alertsSize: 2, pollIntervalMs: 1000 };
const sample = (at: number, end: number, committed: number, members = 1): OffsetSample => ({
  at,
  partitions: [{ partition: 0, start_offset: 0, end_offset: end, committed_offset: committed }],
  members,
  group_state: 'Stable',
});

describe('LagTracker', () => {
  it('raises an alert on each status change, not on every poll over a threshold', () => {
    const t = new LagTracker(options);
    const lags = [0, 150, 160, 170, 600, 700, 50, 40];
    lags.forEach((lag, i) => t.record(sample(i * 1000, 1000 + lag, 1000)));
    expect(t.alerts(10).map((a) => `${a.from}->${a.to}`)).toEqual(['critical->ok', 'warning->critical']);
  });

  it('keeps bounded history, newest last', () => {
    const t = new LagTracker(options);
    for (let i = 0; i < 5; i++) t.record(sample(i * 1000, 1000 + i, 1000));
    expect(t.history(10).map((s) => s.total_lag)).toEqual([2, 3, 4]);
    expect(t.history(1).map((s) => s.total_lag)).toEqual([4]);
  });

  it('learns the per-consumer rate only while consumers are saturated, and keeps it', () => {
    const t = new LagTracker(options);
    t.record(sample(0, 1000, 0));
    t.record(sample(2500, 1000, 25)); // backlogged for half the rate window: its rate spans time before the backlog
    expect(t.perConsumerRate).toBeNull();
    t.record(sample(5000, 1000, 50)); // backlogged for the whole window, one stable member: 10 msg/s
    expect(t.perConsumerRate).toBe(10);
    t.record(sample(7000, 1000, 1000)); // caught up: the rate of this step is not capacity
    t.record(sample(9000, 1001, 1001));
    expect(t.perConsumerRate).toBe(10);
  });

  it('measures nothing until the membership has been stable for the settle time (a rebalance stalls consumption)', () => {
    const t = new LagTracker(options);
    t.record(sample(0, 5000, 0, 2));
    t.record(sample(2000, 5000, 10, 1)); // a member left: the group rebalances
    t.record(sample(4000, 5000, 20, 1)); // 5 msg/s, but the stall is still in the rate window
    expect(t.perConsumerRate).toBeNull();
    t.record(sample(13_000, 5000, 110, 1));
    t.record(sample(17_000, 5000, 150, 1)); // 15 s after the change: settled, 10 msg/s
    expect(t.perConsumerRate).toBe(10);
  });

  it('takes the highest saturated figure of the last minute: a pause only lowers the measured rate', () => {
    const t = new LagTracker(options);
    t.record(sample(0, 5000, 0));
    t.record(sample(5000, 5000, 100)); // 20 msg/s
    t.record(sample(7000, 5000, 110)); // slowing down as the consumer is paused: 5 msg/s over the window
    expect(t.perConsumerRate).toBe(20);
    t.record(sample(70_000, 5000, 120)); // a minute later only the slow figure is recent
    t.record(sample(75_000, 5000, 145));
    expect(t.perConsumerRate).toBe(5);
  });

  it('evaluates every snapshot over the evaluation window, partitions and group, with the drain estimate', () => {
    const t = new LagTracker(options);
    // A member stuck on one message: lag 50, nothing committed for 12 s.
    for (let s = 0; s <= 12; s++) t.record(sample(s * 1000, 1050, 1000));
    expect(t.latest!.partitions[0]!.evaluation).toMatchObject({ status: 'STALL', rule: 'stalled' });
    expect(t.latest!.evaluation).toMatchObject({ status: 'STALL', window_ms: 10_000, complete: true, worst_partitions: [0] });
    expect(t.latest).toMatchObject({ drain_seconds: null, drain_status: 'not_draining' });
    // It gets going again: 10 msg/s against no production.
    for (let s = 13; s <= 26; s++) t.record(sample(s * 1000, 1050, 1000 + (s - 12) * 2));
    expect(t.latest!.evaluation.status).toBe('OK');
    expect(t.latest).toMatchObject({ drain_status: 'draining', drain_seconds: 11 });
  });

  it('records each membership change as a rebalance event, and what it cost once consumption resumes', () => {
    const t = new LagTracker(options);
    const withMembers = (s: OffsetSample, ids: string[], group_state = 'Stable'): OffsetSample => ({ ...s, members: ids.length, member_list: ids.map((id) => ({ member_id: id, client_id: `client-${id}` })), group_state });
    expect(t.record(withMembers(sample(0, 110, 100), ['a'])).rebalances).toEqual({ opened: [], closed: [] });
    t.record(withMembers(sample(1000, 120, 110), ['a']));
    const join = t.record(withMembers(sample(2000, 130, 110), ['a', 'b'], 'PreparingRebalance')).rebalances;
    expect(join.opened.map((e) => e.joined)).toEqual([['client-b']]);
    t.record(withMembers(sample(3000, 140, 110), ['a', 'b']));
    const resumed = t.record(withMembers(sample(4000, 150, 130), ['a', 'b'])).rebalances;
    expect(resumed.closed).toMatchObject([{ stop_started_at: new Date(1000).toISOString(), stop_ended_at: new Date(4000).toISOString(), stop_seconds: 3, lag_added: 30, resolution_ms: 1000 }]);
    expect(t.rebalanceEvents(5)).toEqual(resumed.closed);
    expect(t.rebalanceCost()).toEqual({ events: 1, typical_stop_seconds: 3, last: resumed.closed[0] });
  });

  it('alerts on the first snapshot only when it is already not ok', () => {
    const quiet = new LagTracker(options);
    quiet.record(sample(0, 10, 10));
    expect(quiet.alerts(10)).toEqual([]);
    const loud = new LagTracker(options);
    loud.record(sample(0, 1000, 0));
    expect(loud.alerts(10)[0]).toMatchObject({ from: 'ok', to: 'critical', total_lag: 1000 });
  });
});
