import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

const ERROR_STAGES = ['metrics', 'get_scale', 'set_scale', 'status', 'spec'] as const;
export type ErrorStage = (typeof ERROR_STAGES)[number];
const DIRECTIONS = ['up', 'down'] as const;

/** The operator's Prometheus metrics, labelled by the LagAutoscaler's namespace and name. */
export class OperatorMetrics {
  private readonly desired: Gauge<'namespace' | 'name'>;
  private readonly current: Gauge<'namespace' | 'name'>;
  private readonly scaleEvents: Counter<'namespace' | 'name' | 'direction'>;
  private readonly errors: Counter<'namespace' | 'name' | 'stage'>;
  readonly reconcileDuration: Histogram<'namespace' | 'name'>;
  /** The LagAutoscalers whose series exist, as namespace/name. */
  private readonly started = new Set<string>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.desired = new Gauge({ name: 'lag_autoscaler_desired_replicas', help: 'Replicas the last decision asked for', labelNames: ['namespace', 'name'], registers });
    this.current = new Gauge({ name: 'lag_autoscaler_current_replicas', help: 'Replicas the scale target reported', labelNames: ['namespace', 'name'], registers });
    this.scaleEvents = new Counter({ name: 'lag_autoscaler_scale_events_total', help: 'Scale changes applied to the target', labelNames: ['namespace', 'name', 'direction'], registers });
    this.errors = new Counter({ name: 'lag_autoscaler_reconcile_errors_total', help: 'Failed reconcile steps, by stage', labelNames: ['namespace', 'name', 'stage'], registers });
    this.reconcileDuration = new Histogram({
      name: 'lag_autoscaler_reconcile_duration_seconds',
      help: 'Time for one reconcile: read metrics, read scale, decide, patch, write status',
      labelNames: ['namespace', 'name'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
  }

  /**
   * Every counter and the histogram of a LagAutoscaler at 0 from the start of its loop, so a
   * rate() or an alert sees the series before its first event. A loop restarted for a spec
   * change keeps the counts. The replica gauges wait for the first reconcile: there is no
   * honest value before.
   */
  loopStarted(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    if (this.started.has(key)) return;
    this.started.add(key);
    for (const direction of DIRECTIONS) this.scaleEvents.inc({ namespace, name, direction }, 0);
    for (const stage of ERROR_STAGES) this.errors.inc({ namespace, name, stage }, 0);
    this.reconcileDuration.zero({ namespace, name });
  }

  replicas(namespace: string, name: string, current: number, desired: number): void {
    this.current.set({ namespace, name }, current);
    this.desired.set({ namespace, name }, desired);
  }

  scaled(namespace: string, name: string, direction: (typeof DIRECTIONS)[number]): void {
    this.scaleEvents.inc({ namespace, name, direction });
  }

  error(namespace: string, name: string, stage: ErrorStage): void {
    this.errors.inc({ namespace, name, stage });
  }

  /** A deleted LagAutoscaler leaves no series behind. */
  forget(namespace: string, name: string): void {
    this.started.delete(`${namespace}/${name}`);
    for (const metric of [this.desired, this.current, this.reconcileDuration]) metric.remove({ namespace, name });
    for (const direction of DIRECTIONS) this.scaleEvents.remove({ namespace, name, direction });
    for (const stage of ERROR_STAGES) this.errors.remove({ namespace, name, stage });
  }
}
