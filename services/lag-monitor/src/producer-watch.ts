import { readJson } from '@bplab/kit';
import { z } from 'zod';

/** The producer's GET /throttle: only what the page shows is checked. */
const throttleBody = z.object({
  enabled: z.boolean(),
  mode: z.string(),
  limit_per_sec: z.number().nullable(),
  since: z.string(),
  reason: z.string(),
});
export type ProducerThrottle = z.infer<typeof throttleBody>;

export interface ProducerWatchState {
  url: string;
  throttle: ProducerThrottle | null;
  last_error: string | null;
  checked_at: string | null;
}

/**
 * Reads the producer's throttle (PRODUCER_URL, optional) every interval, so that /status and the
 * page say when the producer is being held back by this monitor's own verdict. The producer
 * reads GET /lag to throttle; this only watches, it never steers.
 */
export class ProducerWatch {
  readonly state: ProducerWatchState;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly producerUrl: string,
    private readonly intervalMs: number,
  ) {
    this.state = { url: `${producerUrl.replace(/\/+$/, '')}/throttle`, throttle: null, last_error: null, checked_at: null };
  }

  start(): void {
    const tick = async () => {
      const read = await readJson(this.state.url, throttleBody, this.intervalMs);
      Object.assign(this.state, read.ok ? { throttle: read.body, last_error: null } : { throttle: null, last_error: read.error }, { checked_at: new Date().toISOString() });
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.intervalMs);
    };
    void tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
