import { PausedBy, type Logger } from '@bplab/kit';
import {
  ControlState,
  initialController,
  MAX_OBSERVATIONS,
  record,
  reset,
  step,
  Transition,
  windowStats,
  type Controller,
  type Observation,
  type Thresholds,
  type WindowStats,
} from './downstream-health.js';
import type { ConsumerMetrics } from './metrics.js';

export interface AutoPauseSettings {
  /** Whether the controller acts; off, it still watches, and /stats shows what it sees. */
  enabled: boolean;
  /** How often a probe goes to the downstream while auto-paused. */
  probeIntervalMs: number;
}

/** How often the controller is evaluated besides after each observation: the hold's resolution. */
const TICK_MS = 200;

/**
 * Drives the hysteresis controller (downstream-health.ts) with the clock: feeds it every
 * downstream call, evaluates it every TICK_MS, and applies its transitions as the group's
 * "downstream" pause (Kafka's pause: the member stays in the group, no rebalance). While
 * auto-paused nothing is written, so it probes the downstream every probeIntervalMs to learn
 * when it has recovered.
 */
export class AutoPause {
  pauses = 0;
  resumes = 0;
  lastTransitionAt: string | null = null;
  lastReason: string | null = null;
  private controller: Controller = initialController();
  /**
   * Observations not in the window yet. While the controller is off nothing acts on them at once,
   * so they are added in bulk at each tick (or when the window is read): a consumer flat out
   * makes thousands of writes a second, and adding each alone copies the window each time.
   */
  private unrecorded: Observation[] = [];
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private lastProbeAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly settings: AutoPauseSettings,
    readonly thresholds: Thresholds,
    private readonly group: { setPaused(by: PausedBy, paused: boolean): void },
    /** The downstream: a probe, and the start times of its calls not yet answered. */
    private readonly downstream: { probe(): Promise<void>; inFlight(): number[] },
    private readonly consumerId: string,
    private readonly metrics: ConsumerMetrics,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.evaluate(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Every write and probe of the downstream. */
  readonly observe = (observation: Observation): void => {
    this.unrecorded.push(observation);
    if (this.settings.enabled || this.unrecorded.length >= MAX_OBSERVATIONS) this.evaluate();
  };

  get state(): ControlState {
    return this.controller.state;
  }

  stats(): WindowStats {
    this.recordObserved();
    return windowStats(this.controller.observations, this.thresholds, this.now(), this.downstream.inFlight());
  }

  /**
   * Turns the controller on or off at run time. Off while it holds the consumer paused, it lets go:
   * nobody would resume it otherwise.
   */
  setEnabled(enabled: boolean): void {
    this.settings.enabled = enabled;
    if (!enabled) this.release('auto-pause turned off');
  }

  /**
   * A manual resume overrides the controller: back to running with an empty window, and no new
   * automatic pause for the hold time. Not counted as an automatic resume.
   */
  release(why: string): void {
    const held = this.controller.state === ControlState.paused;
    this.controller = reset(this.now());
    this.unrecorded = [];
    if (!held) return;
    this.lastReason = why;
    this.metrics.autoPaused.set({ consumer: this.consumerId }, 0);
    this.group.setPaused(PausedBy.downstream, false);
    this.logger.info({ why }, 'downstream pause released');
  }

  private recordObserved(): void {
    this.controller = record(this.controller, this.unrecorded, this.thresholds);
    this.unrecorded = [];
  }

  private evaluate(): void {
    this.recordObserved();
    if (!this.settings.enabled) return;
    const now = this.now();
    const result = step(this.controller, this.thresholds, now, this.downstream.inFlight());
    this.controller = result.controller;
    if (result.transition !== null) {
      this.lastTransitionAt = new Date(now).toISOString();
      this.lastReason = result.reason;
      const paused = result.transition === Transition.pause;
      if (paused) {
        this.pauses += 1;
        this.metrics.autoPauses.inc({ consumer: this.consumerId });
      } else {
        this.resumes += 1;
        this.metrics.autoResumes.inc({ consumer: this.consumerId });
      }
      this.metrics.autoPaused.set({ consumer: this.consumerId }, paused ? 1 : 0);
      this.group.setPaused(PausedBy.downstream, paused);
      this.logger.warn({ reason: result.reason }, paused ? 'downstream overloaded: consumption paused' : 'downstream recovered: consumption resumed');
    }
    if (this.controller.state === ControlState.paused) this.maybeProbe(now);
  }

  private maybeProbe(now: number): void {
    if (this.probing || now - this.lastProbeAt < this.settings.probeIntervalMs) return;
    this.probing = true;
    this.lastProbeAt = now;
    // The downstream reports the probe's outcome through observe; a refusal is only a sample.
    this.downstream
      .probe()
      .catch(() => {})
      .finally(() => {
        this.probing = false;
      });
  }
}
