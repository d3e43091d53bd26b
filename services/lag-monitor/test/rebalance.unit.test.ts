import { describe, expect, it } from 'vitest';
import type { OffsetSample } from '../src/lag.js';
import { RebalanceDetector, type RebalanceEvent } from '../src/rebalance.js';

const T0 = 1_700_000_000_000;
const POLL = 250;
const at = (i: number) => new Date(T0 + i * POLL).toISOString();

/**
 * One poll: the group state, its member ids, its committed offset and the topic's end offset on
 * one partition. A member id "c1#2" belongs to client "c1" (a restarted consumer keeps its client
 * id and gets a new member id).
 */
type Poll = [state: string, members: string[], committed: number, end: number];

function sample(i: number, [state, members, committed, end]: Poll): OffsetSample {
  return {
    at: T0 + i * POLL,
    partitions: [{ partition: 0, start_offset: 0, end_offset: end, committed_offset: committed }],
    members: members.length,
    member_list: members.map((id) => ({ member_id: id, client_id: id.split('#')[0]! })),
    group_state: state,
  };
}

function run(polls: Poll[], size?: number): RebalanceDetector {
  const detector = new RebalanceDetector(POLL, size);
  polls.forEach((p, i) => detector.observe(sample(i, p)));
  return detector;
}

/** An event's stop as sample indexes: [started, ended (null: open), lag added]. */
const stop = (e: RebalanceEvent) => [
  (Date.parse(e.stop_started_at) - T0) / POLL,
  e.stop_ended_at === null ? null : (Date.parse(e.stop_ended_at) - T0) / POLL,
  e.lag_added,
];

const S = 'Stable';
const P = 'PreparingRebalance';
const C = 'CompletingRebalance';
const E = 'Empty';

