/**
 * Counts events per second in a ring of one-second buckets, so that a service can report its
 * rate over the last 10 s and 60 s without keeping a timestamp per event.
 */
export class RateWindow {
  private readonly buckets: number[];
  private readonly seconds: number[];

  constructor(private readonly span = 60) {
    this.buckets = new Array<number>(span).fill(0);
    this.seconds = new Array<number>(span).fill(-1);
  }

  add(count = 1, nowMs = Date.now()): void {
    const second = Math.floor(nowMs / 1000);
    const slot = second % this.span;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.buckets[slot] = 0;
    }
    this.buckets[slot] = (this.buckets[slot] ?? 0) + count;
  }

  /** Events per second over the last `window` whole seconds before now. */
  rate(window: number, nowMs = Date.now()): number {
    const now = Math.floor(nowMs / 1000);
    let total = 0;
    for (let s = now - window; s < now; s++) {
      const slot = ((s % this.span) + this.span) % this.span;
      if (this.seconds[slot] === s) total += this.buckets[slot] ?? 0;
    }
    return round(total / window);
  }
}

/** Two decimals: every rate and ratio the lab reports. */
export function round(value: number): number {
  return Math.round(value * 100) / 100;
}
