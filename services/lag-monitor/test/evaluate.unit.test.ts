import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  commitUnchanged,
  evaluate,
  evaluateGroup,
  evaluatePartition,
  Evaluation,
  EVALUATION_LEVEL,
  EVALUATION_STATUSES,
  EvaluationRule,
  GROUP_OWNER,
  lagNotFalling,
  lagZeroInWindow,
  ownerLagFell,
  partitionWindows,
  pausedByOwner,
  stalled,
  stopped,
  waitingForOwner,
  worst,
  type EvaluationStatus,
  type PartitionEvaluation,
  type PartitionWindow,
} from '../src/evaluate.js';
import type { OffsetSample } from '../src/lag.js';

const WINDOW = 10_000;

/** A window of one partition from (committed, lag) pairs one second apart, baseline first. */
function win(points: [committed: number, lag: number][], over: Partial<PartitionWindow> = {}): PartitionWindow {
  return {
    partition: 0,
    points: points.map(([committed, lag], i) => ({ at: i * 1000, committed, lag })),
    complete: true,
    windowMs: WINDOW,
    owner: 'member-a',
    ownerProgress: { committed: 0, lagStart: 10, lagEnd: 10 },
    pausedBy: null,
    ...over,
  };
}

const paused = { pausedBy: { consumer: 'consumer-1', by: 'downstream' as const } };
const stuck = (lag = 10): [number, number][] => Array.from({ length: 11 }, () => [5, lag]);
const falling: [number, number][] = Array.from({ length: 11 }, (_, i) => [i, 20 - i]);
const growing: [number, number][] = Array.from({ length: 11 }, (_, i) => [i, 10 + i]);

describe('each rule on its own', () => {
  it.each([
    { rule: 'pausedByOwner', fn: pausedByOwner, w: win(stuck(), paused), holds: true },
    { rule: 'pausedByOwner: not without lag now', fn: pausedByOwner, w: win([[5, 3], [8, 0]], paused), holds: false },
    { rule: 'pausedByOwner: not unless published', fn: pausedByOwner, w: win(stuck()), holds: false },
    { rule: 'lagZeroInWindow', fn: lagZeroInWindow, w: win([[0, 3], [3, 0], [3, 4]]), holds: true },
    { rule: 'lagZeroInWindow', fn: lagZeroInWindow, w: win([[0, 3], [3, 1], [3, 4]]), holds: false },
    { rule: 'commitUnchanged', fn: commitUnchanged, w: win(stuck()), holds: true },
    { rule: 'commitUnchanged', fn: commitUnchanged, w: win([[5, 10], [6, 10], [6, 10]]), holds: false },
    { rule: 'stopped: no owner', fn: stopped, w: win(stuck(), { owner: null }), holds: true },
    { rule: 'stopped: not with an owner', fn: stopped, w: win(stuck()), holds: false },
    { rule: 'stopped: not over part of a window', fn: stopped, w: win(stuck(), { owner: null, complete: false }), holds: false },
    { rule: 'stopped: not when lag touched 0', fn: stopped, w: win([[5, 0], [5, 1]], { owner: null }), holds: false },
    { rule: 'stalled: owner committed nothing anywhere', fn: stalled, w: win(stuck()), holds: true },
    { rule: 'stalled: the whole group as owner', fn: stalled, w: win(stuck(), { owner: GROUP_OWNER }), holds: true },
    { rule: 'stalled: not when the owner committed elsewhere', fn: stalled, w: win(stuck(), { ownerProgress: { committed: 4, lagStart: 30, lagEnd: 26 } }), holds: false },
    { rule: 'stalled: not without an owner', fn: stalled, w: win(stuck(), { owner: null }), holds: false },
    { rule: 'waitingForOwner', fn: waitingForOwner, w: win(stuck(), { ownerProgress: { committed: 4, lagStart: 30, lagEnd: 26 } }), holds: true },
    { rule: 'ownerLagFell', fn: ownerLagFell, w: win(stuck(), { ownerProgress: { committed: 4, lagStart: 30, lagEnd: 26 } }), holds: true },
    { rule: 'ownerLagFell: equal is not falling', fn: ownerLagFell, w: win(stuck(), { ownerProgress: { committed: 4, lagStart: 30, lagEnd: 30 } }), holds: false },
    { rule: 'lagNotFalling: growing', fn: lagNotFalling, w: win(growing), holds: true },
    { rule: 'lagNotFalling: flat (consumption only matches production)', fn: lagNotFalling, w: win([[0, 10], [5, 12], [10, 10]]), holds: true },
    { rule: 'lagNotFalling: net fall despite a bump', fn: lagNotFalling, w: win([[0, 10], [5, 14], [10, 9]]), holds: false },
  ])('$rule -> $holds', ({ fn, w, holds }) => {
    expect(fn(w)).toBe(holds);
  });
});

