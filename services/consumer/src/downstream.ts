import type { Observation } from './downstream-health.js';
import { processedMessages, type ProcessedRecord, type TopicWriter } from './sink.js';

/** The simulated downstream's settings, changed at run time by POST /downstream. */
export interface DownstreamSettings {
  /** Added to every write and probe, 0..MAX_DOWNSTREAM_LATENCY_MS. */
  latencyMs: number;
  /** The share of writes and probes refused, 0..1. */
  errorRate: number;
}

export const MAX_DOWNSTREAM_LATENCY_MS = 60_000;

/** The downstream refused a write: nothing of it was stored, so it can be retried as a whole. */
export class DownstreamRejected extends Error {
  constructor() {
    super('simulated downstream refused the write');
    this.name = 'DownstreamRejected';
  }
}

export const CallKind = { write: 'write', probe: 'probe' } as const;
export type CallKind = (typeof CallKind)[keyof typeof CallKind];

/** A write the downstream accepted: its records are on their way to the sink topic. */
export interface AcceptedWrite {
  /** Settles with Kafka's acknowledgement of the records (acks=all). */
  stored: Promise<void>;
}

/**
 * The consumer's sink as a downstream service that can be degraded: every call first waits
 * latencyMs, then fails with probability errorRate (DownstreamRejected, nothing stored) or goes
 * through. A write is accepted there, and its records are then stored in the sink topic; the
 * caller goes on once it is accepted and learns of the store from `stored`, so the latency and
 * the refusals are paid in line, one write at a time, and Kafka's round trip is not. A probe
 * stores nothing, it only learns whether the downstream answers and how fast. Every call, whatever
 * its outcome, is reported to `observe` once it is over (stored, refused or failed) with its
 * measured latency, and counts as in flight until then. A wait follows the settings: lowering the
 * latency (the downstream recovers) also shortens the calls already waiting.
 */
export class SimulatedDownstream {
  writes = { ok: 0, failed: 0 };
  probes = { ok: 0, failed: 0 };
  private readonly pending = new Set<{ started: number }>();

  constructor(
    readonly settings: DownstreamSettings,
    private readonly sink: TopicWriter,
    private readonly observe: (observation: Observation, kind: CallKind) => void,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  /** Resolves once the downstream has accepted the records, with their store under way. */
  write(records: readonly ProcessedRecord[]): Promise<AcceptedWrite> {
    return this.call(CallKind.write, () => this.sink.write(processedMessages(records)));
  }

  /** A health check: the downstream's latency and errors, nothing stored. */
  async probe(): Promise<void> {
    await (await this.call(CallKind.probe, async () => {})).stored;
  }

  /** When each call not yet answered started. */
  inFlight(): number[] {
    return [...this.pending].map((p) => p.started);
  }

  private async call(kind: CallKind, store: () => Promise<void>): Promise<AcceptedWrite> {
    const entry = { started: this.now() };
    const counts = kind === CallKind.write ? this.writes : this.probes;
    this.pending.add(entry);
    const over = (ok: boolean) => {
      this.pending.delete(entry);
      counts[ok ? 'ok' : 'failed'] += 1;
      this.observe({ at: this.now(), latencyMs: this.now() - entry.started, ok }, kind);
    };
    try {
      if (this.settings.latencyMs > 0) await this.latency(entry.started);
      if (this.settings.errorRate > 0 && this.random() < this.settings.errorRate) throw new DownstreamRejected();
    } catch (err) {
      over(false);
      throw err;
    }
    const stored = store().then(
      () => over(true),
      (err: unknown) => {
        over(false);
        throw err;
      },
    );
    return { stored };
  }

  /** Waits until latencyMs after `started`, re-reading the setting at least every 250 ms. */
  private async latency(started: number): Promise<void> {
    for (;;) {
      const remaining = started + this.settings.latencyMs - this.now();
      if (remaining <= 0) return;
      await sleep(Math.min(remaining, 250));
    }
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
