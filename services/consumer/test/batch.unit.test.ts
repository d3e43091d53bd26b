import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maxThroughputPerSec } from '@bplab/kit';
import { modeOf, planBatch, ProcessingMode, retryDelayMs } from '../src/batch.js';

describe('planBatch takes up to batch_size messages across the fetched runs, in order', () => {
  it.each([
    { name: 'one run, a full batch', remaining: [25], size: 10, counts: [10] },
    { name: 'one run, its end is a short batch', remaining: [4], size: 10, counts: [4] },
    { name: 'several partitions fill one batch, first run first', remaining: [3, 4, 9], size: 10, counts: [3, 4, 3] },
    { name: 'a run already taken (0 left) is skipped', remaining: [0, 7, 8], size: 10, counts: [0, 7, 3] },
    { name: 'size 1 is one message at a time', remaining: [5, 5], size: 1, counts: [1, 0] },
    { name: 'a batch larger than everything takes everything', remaining: [2, 3], size: 1000, counts: [2, 3] },
    { name: 'never an empty batch from a size below 1', remaining: [2], size: 0, counts: [1] },
    { name: 'nothing waiting takes nothing', remaining: [0, 0], size: 10, counts: [0, 0] },
  ])('$name', ({ remaining, size, counts }) => {
    expect(planBatch(remaining, size)).toEqual(counts);
  });

  it('batch after batch takes every message exactly once, in run order, each batch full but the last', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 12 }), fc.integer({ min: 1, max: 1000 }), (runs, size) => {
        const remaining = [...runs];
        const sizes: number[] = [];
        while (remaining.some((r) => r > 0)) {
          const counts = planBatch(remaining, size);
          const before = [...remaining];
          counts.forEach((c, i) => {
            expect(c).toBeGreaterThanOrEqual(0);
            expect(c).toBeLessThanOrEqual(before[i]!);
            // In order: a later run only gives once every earlier one is used up.
            if (c > 0) for (let j = 0; j < i; j++) expect(before[j]! - counts[j]!).toBe(0);
            remaining[i] = before[i]! - c;
          });
          sizes.push(counts.reduce((a, b) => a + b, 0));
        }
        const total = runs.reduce((a, b) => a + b, 0);
        expect(sizes.reduce((a, b) => a + b, 0)).toBe(total);
        expect(sizes.length).toBe(Math.ceil(total / size));
        sizes.slice(0, -1).forEach((s) => expect(s).toBe(size));
      }),
    );
  });
});

describe('throughput: batch_size x 1000 / (processing_ms + downstream latency)', () => {
  it.each([
    { name: "the seed's one at a time at 500 ms", batchSize: 1, processingTimeMs: 500, downstreamLatencyMs: 0, perSec: 2 },
    { name: 'batch 10 at 200 ms: 50/s against 5/s one at a time', batchSize: 10, processingTimeMs: 200, downstreamLatencyMs: 0, perSec: 50 },
    { name: 'a slow downstream costs once per batch', batchSize: 10, processingTimeMs: 200, downstreamLatencyMs: 300, perSec: 20 },
    { name: 'only the downstream', batchSize: 100, processingTimeMs: 0, downstreamLatencyMs: 1000, perSec: 100 },
    { name: 'no simulated time at all: unbounded', batchSize: 5, processingTimeMs: 0, downstreamLatencyMs: 0, perSec: null },
  ])('$name', ({ perSec, ...inputs }) => {
    expect(maxThroughputPerSec(inputs)).toBe(perSec);
  });

  it.each([
    { batchSize: 1, mode: ProcessingMode.single },
    { batchSize: 2, mode: ProcessingMode.batch },
    { batchSize: 1000, mode: ProcessingMode.batch },
  ])('batch size $batchSize is mode $mode', ({ batchSize, mode }) => {
    expect(modeOf(batchSize)).toBe(mode);
  });
});

describe('retryDelayMs: 100 ms doubling to at most 2 s', () => {
  it.each([
    [0, 100],
    [1, 200],
    [3, 800],
    [4, 1600],
    [5, 2000],
    [40, 2000],
  ])('attempt %i waits %i ms', (attempt, ms) => {
    expect(retryDelayMs(attempt)).toBe(ms);
  });
});
