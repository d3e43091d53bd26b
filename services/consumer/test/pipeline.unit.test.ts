import type { Logger } from '@bplab/kit';
import { describe, expect, it } from 'vitest';
import type { Positioned } from '../src/ack-tracker.js';
import { WritePipeline } from '../src/pipeline.js';

const at = (partition: number, offset: number): Positioned => ({ topic: 'orders', partition, offset: String(offset) });

/** A write whose acknowledgement the test gives (or refuses) by hand. */
function pendingWrite() {
  let ack!: () => void;
  let fail!: (err: unknown) => void;
  const stored = new Promise<void>((resolve, reject) => {
    ack = resolve;
    fail = reject;
  });
  return { stored, ack, fail };
}

/** Lets every settled promise's callbacks run. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

function rig(max = 100, commitResult: () => Promise<void> = async () => {}) {
  const commits: Positioned[][] = [];
  const through: Positioned[] = [];
  const failures: unknown[] = [];
  const warnings: string[] = [];
  const events: string[] = [];
  /** While set, commits wait here until released. */
  let held: (() => void)[] | undefined;
  const logger = { warn: (_: unknown, message: string) => warnings.push(message) } as unknown as Logger;
  const pipeline = new WritePipeline(
    async (offsets) => {
      commits.push(offsets);
      events.push(`commit ${offsets.map((o) => `${o.partition}@${o.offset}`).join(',')}`);
      if (held === undefined) return commitResult();
      const waiting = held;
      await new Promise<void>((resolve) => waiting.push(resolve));
    },
    (t) => through.push(t),
    (err) => failures.push(err),
    logger,
    max,
  );
  const hand = (messages: Positioned[]) => {
    const w = pendingWrite();
    pipeline.hand(
      messages,
      w.stored,
      () => events.push(`acknowledged ${messages.map((m) => `${m.partition}@${m.offset}`).join(',')}`),
      () => events.push(`failed ${messages.map((m) => `${m.partition}@${m.offset}`).join(',')}`),
    );
    return w;
  };
  /** Holds commits until the returned function releases them. */
  const holdCommits = () => {
    const waiting: (() => void)[] = [];
    held = waiting;
    return () => {
      held = undefined;
      for (const resolve of waiting) resolve();
    };
  };
  return { pipeline, hand, commits, through, failures, warnings, events, holdCommits };
}

describe('WritePipeline: writes acknowledged in the background, offsets committed only behind them', () => {
  it('each acknowledged batch resolves its partitions and is committed right after (offset + 1)', async () => {
    const r = rig();
    const a = r.hand([at(0, 5)]);
    const b = r.hand([at(1, 9), at(0, 6)]);
    expect(r.pipeline.unacknowledged).toBe(3);
    a.ack();
    await flush();
    expect(r.through).toEqual([at(0, 5)]);
    expect(r.commits).toEqual([[at(0, 6)]]);
    b.ack();
    await flush();
    expect(r.through).toEqual([at(0, 5), at(1, 9), at(0, 6)]);
    expect(r.commits.at(-1)).toEqual([at(0, 7), at(1, 10)]);
    expect(r.pipeline.unacknowledged).toBe(0);
    expect(r.events[0]).toBe('acknowledged 0@5');
  });

  it('one commit at a time: what is acknowledged meanwhile goes in the next one', async () => {
    const r = rig();
    const release = r.holdCommits();
    const writes = [0, 1, 2, 3].map((i) => r.hand([at(0, i)]));
    writes[0]!.ack();
    await flush();
    expect(r.commits).toEqual([[at(0, 1)]]);
    for (const w of writes.slice(1)) w.ack();
    await flush();
    expect(r.commits).toHaveLength(1);
    release();
    await flush();
    expect(r.commits).toEqual([[at(0, 1)], [at(0, 4)]]);
  });

  it('an acknowledgement out of order waits for the write before it in its partition', async () => {
    const r = rig();
    const first = r.hand([at(0, 1)]);
    const second = r.hand([at(0, 2)]);
    second.ack();
    await flush();
    expect(r.through).toEqual([]);
    expect(r.commits).toEqual([]);
    first.ack();
    await flush();
    expect(r.through).toEqual([at(0, 2)]);
    expect(r.commits).toEqual([[at(0, 3)]]);
  });

  it('a failed write is never committed past: its partition stops there, the failure is reported, settle commits the rest', async () => {
    const r = rig();
    const boom = new Error('broker down');
    const a = r.hand([at(0, 1), at(1, 1)]);
    const b = r.hand([at(0, 2)]);
    const c = r.hand([at(0, 3), at(1, 2)]);
    b.fail(boom);
    await flush();
    expect(r.failures).toEqual([boom]);
    expect(r.pipeline.failure).toBe(boom);
    const settled = r.pipeline.settle();
    a.ack();
    c.ack();
    await settled;
    expect(r.events).toEqual(['failed 0@2', 'acknowledged 0@1,1@1', expect.stringMatching(/^commit/), 'acknowledged 0@3,1@2', expect.stringMatching(/^commit/)]);
    // Partition 0 stops at 1 (2 failed, so 3 waits behind it); partition 1 goes through 2.
    const last = new Map(r.commits.flat().map((o) => [o.partition, o.offset]));
    expect(Object.fromEntries(last)).toEqual({ 0: '2', 1: '3' });
    r.pipeline.reset();
    expect(r.pipeline.failure).toBeUndefined();
    expect(r.pipeline.unacknowledged).toBe(0);
  });

  it('settle waits for every write in flight and for the commit of what they acknowledged', async () => {
    const r = rig();
    const release = r.holdCommits();
    const a = r.hand([at(0, 1)]);
    let done = false;
    const settled = r.pipeline.settle().then(() => (done = true));
    await flush();
    expect(done).toBe(false);
    a.ack();
    await flush();
    expect(done).toBe(false);
    release();
    await settled;
    expect(r.commits).toEqual([[at(0, 2)]]);
  });

  it('a failed commit is logged and carried by the next one', async () => {
    let failNext = true;
    const r = rig(100, async () => {
      if (failNext) {
        failNext = false;
        throw new Error('REBALANCE_IN_PROGRESS');
      }
    });
    r.hand([at(0, 1)]).ack();
    await flush();
    expect(r.warnings).toHaveLength(1);
    await r.pipeline.settle();
    expect(r.commits).toEqual([[at(0, 2)], [at(0, 2)]]);
  });

  it('room waits while a batch would go over the bound, but a batch always fits an empty pipeline', async () => {
    const r = rig(3);
    await r.pipeline.room(50);
    const a = r.hand([at(0, 1), at(0, 2)]);
    let roomy = false;
    const room = r.pipeline.room(2).then(() => (roomy = true));
    await flush();
    expect(roomy).toBe(false);
    await r.pipeline.room(1);
    a.ack();
    await room;
    expect(r.pipeline.unacknowledged).toBe(0);
  });
});