describe('evaluatePartition: the first matching rule decides', () => {
  const busyElsewhere = (lagStart: number, lagEnd: number) => ({ ownerProgress: { committed: 4, lagStart, lagEnd } });
  it.each([
    { name: 'a paused owner with lag, even before a whole window', w: win(stuck(), { ...paused, complete: false }), status: 'PAUSED', rule: 'paused' },
    { name: 'a paused owner with lag and no commit: PAUSED, not STALL', w: win(stuck(), paused), status: 'PAUSED', rule: 'paused' },
    { name: 'a paused owner with nothing waiting is OK', w: win([[5, 0], [5, 0]], paused), status: 'OK', rule: 'lag_zero_in_window' },
    { name: 'part of a window is not judged, however bad', w: win(stuck(), { owner: null, complete: false }), status: 'OK', rule: 'window_incomplete' },
    { name: 'lag touched 0 (light load blips)', w: win([[0, 1], [1, 0], [1, 1]]), status: 'OK', rule: 'lag_zero_in_window' },
    { name: 'lag touched 0 beats a stuck commit', w: win([[5, 0], [5, 3], [5, 6]], { owner: null }), status: 'OK', rule: 'lag_zero_in_window' },
    { name: 'no commit for the window, nobody owns it', w: win(stuck(), { owner: null }), status: 'STOP', rule: 'stopped' },
    { name: 'no commit for the window, its owner committed nothing anywhere', w: win(stuck()), status: 'STALL', rule: 'stalled' },
    { name: 'stuck while production grows lag: still STALL', w: win(Array.from({ length: 11 }, (_, i) => [5, 10 + i] as [number, number])), status: 'STALL', rule: 'stalled' },
    { name: 'no commit here, owner draining its other partitions', w: win(stuck(), busyElsewhere(30, 26)), status: 'OK', rule: 'waiting_for_owner' },
    { name: 'no commit here, owner busy but its lag not falling', w: win(stuck(), busyElsewhere(30, 31)), status: 'WARN', rule: 'owner_not_keeping_up' },
    { name: 'commits advance, lag grows', w: win(growing), status: 'WARN', rule: 'lag_not_falling' },
    { name: 'commits advance, lag falls', w: win(falling), status: 'OK', rule: 'lag_falling' },
  ])('$name: $status ($rule)', ({ w, status, rule }) => {
    const e = evaluatePartition(w);
    expect(e).toMatchObject({ status, rule });
    expect(e.reason).toEqual(expect.any(String));
  });

  it('says why in numbers', () => {
    expect(evaluatePartition(win(stuck(42), { owner: null })).reason).toBe('lag 42, committed offset 5 unchanged for 10 s, and no member owns the partition');
    expect(evaluatePartition(win(stuck(42))).reason).toMatch(/its owner member-a committed nothing on any partition: stuck \(or paused\)/);
    expect(evaluatePartition(win(stuck(42), paused)).reason).toBe('lag 42: consumer-1 is paused (downstream), staying in the group');
  });

  it('is OK before a whole window, whatever the points', () => {
    const point = fc.tuple(fc.nat(1000), fc.nat(1000));
    fc.assert(
      fc.property(fc.array(point, { minLength: 1, maxLength: 20 }), fc.constantFrom<string | null>(null, 'm', GROUP_OWNER), (points, owner) => {
        expect(evaluatePartition(win(points, { complete: false, owner })).status).toBe('OK');
      }),
    );
  });

  it('never complains about a partition whose commits advance while its lag falls', () => {
    const steps = fc.array(fc.tuple(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 50 })), { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), steps, fc.constantFrom<string | null>(null, 'm', GROUP_OWNER), (startLag, moves, owner) => {
        // Each step commits c and removes d from the lag: the lag ends lower than it started.
        const points: [number, number][] = [[0, startLag + moves.reduce((a, [, d]) => a + d, 0)]];
        for (const [c, d] of moves) points.push([points.at(-1)![0] + c, points.at(-1)![1] - d]);
        expect(evaluatePartition(win(points, { owner })).status).toBe('OK');
      }),
    );
  });

  it('calls a partition with lag and no commit for a whole window STALL or STOP unless its owner is busy elsewhere', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.array(fc.nat(100), { minLength: 1, maxLength: 20 }),
        fc.constantFrom<string | null>(null, 'm', GROUP_OWNER),
        (lag, growth, owner) => {
          let current = lag;
          const points: [number, number][] = [[7, lag], ...growth.map((g) => [7, (current += g)] as [number, number])];
          expect(evaluatePartition(win(points, { owner, ownerProgress: { committed: 0, lagStart: lag, lagEnd: current } })).status).toBe(owner === null ? 'STOP' : 'STALL');
        },
      ),
    );
  });
});

