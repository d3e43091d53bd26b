import type { Logger } from '@bplab/kit';
import { decide, emptyHistory, Hold, nextReadDelayMs, updateHistory, type Decision, type MetricsSnapshot, type ScalingHistory } from './decide.js';
import type { ErrorStage, OperatorMetrics } from './metrics.js';
import type { AutoscalerSpec } from './spec.js';
import { decisionRecord, setCondition, type AutoscalerStatus, type Condition } from './status.js';

/** What the loop scales: a Deployment's scale subresource, or local consumer processes. */
export interface ScaleTarget {
  /** For messages, e.g. "Deployment lab/consumer". */
  readonly description: string;
  getReplicas(): Promise<number>;
  setReplicas(replicas: number): Promise<void>;
}

/** The target does not exist (yet): not an outage, so no backoff, but nothing to scale. */
/**
 * The target cannot be scaled for a reason that waiting out a backoff will not fix: it does not
 * exist (yet), or the operator's Role does not cover it. Not an outage: reported as AbleToScale
 * False with this reason, and looked at again at the next poll.
 */
export class TargetUnavailableError extends Error {
  constructor(
    readonly reason: 'TargetNotFound' | 'TargetForbidden',
    message: string,
  ) {
    super(message);
  }
}

/** The reasons of the Events a loop records. */
export const EventReason = { scaledUp: 'ScaledUp', scaledDown: 'ScaledDown', metricsUnavailable: 'MetricsUnavailable' } as const;
export type EventReason = (typeof EventReason)[keyof typeof EventReason];

/** Where status and events go: the LagAutoscaler's status subresource and Events, or memory. */
export interface StatusSink {
  writeStatus(status: AutoscalerStatus): Promise<void>;
  recordEvent(type: 'Normal' | 'Warning', reason: EventReason, message: string): Promise<void>;
}

/** What a loop keeps across restarts for a spec change: stabilisation history and last status. */
export interface LoopMemory {
  history: ScalingHistory;
  status: AutoscalerStatus | null;
  metricsWereAvailable: boolean | null;
}

export const freshMemory = (): LoopMemory => ({ history: emptyHistory, status: null, metricsWereAvailable: null });

export interface LoopOptions {
  namespace: string;
  name: string;
  generation: number;
  spec: AutoscalerSpec;
  target: ScaleTarget;
  readMetrics: (spec: AutoscalerSpec) => Promise<MetricsSnapshot>;
  sink: StatusSink;
  metrics: OperatorMetrics;
  logger: Logger;
  memory: LoopMemory;
  now?: () => number;
}

/**
 * Delay after consecutive apiserver failures: doubles from the poll interval up to this. Kept
 * short because a retry is one cheap GET, and the controller wakes the loops as soon as its
 * watch reconnects anyway.
 */
export const MAX_BACKOFF_MS = 10_000;

export interface LoopView {
  namespace: string;
  name: string;
  generation: number;
  target: string;
  spec: AutoscalerSpec;
  status: AutoscalerStatus | null;
  lastError: string | null;
  consecutiveFailures: number;
}

/**
 * One LagAutoscaler's reconcile loop: every poll interval (timed to land just after the lag
 * monitor's samples: nextReadDelayMs) it reads the lag, reads the target's replicas, decides,
 * scales, and reports. Cluster and local mode differ only in the target and
 * the sink.
 */
export class AutoscalerLoop {
  private stopped = false;
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private failures = 0;
  private lastError: string | null = null;
  private readonly now: () => number;

  constructor(private readonly options: LoopOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.options.metrics.loopStarted(this.options.namespace, this.options.name);
    this.running ??= this.run();
  }

  /** Resolves once the reconcile in flight (if any) has finished; no patch happens after. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
  }

  /** Reconciles now instead of at the end of the current wait (e.g. the apiserver is back). */
  kick(): void {
    this.wake?.();
  }

