import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExponentialBackoff, WorkQueue } from '../src/workqueue.js';

describe('ExponentialBackoff', () => {
  it('doubles per failure of a key from the base up to the cap', () => {
    const backoff = new ExponentialBackoff(5, 100);
    expect(Array.from({ length: 7 }, () => backoff.when('a'))).toEqual([5, 10, 20, 40, 80, 100, 100]);
    expect(backoff.retries('a')).toBe(7);
  });

  it('counts each key on its own, and forget starts a key over', () => {
    const backoff = new ExponentialBackoff(5, 100);
    backoff.when('a');
    backoff.when('a');
    expect(backoff.when('b')).toBe(5);
    backoff.forget('a');
    expect(backoff.retries('a')).toBe(0);
    expect(backoff.when('a')).toBe(5);
  });
});

describe('WorkQueue', () => {
  let queue: WorkQueue;
  beforeEach(() => {
    queue = new WorkQueue(new ExponentialBackoff(5, 1000));
  });
  afterEach(() => {
    queue.shutDown();
    vi.useRealTimers();
  });

  /** The value of a promise if it has settled by the next turn of the event loop, else 'pending'. */
  const settled = <T>(promise: Promise<T>) =>
    Promise.race([promise, new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);

  it('hands out a key queued twice once, in the order first queued', async () => {
    queue.add('a');
    queue.add('b');
    queue.add('a');
    expect(await queue.get()).toBe('a');
    expect(await queue.get()).toBe('b');
    expect(await settled(queue.get())).toBe('pending');
  });

  it('never hands out a key again while it is processed: an add meanwhile hands it out after done', async () => {
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.add('a');
    queue.add('a');
    const next = queue.get();
    expect(await settled(next)).toBe('pending');
    queue.done('a');
    expect(await settled(next)).toBe('a');
    queue.done('a');
    expect(await settled(queue.get())).toBe('pending');
  });

  it('wakes a waiting get when a key arrives', async () => {
    const next = queue.get();
    queue.add('a');
    expect(await next).toBe('a');
  });

  it('queues a failed key again after its backoff, doubling, and from the base after forget', async () => {
    vi.useFakeTimers();
    const got = vi.fn();
    const failOnce = async (expectedDelayMs: number) => {
      queue.addRateLimited('a');
      void queue.get().then(got);
      await vi.advanceTimersByTimeAsync(expectedDelayMs - 1);
      expect(got).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(1);
      expect(got).toHaveBeenCalledWith('a');
      queue.done('a');
      got.mockClear();
    };
    await failOnce(5);
    await failOnce(10);
    await failOnce(20);
    queue.forget('a');
    await failOnce(5);
  });

  it('answers undefined once shut down, and drops what waits for its backoff', async () => {
    vi.useFakeTimers();
    const waiting = queue.get();
    queue.addRateLimited('b');
    queue.shutDown();
    expect(await waiting).toBeUndefined();
    await vi.advanceTimersByTimeAsync(10);
    queue.add('a');
    expect(await queue.get()).toBeUndefined();
  });
});