describe('the group is its worst partition', () => {
  it.each([
    { statuses: [], expected: 'OK' },
    { statuses: ['OK', 'OK'], expected: 'OK' },
    { statuses: ['OK', 'WARN', 'OK'], expected: 'WARN' },
    { statuses: ['OK', 'PAUSED', 'OK'], expected: 'PAUSED' },
    { statuses: ['PAUSED', 'WARN'], expected: 'WARN' },
    { statuses: ['WARN', 'STALL', 'OK'], expected: 'STALL' },
    { statuses: ['STALL', 'STOP', 'WARN'], expected: 'STOP' },
  ] as { statuses: EvaluationStatus[]; expected: EvaluationStatus }[])('$statuses -> $expected', ({ statuses, expected }) => {
    expect(worst(statuses)).toBe(expected);
  });

  it('whatever the order: no partition is worse than the group, and one is as bad', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...EVALUATION_STATUSES), { minLength: 1, maxLength: 12 }), (statuses) => {
        const group = worst(statuses);
        expect(statuses).toContain(group);
        for (const s of statuses) expect(EVALUATION_LEVEL[s]).toBeLessThanOrEqual(EVALUATION_LEVEL[group]);
        expect(worst([...statuses].reverse())).toBe(group);
      }),
    );
  });

  it('counts the partitions by status and names the worst ones', () => {
    const e = (status: EvaluationStatus, rule: PartitionEvaluation['rule'] = EvaluationRule.lagFalling): PartitionEvaluation => ({ status, rule, reason: `${status} here` });
    const group = evaluateGroup(
      [
        { partition: 0, evaluation: e('OK') },
        { partition: 1, evaluation: e('STALL', 'stalled') },
        { partition: 2, evaluation: e('WARN', 'lag_not_falling') },
        { partition: 3, evaluation: e('STALL', 'stalled') },
      ],
      WINDOW,
    );
    expect(group).toEqual({
      status: 'STALL',
      window_ms: WINDOW,
      complete: true,
      counts: { OK: 1, PAUSED: 0, WARN: 1, STALL: 2, STOP: 0 },
      worst_partitions: [1, 3],
      reason: 'STALL on partitions 1, 3: STALL here',
    });
    expect(evaluateGroup([{ partition: 0, evaluation: e('OK', 'window_incomplete') }], WINDOW)).toMatchObject({ status: 'OK', complete: false, worst_partitions: [] });
  });
});

