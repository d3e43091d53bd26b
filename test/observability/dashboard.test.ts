import { beforeAll, describe, expect, it } from 'vitest';
import { dashboardFromConfigMap, dashboardQueries, type Dashboard, type DashboardPanel } from '../support/dashboard.js';
import { helmBinary, render, type K8sObject } from '../support/helm.js';

/*
 * The Grafana dashboard "Kafka Backpressure Lab" as the chart renders it
 * (templates/grafana-dashboard.yaml from dashboards/kafka-backpressure-lab.json): its ConfigMap,
 * its structure, its layout and its threshold lines, for the default values and for thresholds
 * set at install. Whether each query is valid PromQL over series that exist is for Prometheus
 * itself to say, in the cluster test; here only their shape is checked.
 */

const NS = 'backpressure-lab';
const CONFIGMAP = 'grafana-dashboard-backpressure-lab';
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const THRESHOLD_SETS = ['lagMonitor.lagWarning=123', 'lagMonitor.lagCritical=456', 'lagMonitor.rateWarning=7'];

/** The panels the lab's story needs, by title, with the metrics each must query. */
const REQUIRED_PANELS: { title: string; metrics: string[] }[] = [
  { title: 'Total lag', metrics: ['kafka_consumer_group_lag_total'] },
  { title: 'Lag status', metrics: ['kafka_lag_status'] },
  { title: 'Lag in seconds', metrics: ['kafka_consumer_group_lag_seconds'] },
  { title: 'Lag rate of change', metrics: ['kafka_lag_rate_of_change'] },
  { title: 'Lag per partition', metrics: ['kafka_consumer_group_lag{'] },
  { title: 'Produced vs consumed', metrics: ['kafka_messages_produced_total', 'kafka_messages_consumed_total'] },
  { title: 'Consumption rate per consumer pod', metrics: ['kafka_messages_consumed_total'] },
  { title: 'Processing time p50 / p95 / p99', metrics: ['histogram_quantile(0.5,', 'histogram_quantile(0.95,', 'histogram_quantile(0.99,'] },
  { title: 'Desired vs current replicas', metrics: ['lag_autoscaler_desired_replicas', 'lag_autoscaler_current_replicas'] },
  { title: 'Paused consumers', metrics: ['kafka_consumer_paused'] },
  { title: 'Rebalances', metrics: ['kafka_consumer_rebalances_total'] },
  { title: 'Evaluation (Burrow)', metrics: ['kafka_consumer_group_evaluation'] },
  { title: 'Automatic pauses and resumes', metrics: ['kafka_consumer_auto_pauses_total', 'kafka_consumer_auto_resumes_total'] },
  { title: 'Producer throttle', metrics: ['kafka_producer_throttle_limit', 'kafka_producer_throttle_mode'] },
  { title: 'Dead letters and retries', metrics: ['kafka_consumer_retries_total', 'kafka_consumer_dead_letters_total'] },
  { title: 'Rebalance stop time', metrics: ['kafka_consumer_group_rebalance_stop_seconds_bucket'] },
];

const findConfigMap = (objects: K8sObject[]) => objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === CONFIGMAP);

function panel(dashboard: Dashboard, title: string): DashboardPanel {
  const found = dashboard.panels.find((p) => p.title === title);
  if (!found) throw new Error(`no panel "${title}" in ${dashboard.panels.map((p) => `"${p.title}"`).join(', ')}`);
  return found;
}

/** The threshold steps above the base, as numbers, and how the panel draws them. */
function thresholdLines(dashboard: Dashboard, title: string) {
  const defaults = panel(dashboard, title).fieldConfig?.defaults;
  return {
    values: (defaults.thresholds.steps as { value: number | null }[]).slice(1).map((s) => s.value),
    style: defaults.custom.thresholdsStyle.mode,
  };
}

