import { createLogger } from '@bplab/kit';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { MetricsSnapshot } from '../src/decide.js';
import { AutoscalerLoop, freshMemory, TargetUnavailableError, type EventReason, type ScaleTarget, type StatusSink } from '../src/loop.js';
import { OperatorMetrics } from '../src/metrics.js';
import { parseSpec } from '../src/spec.js';
import type { AutoscalerStatus } from '../src/status.js';

const NOW = 1_700_000_000_000;
const spec = parseSpec({ scaleTargetRef: { name: 'consumer' }, metricsSource: { url: 'http://lag-monitor:8010' }, topic: 'orders', consumerGroup: 'order-processors' });
const snapshot = (overrides: Partial<MetricsSnapshot> = {}): MetricsSnapshot => ({
  group: 'order-processors', topic: 'orders', totalLag: 0, partitionCount: 6, productionRate: null, consumptionRate: null, members: 1, sampledAt: NOW, stale: false, ...overrides,
});

class RecordingSink implements StatusSink {
  statuses: AutoscalerStatus[] = [];
  events: { type: string; reason: EventReason; message: string }[] = [];
  async writeStatus(status: AutoscalerStatus) {
    this.statuses.push(status);
  }
  async recordEvent(type: 'Normal' | 'Warning', reason: EventReason, message: string) {
    this.events.push({ type, reason, message });
  }
}

function loop(readMetrics: () => Promise<MetricsSnapshot>, replicas = 2, getReplicas?: () => Promise<number>) {
  const sink = new RecordingSink();
  const registry = new Registry();
  const target: ScaleTarget = { description: 'Deployment lab/consumer', getReplicas: getReplicas ?? (async () => replicas), setReplicas: async (n) => void (replicas = n) };
  const autoscaler = new AutoscalerLoop({
    namespace: 'lab', name: 'consumer', generation: 1, spec, target, readMetrics, sink,
    metrics: new OperatorMetrics(registry), logger: createLogger('test', 'silent'), memory: freshMemory(), now: () => NOW,
  });
  return { autoscaler, sink, registry };
}

describe('AutoscalerLoop', () => {
  it.each(['TargetNotFound', 'TargetForbidden'] as const)('a target it cannot use (%s) is AbleToScale=False with that reason, polled again without backoff', async (reason) => {
    const { autoscaler, sink } = loop(async () => snapshot({ totalLag: 5000 }), 2, async () => {
      throw new TargetUnavailableError(reason, `because of ${reason}`);
    });
    expect(await autoscaler.reconcile()).toBe(spec.pollIntervalSeconds * 1000);
    expect(await autoscaler.reconcile()).toBe(spec.pollIntervalSeconds * 1000);
    expect(sink.statuses.at(-1)!.conditions.find((c) => c.type === 'AbleToScale')).toMatchObject({ status: 'False', reason, message: `because of ${reason}` });
    expect(autoscaler.view().consecutiveFailures).toBe(0);
  });

  it('a topic without partitions is MetricsAvailable=False with its own reason, and holds', async () => {
    const { autoscaler, sink } = loop(async () => snapshot({ partitionCount: 0, totalLag: 0 }));
    await autoscaler.reconcile();
    const status = sink.statuses.at(-1)!;
    expect(status.desiredReplicas).toBe(2);
    expect(status.conditions.find((c) => c.type === 'MetricsAvailable')).toMatchObject({ status: 'False', reason: 'NoPartitions' });
    expect(sink.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'MetricsUnavailable' })]);
  });

  it('every series of its LagAutoscaler exists from the start of a loop; the replica gauges from the first reconcile', async () => {
    let release = () => {};
    const { autoscaler, registry } = loop(() => new Promise((resolve) => (release = () => resolve(snapshot()))));
    autoscaler.start();
    const atStart = await registry.metrics();
    for (const direction of ['up', 'down']) {
      expect(atStart).toContain(`lag_autoscaler_scale_events_total{namespace="lab",name="consumer",direction="${direction}"} 0`);
    }
    for (const stage of ['metrics', 'get_scale', 'set_scale', 'status', 'spec']) {
      expect(atStart).toContain(`lag_autoscaler_reconcile_errors_total{namespace="lab",name="consumer",stage="${stage}"} 0`);
    }
    expect(atStart).toContain('lag_autoscaler_reconcile_duration_seconds_count{namespace="lab",name="consumer"} 0');
    // The replica counts are unknown until the target has been read: no made-up 0.
    expect(atStart).not.toContain('lag_autoscaler_current_replicas{');
    release();
    await autoscaler.stop();
    const after = await registry.metrics();
    expect(after).toContain('lag_autoscaler_current_replicas{namespace="lab",name="consumer"} 1');
    expect(after).toContain('lag_autoscaler_desired_replicas{namespace="lab",name="consumer"} 1');
  });
});