describe('RebalanceDetector: one event per membership change, its stop from the last progress before to the first after', () => {
  it.each<{ name: string; polls: Poll[]; stops: (number | null)[][] }>([
    {
      name: 'a member joins while the group keeps consuming: the stop starts at its last progress, ends at the first progress once Stable',
      polls: [
        [S, ['c1'], 10, 20],
        [S, ['c1'], 12, 22],
        [P, ['c1', 'c2'], 14, 24], // 2: the change; c1 goes on until its heartbeat
        [P, ['c1', 'c2'], 16, 26], // 3: the last progress
        [P, ['c1', 'c2'], 16, 28],
        [C, ['c1', 'c2'], 16, 30],
        [S, ['c1', 'c2'], 16, 32],
        [S, ['c1', 'c2'], 20, 34], // 7: consuming again
        [S, ['c1', 'c2'], 24, 36],
      ],
      stops: [[3, 7, 34 - 26]],
    },
    {
      name: 'the group had already stopped when the change was seen: the stop starts at the last progress before it',
      polls: [
        [S, ['c1', 'c2'], 8, 18],
        [S, ['c1', 'c2'], 10, 20], // 1: the last progress
        [S, ['c1', 'c2'], 10, 22],
        [P, ['c1'], 10, 24], // 3: c2 left
        [S, ['c1'], 10, 26],
        [S, ['c1'], 13, 28], // 5
      ],
      stops: [[1, 5, 8]],
    },
    {
      name: 'progress in the first Stable sample followed by more progress: the stop ended there',
      polls: [
        [S, ['c1'], 10, 20],
        [P, ['c1', 'c2'], 12, 22], // 1: the last progress
        [P, ['c1', 'c2'], 12, 24],
        [S, ['c1', 'c2'], 14, 26], // 3: settled and consuming
        [S, ['c1', 'c2'], 16, 28], // 4: confirms it
      ],
      stops: [[1, 3, 4]],
    },
    {
      name: 'progress in the first Stable sample, then none: those were the old members\' last commits, the stop starts there',
      polls: [
        [S, ['c1'], 10, 20],
        [P, ['c1', 'c2'], 10, 22], // a slow consumer between commits
        [S, ['c1', 'c2'], 11, 24], // 2: c1's last commit, then a quick rebalance
        [S, ['c1', 'c2'], 11, 26],
        [S, ['c1', 'c2'], 11, 28],
        [S, ['c1', 'c2'], 12, 30], // 5
      ],
      stops: [[2, 5, 6]],
    },
    {
      name: 'an idle group (lag 0 at both ends) is not stopped: the stop is 0',
      polls: [
        [S, ['c1'], 10, 10],
        [P, ['c1', 'c2'], 10, 10],
        [S, ['c1', 'c2'], 10, 10], // 2: settled, nothing waiting
        [S, ['c1', 'c2'], 10, 10],
      ],
      stops: [[2, 2, 0]],
    },
    {
      name: 'a stop that no sample saw (progress in each) reads one poll: it lasted between none and two',
      polls: [
        [S, ['c1'], 6, 16],
        [S, ['c1'], 10, 20], // 1
        [S, ['c1', 'c2'], 14, 24], // 2: a rebalance entirely between two polls
        [S, ['c1', 'c2'], 18, 28],
      ],
      stops: [[1, 2, 4]],
    },
    {
      name: 'the last member leaves with a backlog: open until someone consumes again',
      polls: [
        [S, ['c1'], 10, 20], // 0
        [E, [], 10, 22],
        [E, [], 10, 24],
      ],
      stops: [[0, null, null]],
    },
    {
      name: 'changes inside one stop are events of their own, and each reports the stop it was part of',
      polls: [
        [S, ['c1'], 10, 20], // 0: the last progress
        [P, ['c1', 'c2'], 10, 22], // 1: c2 joins, the group stops
        [P, ['c1', 'c2', 'c3'], 10, 24], // 2: c3 joins too
        [S, ['c1', 'c2', 'c3'], 10, 26],
        [S, ['c1', 'c2', 'c3'], 15, 28], // 4
      ],
      stops: [
        [0, 4, 8],
        [0, 4, 8],
      ],
    },
    {
      name: 'a restarted consumer (same client id, new member id) is a change: left and joined',
      polls: [
        [S, ['c1'], 10, 20],
        [P, ['c1#2'], 10, 22],
        [S, ['c1#2'], 10, 24],
        [S, ['c1#2'], 14, 26],
      ],
      stops: [[0, 3, 6]],
    },
    {
      name: 'the same members in a new generation (a rejoin) are no change',
      polls: [
        [S, ['c1', 'c2'], 10, 20],
        [P, ['c1', 'c2'], 10, 22],
        [S, ['c1', 'c2'], 14, 24],
      ],
      stops: [],
    },
  ])('$name', ({ polls, stops }) => {
    expect(run(polls).events(10).reverse().map(stop)).toEqual(stops);
  });

  it('describes the change: when it was seen, the client ids before and after, who joined and who left', () => {
    const events = run([
      [S, ['c2', 'c1'], 10, 10],
      [P, ['c1', 'c3'], 10, 10],
      [S, ['c1#2', 'c3'], 10, 10],
    ]).events(10);
    expect(events.map(({ at: seen, members_before, members_after, joined, left }) => ({ seen, members_before, members_after, joined, left }))).toEqual([
      { seen: at(2), members_before: ['c1', 'c3'], members_after: ['c1', 'c3'], joined: ['c1'], left: ['c1'] },
      { seen: at(1), members_before: ['c1', 'c2'], members_after: ['c1', 'c3'], joined: ['c3'], left: ['c2'] },
    ]);
  });

  it('an open event has no end, length or cost yet, and its start follows the group while it goes on consuming', () => {
    const detector = new RebalanceDetector(POLL);
    const polls: Poll[] = [
      [S, ['c1'], 10, 20],
      [P, ['c1', 'c2'], 12, 22],
      [P, ['c1', 'c2'], 14, 24],
    ];
    const opened = polls.map((p, i) => detector.observe(sample(i, p)).opened);
    expect(opened.map((o) => o.length)).toEqual([0, 1, 0]);
    expect(detector.events(1)).toEqual([
      { at: at(1), members_before: ['c1'], members_after: ['c1', 'c2'], joined: ['c2'], left: [], stop_started_at: at(2), stop_ended_at: null, stop_seconds: null, lag_added: null, resolution_ms: POLL },
    ]);
  });

  it('reports each event once as opened and once as closed, with its stop in seconds', () => {
    const detector = new RebalanceDetector(POLL);
    const polls: Poll[] = [
      [S, ['c1'], 10, 20],
      [P, ['c1', 'c2'], 10, 22],
      [S, ['c1', 'c2'], 10, 24],
      [S, ['c1', 'c2'], 10, 26],
      [S, ['c1', 'c2'], 12, 28],
      [S, ['c1', 'c2'], 14, 30],
    ];
    const results = polls.map((p, i) => detector.observe(sample(i, p)));
    expect(results.map((r) => [r.opened.length, r.closed.length])).toEqual([[0, 0], [1, 0], [0, 0], [0, 0], [0, 1], [0, 0]]);
    expect(results[4]!.closed[0]).toMatchObject({ stop_seconds: (4 * POLL) / 1000, lag_added: 8 });
  });

  it('samples without a member list carry no membership: no event', () => {
    const detector = new RebalanceDetector(POLL);
    detector.observe({ ...sample(0, [S, ['c1'], 10, 20]), member_list: undefined });
    detector.observe(sample(1, [S, ['c1', 'c2'], 10, 20]));
    expect(detector.cost().events).toBe(0);
  });
});