  view(): LoopView {
    const { namespace, name, generation, target, spec, memory } = this.options;
    return {
      namespace,
      name,
      generation,
      target: target.description,
      spec,
      status: memory.status,
      lastError: this.lastError,
      consecutiveFailures: this.failures,
    };
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const delay = await this.reconcile();
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** One pass; returns the delay until the next one (the poll interval, or backoff after failures). */
  async reconcile(): Promise<number> {
    const { namespace, name, metrics, logger } = this.options;
    const endTimer = metrics.reconcileDuration.startTimer({ namespace, name });
    try {
      await this.reconcileOnce();
      this.failures = 0;
      this.lastError = null;
    } catch (err) {
      const { stage, error } = err instanceof StageError ? err : { stage: 'status' as const, error: err };
      this.failures += 1;
      this.lastError = `${stage}: ${message(error)}`;
      metrics.error(namespace, name, stage);
      logger.warn({ autoscaler: `${namespace}/${name}`, stage, err: message(error), failures: this.failures }, 'reconcile failed');
    } finally {
      endTimer();
    }
    const pollMs = this.options.spec.pollIntervalSeconds * 1000;
    return this.failures === 0 ? nextReadDelayMs(this.options.memory.history, this.options.spec, this.now()) : Math.min(MAX_BACKOFF_MS, pollMs * 2 ** (this.failures - 1));
  }

  private async reconcileOnce(): Promise<void> {
    const { namespace, name, generation, spec, target, metrics, logger, memory } = this.options;
    const at = new Date(this.now());
    let conditions: Condition[] = memory.status?.conditions ?? [];
    const condition = (type: Condition['type'], status: Condition['status'], reason: string, text: string) => {
      conditions = setCondition(conditions, { type, status, reason, message: text, observedGeneration: generation }, at);
    };

    let snapshot: MetricsSnapshot | null = null;
    let metricsError: string | null = null;
    try {
      snapshot = await this.options.readMetrics(spec);
    } catch (err) {
      metricsError = message(err);
      metrics.error(namespace, name, 'metrics');
    }

    let current: number;
    try {
      current = await target.getReplicas();
    } catch (err) {
      if (!(err instanceof TargetUnavailableError)) throw new StageError('get_scale', err);
      condition('AbleToScale', 'False', err.reason, err.message);
      await this.report({ ...memory.status, observedGeneration: generation, conditions });
      return;
    }

    const decision = decide({ snapshot, currentReplicas: current, spec, history: memory.history, now: at.getTime() });
    let scaled: { from: number; to: number } | null = null;
    if (decision.desiredReplicas !== current) {
      try {
        await target.setReplicas(decision.desiredReplicas);
      } catch (err) {
        condition('AbleToScale', 'False', 'FailedUpdateScale', message(err));
        await this.report({ ...memory.status, observedGeneration: generation, conditions }).catch(() => {});
        throw new StageError('set_scale', err);
      }
      scaled = { from: current, to: decision.desiredReplicas };
      const direction = scaled.to > scaled.from ? 'up' : 'down';
      metrics.scaled(namespace, name, direction);
      logger.info({ autoscaler: `${namespace}/${name}`, ...scaled, reason: decision.reason }, 'scaled');
      await this.event(
        'Normal',
        direction === 'up' ? EventReason.scaledUp : EventReason.scaledDown,
        `Scaled ${target.description} from ${scaled.from} to ${scaled.to}: ${decision.reason}`,
      );
    }
    memory.history = updateHistory(memory.history, decision, spec, at.getTime(), scaled);
    metrics.replicas(namespace, name, scaled?.to ?? current, decision.desiredReplicas);

    const metricsState = metricsCondition(snapshot, decision, metricsError);
    condition('MetricsAvailable', metricsState.available ? 'True' : 'False', metricsState.reason, metricsState.message);
    if (!metricsState.available && memory.metricsWereAvailable !== false) {
      await this.event('Warning', EventReason.metricsUnavailable, `Holding at ${current} replicas: ${metricsState.message}`);
    }
    memory.metricsWereAvailable = metricsState.available;

    if (spec.paused) condition('AbleToScale', 'False', 'Paused', 'spec.paused is true');
    else if (scaled) condition('AbleToScale', 'True', 'SucceededRescale', `scaled from ${scaled.from} to ${scaled.to}`);
    else condition('AbleToScale', 'True', 'ReadyForNewScale', 'the target answers and can be scaled');

    const limit = decision.limitedBy;
    if (limit === null) condition('ScalingLimited', 'False', 'DesiredWithinRange', 'the recommendation is within the bounds');
    else condition('ScalingLimited', 'True', { partitions: 'PartitionCount', maxReplicas: 'TooManyReplicas', minReplicas: 'TooFewReplicas' }[limit], decision.reason);

    await this.report({
      observedGeneration: generation,
      currentReplicas: scaled?.to ?? current,
      desiredReplicas: decision.desiredReplicas,
      ...(snapshot ? { partitions: snapshot.partitionCount } : memory.status?.partitions !== undefined ? { partitions: memory.status.partitions } : {}),
      ...(scaled ? { lastScaleTime: at.toISOString() } : memory.status?.lastScaleTime ? { lastScaleTime: memory.status.lastScaleTime } : {}),
      lastDecision: decisionRecord(decision, snapshot, current, at),
      conditions,
    });
  }

  private async report(status: AutoscalerStatus): Promise<void> {
    this.options.memory.status = status;
    try {
      await this.options.sink.writeStatus(status);
    } catch (err) {
      throw new StageError('status', err);
    }
  }

  /** Events are best effort: a lost event must not fail the reconcile that already scaled. */
  private async event(type: 'Normal' | 'Warning', reason: EventReason, text: string): Promise<void> {
    try {
      await this.options.sink.recordEvent(type, reason, text);
    } catch (err) {
      this.options.logger.warn({ reason, err: message(err) }, 'could not record event');
    }
  }
}

/** The MetricsAvailable condition: whether the decision could use the lag monitor's figures, and if not why. */
function metricsCondition(snapshot: MetricsSnapshot | null, decision: Decision, readError: string | null): { available: boolean; reason: string; message: string } {
  if (snapshot === null) return { available: false, reason: 'MetricsUnavailable', message: readError ?? 'no metrics' };
  if (decision.heldBy === Hold.metricsStale) return { available: false, reason: 'MetricsStale', message: 'the lag monitor reports a stale or old sample' };
  if (decision.heldBy === Hold.noPartitions) return { available: false, reason: 'NoPartitions', message: `topic ${snapshot.topic} has no partitions` };
  return { available: true, reason: 'MetricsRead', message: `lag ${snapshot.totalLag} on ${snapshot.partitionCount} partitions` };
}

class StageError extends Error {
  constructor(
    readonly stage: ErrorStage,
    readonly error: unknown,
  ) {
    super(message(error));
  }
}

export function message(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}${typeof code === 'string' ? ` (${code})` : ''}`;
  }
  return String(err);
}
