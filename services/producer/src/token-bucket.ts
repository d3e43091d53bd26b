/**
 * A token bucket: one token per order, `rate` tokens a second, at most `capacity` saved up. Pure:
 * no clock and no timers; the caller passes the time in milliseconds (any monotonic clock) and
 * RateLimiter (rate-limiter.ts) does the waiting. Over any stretch of time t it lets through at
 * most rate x t + capacity orders.
 */

/** The bucket holds this many seconds of its rate: the largest burst a limit lets through at once. */
export const BURST_SECONDS = 0.5;

export interface Bucket {
  /** Tokens (orders) per second; 0 adds none: holding. */
  readonly rate: number;
  /** The most tokens it holds. */
  readonly capacity: number;
  readonly tokens: number;
  /** When `tokens` was last brought up to date, in ms. */
  readonly at: number;
}

/** At least one order, or no order could ever pass; none at all while holding (rate 0). */
export function capacityFor(rate: number): number {
  return rate > 0 ? Math.max(1, rate * BURST_SECONDS) : 0;
}

/** A full bucket at `rate` (an empty one at rate 0). */
export function newBucket(rate: number, now: number): Bucket {
  const capacity = capacityFor(rate);
  return { rate, capacity, tokens: capacity, at: now };
}

/** The tokens earned since `at`, up to the capacity. Time never runs backwards here. */
export function refill(bucket: Bucket, now: number): Bucket {
  const elapsed = Math.max(0, now - bucket.at);
  return { ...bucket, tokens: Math.min(bucket.capacity, bucket.tokens + (bucket.rate * elapsed) / 1000), at: Math.max(bucket.at, now) };
}

/**
 * A new rate from now on: the tokens earned at the old rate are kept, up to the new capacity, so
 * a change of limit neither gives a fresh burst nor takes away what was already earned.
 */
export function retune(bucket: Bucket, rate: number, now: number): Bucket {
  const current = refill(bucket, now);
  const capacity = capacityFor(rate);
  return { rate, capacity, tokens: Math.min(current.tokens, capacity), at: current.at };
}

export interface Take {
  bucket: Bucket;
  /** Orders that may go now: 0..want, whole orders only. */
  granted: number;
  /** With nothing granted, how long until one order may go (Infinity while holding); else 0. */
  waitMs: number;
}

/** Up to `want` orders now, as many as whole tokens allow; or how long to wait for the next one. */
export function take(bucket: Bucket, want: number, now: number): Take {
  const current = refill(bucket, now);
  const granted = Math.max(0, Math.min(Math.floor(want), Math.floor(current.tokens)));
  if (granted > 0) return { bucket: { ...current, tokens: current.tokens - granted }, granted, waitMs: 0 };
  if (current.rate <= 0) return { bucket: current, granted: 0, waitMs: Infinity };
  // At least 1 ms: rounding may leave the token a hair short after the wait, and the caller
  // simply asks again.
  return { bucket: current, granted: 0, waitMs: Math.max(1, Math.ceil(((1 - current.tokens) / current.rate) * 1000)) };
}
