import type { Logger } from '@bplab/kit';
import { readLag } from './lag-client.js';
import type { ProducerMetrics } from './metrics.js';
import type { RateLimiter } from './rate-limiter.js';
import { initialState, observe, setEnabled, THROTTLE_MODES, type LagStatus, type Poll, type ThrottleSettings, type ThrottleState } from './throttle.js';

export interface ThrottleLoopOptions extends ThrottleSettings {
  enabled: boolean;
  lagMonitorUrl: string;
  topic: string;
  pollMs: number;
}

/** What GET /throttle and GET /stats show. */
export interface ThrottleView {
  enabled: boolean;
  mode: ThrottleState['mode'];
  limit_per_sec: number | null;
  since: string;
  reason: string;
  waiting_orders: number;
  last_lag_status: LagStatus | null;
  last_total_lag: number | null;
  last_consumption_rate: number | null;
  last_report_at: string | null;
  lag_monitor: { url: string; last_poll: ThrottleState['lastPoll']; last_error: string | null };
  settings: { poll_ms: number; fraction: number; blind_ms: number };
}

/**
 * Runs the throttle of throttle.ts: while enabled, reads the lag monitor's GET /lag every pollMs
 * (each read times out after pollMs), applies the decision to the rate limiter, the metrics and
 * the log. A failed read is logged once when it starts failing and once when it recovers.
 */
export class ThrottleLoop {
  private state: ThrottleState;
  private timer: NodeJS.Timeout | undefined;
  /** Bumped by every enable/disable, so a read under way when it changed is ignored. */
  private generation = 0;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: ThrottleLoopOptions,
    private readonly limiter: RateLimiter,
    private readonly metrics: ProducerMetrics,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.state = initialState(options.enabled, this.clock());
    this.publish();
    if (options.enabled) this.schedule(0, this.generation);
  }

  get current(): ThrottleView {
    const s = this.state;
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      enabled: s.mode !== 'off',
      mode: s.mode,
      limit_per_sec: s.limit,
      since: new Date(s.since).toISOString(),
      reason: s.reason,
      waiting_orders: this.limiter.waiting,
      last_lag_status: s.lastReport?.status ?? null,
      last_total_lag: s.lastReport?.totalLag ?? null,
      last_consumption_rate: s.lastReport?.consumptionRate ?? null,
      last_report_at: iso(s.lastReportAt),
      lag_monitor: { url: this.options.lagMonitorUrl, last_poll: s.lastPoll, last_error: s.lastError },
      settings: { poll_ms: this.options.pollMs, fraction: this.options.fraction, blind_ms: this.options.blindMs },
    };
  }

  setEnabled(enabled: boolean): ThrottleView {
    const before = this.state;
    this.apply(setEnabled(this.state, enabled, this.clock()));
    if (before.mode === 'off' && enabled) {
      this.generation += 1;
      this.schedule(0, this.generation);
    } else if (before.mode !== 'off' && !enabled) {
      this.generation += 1;
      clearTimeout(this.timer);
    }
    return this.current;
  }

  /** Stops reading the monitor (shutdown); the limiter is closed by its owner. */
  async stop(): Promise<void> {
    this.generation += 1;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  private schedule(delay: number, generation: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.inFlight = this.poll(generation);
    }, Math.max(0, delay));
  }

  private async poll(generation: number): Promise<void> {
    const started = this.clock();
    const poll = await readLag(this.options.lagMonitorUrl, this.options.topic, this.options.pollMs);
    if (generation !== this.generation) return;
    this.metrics.throttlePolls.inc({ result: poll.result });
    this.logPoll(poll);
    this.apply(observe(this.state, poll, this.options, this.clock()));
    this.schedule(this.options.pollMs - (this.clock() - started), generation);
  }

  /** A read that starts or stops failing is worth a line; every failed read is not. */
  private logPoll(poll: Poll): void {
    const was = this.state.lastPoll;
    if (poll.result === 'ok' && was !== null && was !== 'ok') this.logger.info({ mode: this.state.mode }, 'throttle: lag monitor readable again');
    if (poll.result !== 'ok' && poll.result !== was) {
      const error = poll.result === 'stale' ? 'stale data' : poll.error;
      this.logger.warn({ mode: this.state.mode, limit_per_sec: this.state.limit, error }, `throttle: no usable lag report; keeping mode ${this.state.mode}`);
    }
  }

  private apply(next: ThrottleState): void {
    const before = this.state;
    this.state = next;
    if (next.mode !== before.mode) {
      this.logger.info(
        {
          from: before.mode,
          to: next.mode,
          limit_per_sec: next.limit,
          lag_status: next.lastReport?.status ?? null,
          total_lag: next.lastReport?.totalLag ?? null,
          consumption_rate: next.lastReport?.consumptionRate ?? null,
          reason: next.reason,
        },
        `throttle: ${before.mode} -> ${next.mode}`,
      );
    } else if (next.limit !== before.limit) {
      this.logger.debug({ mode: next.mode, from: before.limit, to: next.limit, reason: next.reason }, 'throttle: limit changed');
    }
    if (next.mode !== before.mode || next.limit !== before.limit) this.publish();
  }

  private publish(): void {
    for (const mode of THROTTLE_MODES) this.metrics.throttleMode.set({ mode }, mode === this.state.mode ? 1 : 0);
    this.metrics.throttleLimit.set(this.state.limit ?? Infinity);
    this.limiter.setLimit(this.state.limit);
  }
}