describe('evaluate: windows from the poller samples', () => {
  type Part = [end: number, committed: number | null, owner?: string | null];
  const sample = (at: number, parts: Part[], members = 1): OffsetSample => ({
    at,
    partitions: parts.map(([end_offset, committed_offset, owner], partition) => ({
      partition,
      start_offset: 0,
      end_offset,
      committed_offset,
      ...(owner === undefined ? {} : { owner }),
    })),
    members,
    group_state: members === 0 ? 'Empty' : 'Stable',
  });
  /** Samples every second for `seconds`, each from a function of the second. */
  const series = (seconds: number, at: (t: number) => { parts: Part[]; members?: number }) =>
    Array.from({ length: seconds + 1 }, (_, t) => {
      const { parts, members } = at(t);
      return sample(t * 1000, parts, members);
    });
  const statuses = (samples: OffsetSample[]) => {
    const { partitions, group } = evaluate(samples, WINDOW);
    return { partitions: [...partitions.values()].map((p) => `${p.status}:${p.rule}`), group: group.status };
  };

  it('takes the newest sample at or before now - window as the baseline', () => {
    const samples = series(15, (t) => ({ parts: [[100 + t, t]] }));
    const [w] = partitionWindows(samples, WINDOW);
    expect(w!.points.map((p) => p.at)).toEqual([5000, 6000, 7000, 8000, 9000, 10_000, 11_000, 12_000, 13_000, 14_000, 15_000]);
    expect(w!.complete).toBe(true);
    expect(partitionWindows(samples.slice(0, 10), WINDOW)[0]!.complete).toBe(false);
  });

  it('a member stuck on one message: every partition with lag STALL, the group STALL', () => {
    const samples = series(12, () => ({ parts: [[50, 40, 'a'], [30, 30, 'a'], [60, 41, 'a']] }));
    expect(statuses(samples)).toEqual({ partitions: ['STALL:stalled', 'OK:lag_zero_in_window', 'STALL:stalled'], group: 'STALL' });
  });

  it('the group left with lag: STOP', () => {
    const samples = series(12, (t) => (t < 2 ? { parts: [[50, 40, 'a'], [30, 25, 'a']] } : { parts: [[50, 40, null], [30, 25, null]], members: 0 }));
    expect(statuses(samples)).toEqual({ partitions: ['STOP:stopped', 'STOP:stopped'], group: 'STOP' });
  });

  it('a stable group that assigned a partition to nobody: that partition STOP', () => {
    const samples = series(12, (t) => ({ parts: [[50 + t, 40 + t, 'a'], [30, 25, null]] }));
    expect(statuses(samples)).toEqual({ partitions: ['WARN:lag_not_falling', 'STOP:stopped'], group: 'STOP' });
  });

  it('one member draining its partitions one after another: the waiting ones are OK, and so is the group', () => {
    // Member a works through partition 0 (two messages a second); partition 1 waits its turn.
    const samples = series(12, (t) => ({ parts: [[100, 40 + 2 * t, 'a'], [60, 10, 'a']] }));
    expect(statuses(samples)).toEqual({ partitions: ['OK:lag_falling', 'OK:waiting_for_owner'], group: 'OK' });
  });

  it('one member stuck, another fine: only the stuck one is STALL', () => {
    const samples = series(12, (t) => ({ parts: [[100, 40 + 2 * t, 'a'], [60, 10, 'b']] }));
    expect(statuses(samples)).toEqual({ partitions: ['OK:lag_falling', 'STALL:stalled'], group: 'STALL' });
  });

  it('ownership unknown (rebalancing): the group as a whole is the owner', () => {
    const samples = series(12, (t) => ({ parts: [[100, 40 + 2 * t], [60, 10]] }));
    expect(statuses(samples)).toEqual({ partitions: ['OK:lag_falling', 'OK:waiting_for_owner'], group: 'OK' });
    const stuckGroup = series(12, () => ({ parts: [[100, 40], [60, 10]] }));
    expect(statuses(stuckGroup).group).toBe('STALL');
  });

  it('a member that published its pause: PAUSED; a pause published by a member that no longer owns the partition: not trusted', () => {
    const state = (member: string, paused_by: 'manual' | 'downstream' | null) => ({ consumer: `consumer-${member}`, member, paused_by, batch_size: 1 });
    const withStates = (samples: OffsetSample[], states: ReturnType<typeof state>[]) =>
      samples.map((s) => ({ ...s, partitions: s.partitions.map((p, i) => ({ ...p, consumer_state: states[i] })) }));
    const stuckSamples = series(12, () => ({ parts: [[50, 40, 'a'], [60, 41, 'a']] }));
    expect(statuses(withStates(stuckSamples, [state('a', 'downstream'), state('a', 'downstream')]))).toEqual({ partitions: ['PAUSED:paused', 'PAUSED:paused'], group: 'PAUSED' });
    expect(statuses(withStates(stuckSamples, [state('b', 'manual'), state('a', null)]))).toEqual({ partitions: ['STALL:stalled', 'STALL:stalled'], group: 'STALL' });
  });

  it('production outrunning consumption: WARN', () => {
    const samples = series(12, (t) => ({ parts: [[100 + 10 * t, 40 + 2 * t, 'a']] }));
    expect(statuses(samples)).toEqual({ partitions: ['WARN:lag_not_falling'], group: 'WARN' });
  });

  it('a partition added within the window is not judged until it has a whole window', () => {
    const samples = series(12, (t) => ({ parts: t < 5 ? [[50, 50, 'a']] : [[50, 50, 'a'], [10, null, null]] }));
    expect(statuses(samples)).toEqual({ partitions: ['OK:lag_zero_in_window', 'OK:window_incomplete'], group: 'OK' });
  });

  it('no samples, no partitions: OK', () => {
    expect(evaluate([], WINDOW).group).toMatchObject({ status: Evaluation.OK, counts: { OK: 0, WARN: 0, STALL: 0, STOP: 0 } });
  });
});
