import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RateLimiter } from '../src/rate-limiter.js';

/** Sends `count` orders through the limiter as OrderSender does, recording when each piece went. */
async function send(limiter: RateLimiter, count: number, log: { who: string; n: number; at: number }[], who: string): Promise<void> {
  for (let sent = 0; sent < count; ) {
    const n = await limiter.acquire(count - sent);
    log.push({ who, n, at: Date.now() });
    sent += n;
  }
}

describe('RateLimiter: the one gate every order passes', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('without a limit lets a whole send through at once', async () => {
    const limiter = new RateLimiter(undefined, () => Date.now());
    await expect(limiter.acquire(100_000)).resolves.toBe(100_000);
    expect(limiter.limit).toBeNull();
  });

  it('at 10/s, 50 orders take about 4.5 s (5 at once, then one per 100 ms) and all go', async () => {
    const limiter = new RateLimiter(undefined, () => Date.now());
    limiter.setLimit(10);
    const log: { who: string; n: number; at: number }[] = [];
    const done = send(limiter, 50, log, 'burst');
    await vi.advanceTimersByTimeAsync(10_000);
    await done;
    expect(log.reduce((sum, piece) => sum + piece.n, 0)).toBe(50);
    expect(log[0]).toEqual({ who: 'burst', n: 5, at: 0 });
    expect(log.at(-1)!.at).toBe(4500);
  });

  it('takes turns: a single order asked for during a long send goes before the long send ends', async () => {
    const limiter = new RateLimiter(undefined, () => Date.now());
    limiter.setLimit(10);
    const log: { who: string; n: number; at: number }[] = [];
    const long = send(limiter, 100, log, 'batch');
    await vi.advanceTimersByTimeAsync(1000);
    const single = send(limiter, 1, log, 'single');
    await vi.advanceTimersByTimeAsync(300);
    await single;
    expect(log.find((p) => p.who === 'single')!.at).toBeLessThanOrEqual(1300);
    await vi.advanceTimersByTimeAsync(20_000);
    await long;
    expect(log.filter((p) => p.who === 'batch').reduce((sum, p) => sum + p.n, 0)).toBe(100);
  });

  it('holding (0) keeps orders waiting, counted, until a limit or none lets them go', async () => {
    const waiting: number[] = [];
    const limiter = new RateLimiter((n) => waiting.push(n), () => Date.now());
    limiter.setLimit(0);
    let granted: number | undefined;
    void limiter.acquire(30).then((n) => (granted = n));
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(granted).toBeUndefined();
    expect(limiter.waiting).toBe(30);
    expect(waiting.at(-1)).toBe(30);
    limiter.setLimit(null);
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toBe(30);
    expect(limiter.waiting).toBe(0);
    expect(waiting.at(-1)).toBe(0);
  });

  it('from holding to a limit, the waiting orders flow at that limit', async () => {
    const limiter = new RateLimiter(undefined, () => Date.now());
    limiter.setLimit(0);
    const log: { who: string; n: number; at: number }[] = [];
    const done = send(limiter, 20, log, 'held');
    await vi.advanceTimersByTimeAsync(5000);
    expect(log).toEqual([]);
    limiter.setLimit(20);
    await vi.advanceTimersByTimeAsync(2000);
    await done;
    expect(log.reduce((sum, p) => sum + p.n, 0)).toBe(20);
    // From an empty bucket at 20/s: the 20th order 1 s after the hold ended.
    expect(log.at(-1)!.at).toBe(6000);
  });

  it('close refuses waiting and later requests instead of holding shutdown forever', async () => {
    const limiter = new RateLimiter(undefined, () => Date.now());
    limiter.setLimit(0);
    const held = limiter.acquire(5);
    const reason = new Error('shutting down');
    limiter.close(reason);
    await expect(held).rejects.toBe(reason);
    await expect(limiter.acquire(1)).rejects.toBe(reason);
    expect(limiter.waiting).toBe(0);
  });
});
