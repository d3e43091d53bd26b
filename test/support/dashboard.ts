import type { K8sObject } from './helm.js';

/** The data key of the chart's dashboard ConfigMap (templates/grafana-dashboard.yaml). */
export const DASHBOARD_KEY = 'kafka-backpressure-lab.json';

export interface DashboardTarget {
  refId: string;
  expr: string;
  legendFormat?: string;
  datasource?: { type: string; uid: string };
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: DashboardTarget[];
  fieldConfig?: { defaults?: any };
}

export interface DashboardAnnotation {
  name: string;
  expr?: string;
  datasource?: { type: string; uid: string };
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: DashboardPanel[];
  annotations?: { list: DashboardAnnotation[] };
  templating?: { list: { name: string; type: string; query: unknown }[] };
  [field: string]: unknown;
}

export interface DashboardQuery {
  /** null for an annotation query. */
  panelId: number | null;
  /** The panel's title, or the annotation's name. */
  title: string;
  refId: string;
  expr: string;
}

export function dashboardFromConfigMap(cm: K8sObject): Dashboard {
  const json = cm.data?.[DASHBOARD_KEY];
  if (typeof json !== 'string') throw new Error(`ConfigMap ${cm.metadata.name} has no data key ${DASHBOARD_KEY}`);
  return JSON.parse(json) as Dashboard;
}

/**
 * Every PromQL query the dashboard sends, panel targets and annotation queries alike, as Grafana
 * would send them: $namespace / ${namespace} replaced by the chosen namespace (`.+`, every one,
 * by default; the dashboard matches it with =~). ${datasource} picks the data source, never
 * appears in a query, and stays as it is.
 */
export function dashboardQueries(dashboard: Dashboard, vars: { namespace?: string } = {}): DashboardQuery[] {
  const namespace = vars.namespace ?? '.+';
  // A function, so that `$` in the namespace value is not read as a replacement pattern.
  const substitute = (expr: string) => expr.replace(/\$\{namespace\}|\$namespace\b/g, () => namespace);
  const panelQueries = dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({ panelId: panel.id, title: panel.title, refId: t.refId, expr: substitute(t.expr) })),
  );
  const annotationQueries = (dashboard.annotations?.list ?? [])
    .filter((a): a is DashboardAnnotation & { expr: string } => typeof a.expr === 'string')
    .map((a) => ({ panelId: null, title: a.name, refId: 'annotation', expr: substitute(a.expr) }));
  return [...panelQueries, ...annotationQueries];
}
