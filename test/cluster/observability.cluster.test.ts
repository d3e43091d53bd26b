import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { ALERTS } from '../support/alerts.js';
import { dashboardFromConfigMap, dashboardQueries } from '../support/dashboard.js';
import { loadK6Script, replay } from '../support/k6.js';
import { REPO } from '../support/paths.js';
import { kubectl, make, NS, paths, portForward, postJson, readTopic, settle, startApiProxy, TEST_SETS, type Pod } from './support.js';

/*
 * Monitoring and tracing as `make up CLUSTER=local` brings them: the prometheus-operator v0.93.0,
 * Prometheus 3.16 and Jaeger v2.13 built from the Go module proxy, in namespace monitoring, with
 * the chart's ServiceMonitors, PrometheusRule and dashboard. Read through `make port-forward`
 * (Prometheus on 9090, Jaeger on 16686), as a user reads them. Grafana itself cannot run here
 * (no image can be pulled): its dashboard's every query is evaluated by this Prometheus instead.
 */

const LAG_CRITICAL = 500; // the chart's default lagMonitor.lagCritical
const CRITICAL_FOR = TEST_SETS.find((s) => s.startsWith('monitoring.alerts.lagCriticalFor='))!.split('=')[1]!;

let api: Awaited<ReturnType<typeof startApiProxy>>;
let pf: Awaited<ReturnType<typeof portForward>>;
let prometheus: string;
let jaeger: string;
beforeAll(async () => {
  api = await startApiProxy();
  await settle(api);
  pf = await portForward();
  prometheus = `http://localhost:${pf.ports[9090]}`;
  jaeger = `http://localhost:${pf.ports[16686]}`;
});
afterAll(async () => {
  await pf?.stop();
  api?.stop();
});

async function promApi<T = any>(path: string): Promise<T> {
  const res = await fetch(`${prometheus}${path}`);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${res.status} ${body.error}`);
  return body.data;
}
const query = (expr: string) => promApi<{ resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}
const labAlerts = async (name: string) => (await promApi<{ alerts: Alert[] }>('/api/v1/alerts')).alerts.filter((a) => a.labels.alertname === name && a.labels.namespace === NS);

describe('Prometheus on the local node', () => {
  it('scrapes every component of the lab as an up target, each consumer pod its own', async () => {
    const consumers = (await api.get<{ items: Pod[] }>(paths.pods('consumer'))).items.length;
    await vi.waitFor(
      async () => {
        const { activeTargets } = await promApi<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] }>('/api/v1/targets?state=active');
        const ours = activeTargets.filter((t) => t.labels.namespace === NS);
        const summary = Object.fromEntries(
          ['producer', 'consumer', 'lag-monitor', 'lag-autoscaler'].map((job) => [job, ours.filter((t) => t.labels.job === job).map((t) => `${t.health}${t.lastError ? ` (${t.lastError})` : ''}`)]),
        );
        expect(summary).toEqual({ producer: ['up'], consumer: Array(consumers).fill('up'), 'lag-monitor': ['up'], 'lag-autoscaler': ['up'] });
      },
      { timeout: 90_000, interval: 1000 },
    );
  });

  it("loads the lab's rule group with its seven alerts, at the chart's thresholds", async () => {
    const { groups } = await promApi<{ groups: { name: string; file: string; rules: { name: string; type: string; query: string; duration: number; labels: Record<string, string> }[] }[] }>('/api/v1/rules');
    const group = groups.find((g) => g.name === 'backpressure-lab');
    expect(group, `rule groups: ${groups.map((g) => g.name).join(', ')}`).toBeDefined();
    expect(group!.rules.filter((r) => r.type === 'alerting').map((r) => r.name).sort()).toEqual([...ALERTS].sort());
    const critical = group!.rules.find((r) => r.name === 'KafkaConsumerLagCritical')!;
    expect(critical.query).toContain(`> ${LAG_CRITICAL}`);
    expect(critical.duration).toBe(Number.parseInt(CRITICAL_FOR, 10));
    for (const rule of group!.rules) expect(rule.labels.severity, rule.name).toMatch(/^(critical|warning)$/);
  });

  it('fires KafkaConsumerLagCritical under a burst against a paused consumer, answers every dashboard query during the drain, and resolves the alert after it', async () => {
    const consumer = `http://localhost:${pf.ports[8001]}`;
    const producer = `http://localhost:${pf.ports[8000]}`;
    // One consumer, held there, and paused: the burst can only pile up.
    await make('scale-manual', { REPLICAS: '1' }, pf.env);
    await postJson(`${consumer}/pause`);
    try {
      const burst = LAG_CRITICAL + 300;
      await postJson(`${producer}/burst`, { count: burst, delay_ms: 0 });
      await vi.waitFor(
        async () => {
          const alerts = await labAlerts('KafkaConsumerLagCritical');
          expect(alerts.map((a) => a.state)).toEqual(['firing']);
          expect(alerts[0]!.labels.severity).toBe('critical');
          // The description quotes the lag and the threshold.
          expect(alerts[0]!.annotations.description).toContain(String(LAG_CRITICAL));
          expect(alerts[0]!.annotations.description).toMatch(/\b8\d\d\b/);
        },
        { timeout: 90_000, interval: 1000 },
      );
    } finally {
      await postJson(`${consumer}/resume`);
      await make('scale-manual', {}, pf.env);
    }

    // The operator scales up and the backlog drains: the moment every panel has something to show.
    await vi.waitFor(async () => expect(Number((await query('max(lag_autoscaler_desired_replicas)')).result[0]?.value[1])).toBeGreaterThan(1), { timeout: 60_000, interval: 1000 });
    const configMap = JSON.parse(await kubectl(['get', 'configmap', 'grafana-dashboard-backpressure-lab', '-o', 'json']));
    const queries = dashboardQueries(dashboardFromConfigMap(configMap), { namespace: NS });
    expect(queries.length).toBeGreaterThan(10);
    await vi.waitFor(
      async () => {
        const empty: string[] = [];
        for (const q of queries) if ((await query(q.expr)).result.length === 0) empty.push(`${q.title} ${q.refId}: ${q.expr}`);
        expect(empty, 'dashboard queries without data').toEqual([]);
      },
      { timeout: 60_000, interval: 2000 },
    );

    await vi.waitFor(async () => expect(await labAlerts('KafkaConsumerLagCritical')).toEqual([]), { timeout: 180_000, interval: 1000 });
    expect(Number((await query(`kafka_consumer_group_lag_total{namespace="${NS}"}`)).result[0]?.value[1])).toBeLessThanOrEqual(LAG_CRITICAL);
  });
});