const overlap = (a: DashboardPanel['gridPos'], b: DashboardPanel['gridPos']) =>
  a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** The first unbalanced (, [ or { in a query, outside string literals; null when balanced. */
function unbalanced(expr: string): string | null {
  const closing: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const open: string[] = [];
  let quote: string | null = null;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if ('([{'.includes(c)) open.push(c);
    else if (c in closing && open.pop() !== closing[c]) return `unexpected ${c} at ${i}`;
  }
  if (quote) return `unterminated string ${quote}`;
  return open.length ? `unclosed ${open.join('')}` : null;
}

describe('the Grafana dashboard "Kafka Backpressure Lab"', () => {
  let objects: K8sObject[];
  let dashboard: Dashboard;
  let withThresholds: Dashboard;

  beforeAll(async () => {
    await helmBinary();
    objects = await render(NS);
    dashboard = dashboardFromConfigMap(findConfigMap(objects)!);
    withThresholds = dashboardFromConfigMap(findConfigMap(await render(NS, [], THRESHOLD_SETS))!);
  }, 900_000);

  it("is a ConfigMap labelled for kube-prometheus-stack's Grafana sidecar", () => {
    const cm = findConfigMap(objects);
    expect(cm, `ConfigMap ${CONFIGMAP}`).toBeDefined();
    expect(cm!.metadata.labels).toMatchObject({ grafana_dashboard: '1', 'app.kubernetes.io/component': 'monitoring' });
    expect(Object.keys(cm!.data)).toEqual(['kafka-backpressure-lab.json']);
  });

  it('is a dashboard with a fixed uid and title, a recent schema, a 5 s refresh over the last 15 minutes', () => {
    expect(dashboard.uid).toBe('kafka-backpressure-lab');
    expect(dashboard.title).toBe('Kafka Backpressure Lab');
    expect(typeof dashboard.schemaVersion).toBe('number');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.refresh).toBe('5s');
    expect(dashboard.time).toEqual({ from: 'now-15m', to: 'now' });
    expect(dashboard.timepicker).toBeDefined();
    expect(dashboard.tags).not.toHaveLength(0);
  });

  it('gives every panel its own id', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(ids.every((id) => Number.isInteger(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('sends every panel, query and annotation to the Prometheus chosen in the datasource variable', () => {
    const variable = dashboard.templating!.list.find((v) => v.name === 'datasource');
    expect(variable).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const p of dashboard.panels) {
      expect(p.datasource, `panel "${p.title}"`).toEqual(DATASOURCE);
      expect(p.targets, `panel "${p.title}"`).not.toHaveLength(0);
      for (const t of p.targets!) expect(t.datasource, `panel "${p.title}" ${t.refId}`).toEqual(DATASOURCE);
    }
    for (const a of dashboard.annotations!.list) expect(a.datasource, `annotation "${a.name}"`).toEqual(DATASOURCE);
  });

  it('lays the panels out on the 24-column grid without overlap', () => {
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, `panel "${p.title}"`).toBeLessThanOrEqual(24);
      expect(p.gridPos.w > 0 && p.gridPos.h > 0, `panel "${p.title}" has a size`).toBe(true);
    }
    const overlapping = dashboard.panels.flatMap((a, i) =>
      dashboard.panels.slice(i + 1).filter((b) => overlap(a.gridPos, b.gridPos)).map((b) => `"${a.title}" and "${b.title}"`),
    );
    expect(overlapping).toEqual([]);
  });

  it.each(REQUIRED_PANELS)('shows "$title" from $metrics', ({ title, metrics }) => {
    const exprs = panel(dashboard, title).targets!.map((t) => t.expr);
    for (const metric of metrics) expect(exprs.some((e) => e.includes(metric)), `${metric} in ${exprs.join(' | ')}`).toBe(true);
  });

  it('writes every query as plain PromQL with fixed windows, which Prometheus can evaluate as it is', () => {
    for (const p of dashboard.panels) {
      for (const t of p.targets!) {
        const where = `panel "${p.title}" ${t.refId}`;
        expect(t.refId, where).toMatch(/^[A-Z]$/);
        expect(typeof t.legendFormat, where).toBe('string');
        expect(t.expr.trim(), where).not.toBe('');
      }
    }
    for (const q of dashboardQueries(dashboard)) {
      expect(q.expr, `"${q.title}" ${q.refId}`).not.toContain('$__');
      // After the namespace, no Grafana variable is left for Prometheus to choke on.
      expect(q.expr, `"${q.title}" ${q.refId}`).not.toContain('$');
      for (const window of q.expr.match(/\[[^\]]*\]/g) ?? []) expect(window, `"${q.title}" ${q.refId}`).toMatch(/^\[\d+[smh]\]$/);
    }
  });

  it('balances the parentheses, brackets and braces of every query', () => {
    const broken = dashboardQueries(dashboard)
      .map((q) => ({ where: `"${q.title}" ${q.refId}`, problem: unbalanced(q.expr), expr: q.expr }))
      .filter((q) => q.problem !== null);
    expect(broken).toEqual([]);
  });

  it("draws the warning and critical lines at the lag monitor's thresholds", () => {
    expect(thresholdLines(dashboard, 'Total lag')).toEqual({ values: [100, 500], style: 'line' });
    expect(thresholdLines(dashboard, 'Lag rate of change')).toEqual({ values: [10], style: 'line' });
  });

  it('moves the threshold lines with lagMonitor.lagWarning, lagCritical and rateWarning set at install', () => {
    expect(thresholdLines(withThresholds, 'Total lag')).toEqual({ values: [123, 456], style: 'line' });
    expect(thresholdLines(withThresholds, 'Lag rate of change')).toEqual({ values: [7], style: 'line' });
  });

  it('names the lag status levels ok, warning and critical in colour', () => {
    const mappings = panel(dashboard, 'Lag status').fieldConfig!.defaults.mappings as { type: string; options: Record<string, { text: string; color: string }> }[];
    const byValue = mappings.find((m) => m.type === 'value')!.options;
    expect(Object.fromEntries(Object.entries(byValue).map(([value, m]) => [value, m.text.toLowerCase()]))).toEqual({ 0: 'ok', 1: 'warning', 2: 'critical' });
    expect(new Set(Object.values(byValue).map((m) => m.color)).size).toBe(3);
  });

  it("marks the operator's scale events as annotations that say the direction", () => {
    const annotation = dashboard.annotations!.list.find((a) => a.expr?.includes('lag_autoscaler_scale_events_total')) as Record<string, string> | undefined;
    expect(annotation).toBeDefined();
    expect(`${annotation!.titleFormat} ${annotation!.textFormat}`).toContain('{{direction}}');
    expect(dashboardQueries(dashboard).filter((q) => q.panelId === null).map((q) => q.title)).toContain(annotation!.name);
  });

  it("filters every query by the namespace variable, whose values are the lag monitor's namespaces", () => {
    const variable = dashboard.templating!.list.find((v) => v.name === 'namespace');
    expect(variable).toMatchObject({ type: 'query' });
    expect(JSON.stringify(variable!.query)).toContain('label_values(kafka_consumer_group_lag_total, namespace)');
    const queries = dashboardQueries(dashboard, { namespace: 'lab-a' });
    for (const q of queries) expect(q.expr, `"${q.title}" ${q.refId}`).toContain('namespace=~"lab-a"');
    expect(dashboardQueries(dashboard).every((q) => q.expr.includes('namespace=~".+"'))).toBe(true);
  });

  it('renders no dashboard ConfigMap when monitoring.dashboard.enabled is false', async () => {
    expect(findConfigMap(await render(NS, [], ['monitoring.dashboard.enabled=false']))).toBeUndefined();
  });
});