describe('RebalanceDetector: the ring and the typical stop', () => {
  /** One join per entry, each stopping the group for that many polls (at least 2); idle otherwise. */
  function changes(stops: number[]): Poll[] {
    const polls: Poll[] = [[S, ['m0'], 0, 0]];
    let committed = 0;
    stops.forEach((length, i) => {
      const members = Array.from({ length: i + 2 }, (_, m) => `m${m}`);
      polls.push([P, members, committed, committed + 1]);
      for (let k = 2; k < length; k++) polls.push([S, members, committed, committed + 1]);
      committed += 1;
      polls.push([S, members, committed, committed]);
      polls.push([S, members, committed, committed]);
    });
    return polls;
  }

  it('keeps the newest events, newest first, and still counts every change', () => {
    const detector = run(changes([2, 3, 4]), 2);
    expect(detector.events(10).map((e) => e.joined)).toEqual([['m3'], ['m2']]);
    expect(detector.events(1).map((e) => e.joined)).toEqual([['m3']]);
    expect(detector.cost().events).toBe(3);
  });

  it.each([
    { name: 'none closed yet', stops: [], typical: null },
    { name: 'one: its stop', stops: [4], typical: 1 },
    { name: 'an even count: the mean of the middle two', stops: [4, 8], typical: 1.5 },
    { name: 'the median of the last five, not of all', stops: [40, 40, 40, 4, 4, 8, 8, 8], typical: 2 },
  ])('typical_stop_seconds: $name', ({ stops, typical }) => {
    const cost = run(changes(stops)).cost();
    expect(cost.typical_stop_seconds).toBe(typical);
    expect(cost.events).toBe(stops.length);
    expect(cost.last?.joined ?? null).toEqual(stops.length === 0 ? null : [`m${stops.length}`]);
  });

  it('typical_stop_seconds leaves out changes to or from an empty group: their stop is the group\'s absence', () => {
    const detector = run([
      [S, ['c1'], 10, 10],
      [P, ['c1', 'c2'], 10, 11], // 1 -> 2: stops 3 polls (from 0 to 3)
      [S, ['c1', 'c2'], 10, 12],
      [S, ['c1', 'c2'], 12, 12],
      [E, [], 12, 13], // 2 -> 0: nobody consumes for 6 polls (from 3 to 9)
      [E, [], 12, 20],
      [E, [], 12, 30],
      [P, ['c3'], 12, 40],
      [S, ['c3'], 12, 50],
      [S, ['c3'], 20, 60], // 0 -> 1 and 2 -> 0 end here
    ]);
    expect(detector.events(10).map((e) => e.stop_seconds)).toEqual([1.5, 1.5, (3 * POLL) / 1000]);
    expect(detector.cost().typical_stop_seconds).toBe((3 * POLL) / 1000);
  });
});