describe('Jaeger on the local node', () => {
  interface JaegerTrace {
    traceID: string;
    spans: { spanID: string; operationName: string; processID: string; references: { refType: string; spanID: string }[] }[];
    processes: Record<string, { serviceName: string }>;
  }

  it("shows a POST /produce and the consumer's processing of that order as one trace", async () => {
    const { order } = await postJson<{ order: { id: string } }>(`http://localhost:${pf.ports[8000]}/produce`);
    let traceId = '';
    await vi.waitFor(
      async () => {
        const record = (await readTopic<{ order_id: string; trace_id?: string }>('orders.processed')).find((r) => r.order_id === order.id);
        expect(record?.trace_id, `the processed record of order ${order.id}`).toMatch(/^[0-9a-f]{32}$/);
        traceId = record!.trace_id!;
      },
      { timeout: 60_000, interval: 2000 },
    );
    await vi.waitFor(
      async () => {
        const res = await fetch(`${jaeger}/api/traces/${traceId}`);
        expect(res.status).toBe(200);
        const [trace] = ((await res.json()) as { data: JaegerTrace[] }).data;
        const spans = trace!.spans.map((s) => ({ ...s, service: trace!.processes[s.processID]!.serviceName }));
        const send = spans.find((s) => s.service === 'producer' && s.operationName === 'orders send');
        const processSpan = spans.find((s) => s.service === 'consumer' && s.operationName === 'orders process');
        expect(send, `spans: ${spans.map((s) => `${s.service}/${s.operationName}`).join(', ')}`).toBeDefined();
        expect(processSpan?.references).toContainEqual({ refType: 'CHILD_OF', spanID: send!.spanID, traceID: traceId });
      },
      { timeout: 60_000, interval: 2000 },
    );
  });
});

describe('the k6 scripts against the producer in the cluster', () => {
  // k6 cannot be installed here and grafana/k6 cannot be pulled (see test/observability/
  // k6.unit.test.ts): the scripts run under stubs, and the requests they make are sent for real.
  it.each(['steady-producer.js', 'burst-producer.js'])('%s: every request it sends gets 201', async (script) => {
    const target = `http://localhost:${pf.ports[8000]}`;
    const { requests } = await (await loadK6Script(join(REPO, 'k8s/k6', script), { TARGET: target })).run(5);
    expect(requests).toHaveLength(5);
    expect(requests.every((r) => r.url.startsWith(`${target}/produce`))).toBe(true);
    expect(await replay(requests, target)).toEqual([201, 201, 201, 201, 201]);
  });
});
