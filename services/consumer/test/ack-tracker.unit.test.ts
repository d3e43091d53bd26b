import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AckTracker, type Positioned } from '../src/ack-tracker.js';

const at = (partition: number, offset: number | string, topic = 'orders'): Positioned => ({ topic, partition, offset: String(offset) });

describe('AckTracker: per partition, commit through the acknowledged prefix and never past a write not acknowledged', () => {
  it('in order: each acknowledgement moves its partition, and the commit is the last offset + 1', () => {
    const t = new AckTracker();
    t.take([at(0, 10), at(0, 11), at(1, 5)]);
    expect(t.unacknowledged).toBe(3);
    expect(t.acknowledge([at(0, 10)])).toEqual([at(0, 10)]);
    expect(t.toCommit()).toEqual([at(0, 11)]);
    expect(t.acknowledge([at(0, 11), at(1, 5)])).toEqual([at(0, 11), at(1, 5)]);
    expect(t.toCommit()).toEqual([at(0, 12), at(1, 6)]);
    expect(t.unacknowledged).toBe(0);
  });

  it('out of order: a later acknowledgement waits for the earlier one, then both move at once', () => {
    const t = new AckTracker();
    t.take([at(2, 7), at(2, 8), at(2, 9)]);
    expect(t.acknowledge([at(2, 9)])).toEqual([]);
    expect(t.acknowledge([at(2, 8)])).toEqual([]);
    expect(t.toCommit()).toEqual([]);
    expect(t.acknowledge([at(2, 7)])).toEqual([at(2, 9)]);
    expect(t.toCommit()).toEqual([at(2, 10)]);
  });

  it('partitions are independent: one waiting write holds back only its own partition', () => {
    const t = new AckTracker();
    t.take([at(0, 1), at(1, 1), at(0, 2)]);
    t.acknowledge([at(1, 1), at(0, 2)]);
    expect(t.toCommit()).toEqual([at(1, 2)]);
  });

  it('gaps in the offsets (compacted or control records) do not hold a partition back: the order taken counts', () => {
    const t = new AckTracker();
    t.take([at(0, 3), at(0, 9)]);
    t.acknowledge([at(0, 3), at(0, 9)]);
    expect(t.toCommit()).toEqual([at(0, 10)]);
  });

  it('a commit is planned again until it succeeds, and only what moved since is planned after it', () => {
    const t = new AckTracker();
    t.take([at(0, 1), at(1, 1)]);
    t.acknowledge([at(0, 1), at(1, 1)]);
    expect(t.toCommit()).toEqual([at(0, 2), at(1, 2)]);
    expect(t.toCommit()).toEqual([at(0, 2), at(1, 2)]);
    t.committed([at(0, 2), at(1, 2)]);
    expect(t.toCommit()).toEqual([]);
    t.take([at(1, 2)]);
    t.acknowledge([at(1, 2)]);
    expect(t.toCommit()).toEqual([at(1, 3)]);
  });

  it('topics are kept apart and listed in topic, then partition order', () => {
    const t = new AckTracker();
    t.take([at(1, 4, 'b'), at(0, 4, 'b'), at(3, 1, 'a')]);
    t.acknowledge([at(1, 4, 'b'), at(0, 4, 'b'), at(3, 1, 'a')]);
    expect(t.toCommit()).toEqual([at(3, 2, 'a'), at(0, 5, 'b'), at(1, 5, 'b')]);
  });

  it('offsets beyond 2^53 stay exact', () => {
    const t = new AckTracker();
    t.take([at(0, '9007199254740993')]);
    t.acknowledge([at(0, '9007199254740993')]);
    expect(t.toCommit()).toEqual([at(0, '9007199254740994')]);
  });

  it('a partition fetched again from an earlier offset starts over, once nothing of it waits', () => {
    const t = new AckTracker();
    t.take([at(0, 20)]);
    t.acknowledge([at(0, 20)]);
    t.take([at(0, 15)]);
    expect(t.toCommit()).toEqual([]);
    t.acknowledge([at(0, 15)]);
    expect(t.toCommit()).toEqual([at(0, 16)]);
  });

  it('refuses what cannot happen: going back with writes waiting, an acknowledgement of nothing taken, or of one twice', () => {
    const t = new AckTracker();
    t.take([at(0, 5)]);
    expect(() => t.take([at(0, 5)])).toThrow(/went back/);
    expect(() => t.acknowledge([at(0, 6)])).toThrow(/not waiting/);
    expect(() => t.acknowledge([at(1, 5)])).toThrow(/not waiting/);
    t.acknowledge([at(0, 5)]);
    expect(() => t.acknowledge([at(0, 5)])).toThrow(/not waiting/);
  });

  it('clear forgets everything', () => {
    const t = new AckTracker();
    t.take([at(0, 1), at(0, 2)]);
    t.acknowledge([at(0, 1)]);
    t.clear();
    expect(t.unacknowledged).toBe(0);
    expect(t.toCommit()).toEqual([]);
  });

  it('any order of acknowledgements: commits never pass a message not acknowledged, and end at the last one + 1', () => {
    const partitions = 3;
    const scenario = fc.record({
      // Messages per partition, and which batch still waiting is acknowledged next.
      counts: fc.array(fc.integer({ min: 0, max: 30 }), { minLength: partitions, maxLength: partitions }),
      batchSize: fc.integer({ min: 1, max: 7 }),
      picks: fc.array(fc.nat(), { minLength: 1, maxLength: 60 }),
    });
    fc.assert(
      fc.property(scenario, ({ counts, batchSize, picks }) => {
        // Taken round-robin across partitions, in offset order per partition, in batches.
        const taken: Positioned[] = [];
        const next = counts.map(() => 100);
        for (let left = true; left; ) {
          left = false;
          counts.forEach((count, p) => {
            if (next[p]! - 100 < count) {
              taken.push(at(p, next[p]!));
              next[p]! += 1 + (next[p]! % 3 === 0 ? 1 : 0); // a gap now and then
              left = true;
            }
          });
        }
        const batches: Positioned[][] = [];
        for (let i = 0; i < taken.length; i += batchSize) batches.push(taken.slice(i, i + batchSize));
        const t = new AckTracker();
        for (const b of batches) t.take(b);
        const waiting = new Set(batches.keys());
        const acknowledged = new Set<string>();
        const resolved = new Map<number, bigint>();
        const committed = new Map<number, bigint>();
        let k = 0;
        while (waiting.size > 0) {
          const pick = [...waiting][picks[k++ % picks.length]! % waiting.size]!;
          waiting.delete(pick);
          for (const m of batches[pick]!) acknowledged.add(`${m.partition}/${m.offset}`);
          for (const moved of t.acknowledge(batches[pick]!)) {
            expect(BigInt(moved.offset)).toBeGreaterThan(resolved.get(moved.partition) ?? -1n);
            resolved.set(moved.partition, BigInt(moved.offset));
          }
          const commits = t.toCommit();
          t.committed(commits);
          for (const c of commits) {
            // Forward only, and exactly one past what is resolved there.
            expect(BigInt(c.offset)).toBeGreaterThan(committed.get(c.partition) ?? -1n);
            expect(BigInt(c.offset)).toBe(resolved.get(c.partition)! + 1n);
            committed.set(c.partition, BigInt(c.offset));
          }
          // Every message below a partition's commit (and up to what it resolved) is acknowledged.
          for (const m of taken) {
            const below = (committed.get(m.partition) ?? -1n) > BigInt(m.offset) || (resolved.get(m.partition) ?? -1n) >= BigInt(m.offset);
            if (below) expect(acknowledged.has(`${m.partition}/${m.offset}`)).toBe(true);
          }
        }
        expect(t.unacknowledged).toBe(0);
        counts.forEach((count, p) => {
          const last = taken.filter((m) => m.partition === p).at(-1);
          expect(committed.get(p)).toBe(last === undefined ? undefined : BigInt(last.offset) + 1n);
        });
      }),
    );
  });
});
