/**
 * Per-key exponential backoff, as client-go's ItemExponentialFailureRateLimiter: each failure of
 * a key doubles its delay from baseMs up to maxMs; forget() starts it over.
 */
export class ExponentialBackoff {
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  /** The delay before the next try of this key, counting this failure. */
  when(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    return Math.min(this.maxMs, this.baseMs * 2 ** failures);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/**
 * A rate-limited work queue of keys, as client-go's workqueue: a key queued twice is handed out
 * once; a key is never handed out again while it is being processed (an add meanwhile hands it
 * out after done()); addRateLimited() queues it again after its backoff.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  /** Keys to be processed: queued, or added again while being processed. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiting: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;

  constructor(private readonly backoff: ExponentialBackoff) {}

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const waiter = this.waiting.shift();
    if (waiter) this.handOut(key, waiter);
    else this.queue.push(key);
  }

  /** The next key, once there is one; undefined once the queue is shut down. Call done(key) after. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) return new Promise((resolve) => this.handOut(key, resolve));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  /** Queues the key again after its backoff; a key already waiting keeps the earlier time. */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    const delayMs = this.backoff.when(key);
    const at = Date.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    clearTimeout(pending?.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { at, timer });
  }

  /** The key succeeded: its next failure starts from the base delay again. */
  forget(key: string): void {
    this.backoff.forget(key);
  }

  retries(key: string): number {
    return this.backoff.retries(key);
  }

  /** Drops what is queued or waiting for its backoff; get() answers undefined from now on. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.queue.length = 0;
    for (const waiter of this.waiting.splice(0)) waiter(undefined);
  }

  private handOut(key: string, to: (key: string) => void): void {
    this.dirty.delete(key);
    this.processing.add(key);
    to(key);
  }
}
