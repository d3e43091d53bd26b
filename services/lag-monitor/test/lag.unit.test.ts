import { describe, expect, it } from 'vitest';
import { evaluateStatus, partitionLagSeconds, rates, snapshot, type OffsetSample } from '../src/lag.js';

const thresholds = { lagWarning: 100, lagCritical: 500, rateWarning: 10 };

function sample(at: number, parts: [start: number, end: number, committed: number | null][], members = 1): OffsetSample {
  return {
    at,
    partitions: parts.map(([start_offset, end_offset, committed_offset], partition) => ({ partition, start_offset, end_offset, committed_offset })),
    members,
    group_state: 'Stable',
  };
}

describe('lag per partition', () => {
  it.each([
    { name: 'committed behind end', part: [0, 50, 20] as const, lag: 30 },
    { name: 'caught up', part: [0, 50, 50] as const, lag: 0 },
    { name: 'no commit yet counts from the start offset', part: [0, 50, null] as const, lag: 50 },
    { name: 'no commit on a truncated log counts from its start', part: [40, 50, null] as const, lag: 10 },
    { name: 'empty partition', part: [0, 0, null] as const, lag: 0 },
  ])('$name', ({ part, lag }) => {
    const s = snapshot([sample(0, [[part[0], part[1], part[2]]])], thresholds, 5000);
    expect(s.partitions[0]!.lag).toBe(lag);
    expect(s.total_lag).toBe(lag);
  });
});

describe('rates', () => {
  it('are null with a single sample instead of a rate against zero', () => {
    expect(rates([sample(0, [[0, 1000, 0]])], 5000)).toBeNull();
    const s = snapshot([sample(0, [[0, 1000, 0]])], thresholds, 5000);
    expect([s.rate_of_change, s.production_rate, s.consumption_rate]).toEqual([null, null, null]);
  });

  it('are slopes between the oldest sample in the window and the newest', () => {
    const samples = [sample(0, [[0, 0, 0]]), sample(1000, [[0, 100, 10]]), sample(2000, [[0, 200, 20]])];
    expect(rates(samples, 5000)).toEqual({ production_rate: 100, consumption_rate: 10, rate_of_change: 90 });
  });

  it('ignore samples older than the window', () => {
    const samples = [sample(0, [[0, 0, 0]]), sample(10_000, [[0, 1100, 1000]]), sample(12_000, [[0, 1100, 1010]])];
    expect(rates(samples, 5000)).toEqual({ production_rate: 0, consumption_rate: 5, rate_of_change: -5 });
  });

  it('count the first commit of a group as consumption from the start offset', () => {
    const samples = [sample(0, [[0, 100, null]]), sample(2000, [[0, 100, 40]])];
    expect(rates(samples, 5000)).toEqual({ production_rate: 0, consumption_rate: 20, rate_of_change: -20 });
  });
});

describe('status', () => {
  it.each([
    { lag: 0, rate: null, status: 'ok' },
    { lag: 99, rate: 0, status: 'ok' },
    { lag: 100, rate: 0, status: 'warning' },
    { lag: 499, rate: -50, status: 'warning' },
    { lag: 500, rate: 0, status: 'critical' },
    { lag: 20, rate: 10, status: 'ok' },
    { lag: 20, rate: 10.5, status: 'warning' },
    { lag: 5000, rate: -100, status: 'critical' },
  ] as const)('lag $lag, rate $rate -> $status', ({ lag, rate, status }) => {
    expect(evaluateStatus(lag, rate, thresholds)).toBe(status);
  });
});

describe('time lag', () => {
  const history = [sample(0, [[0, 0, 0]]), sample(10_000, [[0, 100, 0]]), sample(20_000, [[0, 200, 0]])];

  it('is zero when caught up', () => {
    expect(partitionLagSeconds(history, 0, 200, 20_000)).toBe(0);
  });
  it('interpolates when the log end passed the committed offset', () => {
    // The end reached 150 halfway between 10 s and 20 s, so at 20 s the commit is 5 s old.
    expect(partitionLagSeconds(history, 0, 150, 20_000)).toBe(5);
  });
  it('is at least the age of the oldest sample when the commit is older than all of them', () => {
    const recent = history.slice(1);
    expect(partitionLagSeconds(recent, 0, 50, 20_000)).toBe(10);
  });
  it('reports the worst partition in the snapshot', () => {
    const two = [sample(0, [[0, 0, 0], [0, 0, 0]]), sample(10_000, [[0, 100, 100], [0, 100, 0]])];
    expect(snapshot(two, thresholds, 5000).lag_seconds).toBe(10);
  });
});
