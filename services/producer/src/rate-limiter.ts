import { newBucket, retune, take, type Bucket } from './token-bucket.js';

interface Waiter {
  want: number;
  resolve: (granted: number) => void;
  reject: (err: Error) => void;
}

/**
 * The one gate every order passes on its way to Kafka (OrderSender.send): the token bucket of
 * token-bucket.ts plus the waiting. Without a limit it lets everything through at once; with one
 * it hands out orders in the order they were asked for, a few at a time, so that a long
 * /produce/batch and a single /produce take turns. A throttled order waits; it is never dropped.
 */
export class RateLimiter {
  /** null: no limit. */
  private bucket: Bucket | null = null;
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed: Error | undefined;

  constructor(
    /** Called with the number of orders waiting whenever it changes. */
    private readonly onWaiting: (orders: number) => void = () => {},
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Orders per second let through: null without a limit, 0 while holding. */
  get limit(): number | null {
    return this.bucket?.rate ?? null;
  }

  /** Orders waiting for the limiter. */
  get waiting(): number {
    return this.queue.reduce((sum, w) => sum + w.want, 0);
  }

  setLimit(limit: number | null): void {
    const now = this.clock();
    if (limit === null) this.bucket = null;
    else if (this.bucket === null) this.bucket = newBucket(limit, now);
    else this.bucket = retune(this.bucket, limit, now);
    this.pump();
  }

  /**
   * Resolves with how many of `want` orders (1..want) may go now. Whoever sends the rest asks
   * again, and queues behind those who asked meanwhile.
   */
  acquire(want: number): Promise<number> {
    if (this.closed) return Promise.reject(this.closed);
    if (this.bucket === null && this.queue.length === 0) return Promise.resolve(want);
    return new Promise((resolve, reject) => {
      this.queue.push({ want, resolve, reject });
      this.pump();
    });
  }

  /** Refuses every waiting and later request with `reason`: for shutdown, which must not wait on a hold. */
  close(reason: Error): void {
    this.closed = reason;
    clearTimeout(this.timer);
    for (const waiter of this.queue.splice(0)) waiter.reject(reason);
    this.onWaiting(0);
  }

  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (this.bucket === null) {
        this.queue.shift();
        head.resolve(head.want);
        continue;
      }
      const result = take(this.bucket, head.want, this.clock());
      this.bucket = result.bucket;
      if (result.granted === 0) {
        // Holding: no timer; the next setLimit wakes the queue.
        if (Number.isFinite(result.waitMs)) this.timer = setTimeout(() => this.pump(), result.waitMs);
        break;
      }
      this.queue.shift();
      head.resolve(result.granted);
    }
    this.onWaiting(this.waiting);
  }
}
