import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BURST_SECONDS, capacityFor, newBucket, retune, take, type Bucket } from '../src/token-bucket.js';

const T0 = 1_000_000;

describe('take: whole orders as tokens allow, or how long until the next one', () => {
  it.each([
    { name: 'a full bucket at 8/s lets 4 (half a second) through at once', bucket: newBucket(8, T0), want: 10, at: T0, granted: 4, waitMs: 0 },
    { name: 'never more than asked for', bucket: newBucket(8, T0), want: 3, at: T0, granted: 3, waitMs: 0 },
    { name: 'empty: one token at 8/s is 125 ms away', bucket: { ...newBucket(8, T0), tokens: 0 }, want: 1, at: T0, granted: 0, waitMs: 125 },
    { name: 'half a token earned: the rest is 63 ms away', bucket: { ...newBucket(8, T0), tokens: 0.5 }, want: 1, at: T0, granted: 0, waitMs: 63 },
    { name: '250 ms at 8/s earn 2 orders', bucket: { ...newBucket(8, T0), tokens: 0 }, want: 10, at: T0 + 250, granted: 2, waitMs: 0 },
    { name: 'a slow rate still lets one order through (capacity at least 1)', bucket: newBucket(0.5, T0), want: 5, at: T0, granted: 1, waitMs: 0 },
    { name: 'holding (rate 0) lets nothing through, ever', bucket: newBucket(0, T0), want: 1, at: T0 + 3_600_000, granted: 0, waitMs: Infinity },
    { name: 'a clock that steps back earns nothing', bucket: { ...newBucket(8, T0), tokens: 0 }, want: 1, at: T0 - 5000, granted: 0, waitMs: 125 },
  ])('$name', ({ bucket, want, at, granted, waitMs }) => {
    const result = take(bucket, want, at);
    expect(result.granted).toBe(granted);
    expect(result.waitMs).toBe(waitMs);
  });

  it(`saves up at most ${BURST_SECONDS} s of its rate`, () => {
    expect(take({ ...newBucket(100, T0), tokens: 0 }, 1000, T0 + 60_000).granted).toBe(100 * BURST_SECONDS);
    expect(capacityFor(0)).toBe(0);
    expect(capacityFor(0.1)).toBe(1);
  });
});

describe('retune: a new limit keeps what was earned, up to its own capacity', () => {
  it.each([
    { name: 'slower: the saved burst shrinks to the new capacity', from: newBucket(100, T0), rate: 10, tokens: 5 },
    { name: 'faster: no fresh burst, only what was saved', from: { ...newBucket(10, T0), tokens: 1 }, rate: 100, tokens: 1 },
    { name: 'to holding: nothing saved goes out', from: newBucket(100, T0), rate: 0, tokens: 0 },
    { name: 'from holding: starts empty', from: newBucket(0, T0), rate: 10, tokens: 0 },
  ])('$name', ({ from, rate, tokens }) => {
    const next = retune(from, rate, T0);
    expect(next).toMatchObject({ rate, tokens, capacity: capacityFor(rate) });
  });
});

/** Steps of a client: wait some ms, then ask for some orders. */
const steps = fc.array(fc.record({ afterMs: fc.integer({ min: 0, max: 3000 }), want: fc.integer({ min: 1, max: 500 }) }), { maxLength: 200 });
const rates = fc.double({ min: 0.01, max: 2000, noNaN: true });

describe('over any sequence of requests', () => {
  it('sends at most rate x time + capacity in every stretch of time, not only from the start', () => {
    fc.assert(
      fc.property(rates, steps, (rate, requests) => {
        let bucket: Bucket = newBucket(rate, T0);
        let now = T0;
        const grants: { at: number; n: number }[] = [];
        for (const { afterMs, want } of requests) {
          now += afterMs;
          const result = take(bucket, want, now);
          expect(result.granted).toBeGreaterThanOrEqual(0);
          expect(result.granted).toBeLessThanOrEqual(want);
          bucket = result.bucket;
          grants.push({ at: now, n: result.granted });
        }
        // Every window [grants[i].at, grants[j].at]: a bucket that saved up more than its
        // capacity while idle would fail here, though not over the whole run.
        for (let i = 0; i < grants.length; i++) {
          let sent = 0;
          for (let j = i; j < grants.length; j++) {
            sent += grants[j]!.n;
            expect(sent).toBeLessThanOrEqual((rate * (grants[j]!.at - grants[i]!.at)) / 1000 + capacityFor(rate) + 1e-6);
          }
        }
      }),
    );
  });

  it('across limit changes, sends at most the sum of rate x time of each stretch + the largest capacity', () => {
    const stretches = fc.array(fc.record({ rate: fc.oneof(fc.constant(0), rates), requests: steps }), { minLength: 1, maxLength: 10 });
    fc.assert(
      fc.property(stretches, (plan) => {
        let bucket: Bucket = newBucket(plan[0]!.rate, T0);
        let now = T0;
        let sent = 0;
        let allowed = 0;
        let largest = 0;
        for (const { rate, requests } of plan) {
          bucket = retune(bucket, rate, now);
          largest = Math.max(largest, capacityFor(rate));
          for (const { afterMs, want } of requests) {
            now += afterMs;
            allowed += (rate * afterMs) / 1000;
            const result = take(bucket, want, now);
            bucket = result.bucket;
            sent += result.granted;
          }
        }
        expect(sent).toBeLessThanOrEqual(allowed + largest + 1e-6);
      }),
    );
  });

  it('a waiter that waits the time it was told gets an order (after at most one more short wait)', () => {
    fc.assert(
      fc.property(rates, steps, fc.integer({ min: 1, max: 500 }), (rate, requests, want) => {
        let bucket: Bucket = newBucket(rate, T0);
        let now = T0;
        for (const step of requests) {
          now += step.afterMs;
          bucket = take(bucket, step.want, now).bucket;
        }
        let result = take(bucket, want, now);
        for (let attempt = 0; result.granted === 0 && attempt < 2; attempt++) {
          expect(Number.isFinite(result.waitMs)).toBe(true);
          now += result.waitMs;
          result = take(result.bucket, want, now);
        }
        expect(result.granted).toBeGreaterThanOrEqual(1);
      }),
    );
  });
});
