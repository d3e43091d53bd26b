import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { render, type K8sObject } from '../support/helm.js';
import { promtool } from '../support/promtool.js';
import { ALERTS, type AlertName } from '../support/alerts.js';

/*
 * The chart's PrometheusRule (templates/prometheusrule.yaml), rendered by helm for the default
 * values and for a tuned set, checked by promtool (Prometheus 3.16, the one make cluster-build
 * builds) and unit-tested with `promtool test rules`: for every alert, series as Prometheus holds
 * them after scraping the components through their ServiceMonitors (job, namespace, pod, service,
 * instance of the target), and at given times the alerts that fire, with their labels and their
 * annotations' text, numbers included. Alerts that are only pending do not fire. No cluster.
 */

/** The values the rules take their thresholds and durations from. */
interface Thresholds {
  lagCritical: number;
  rateWarning: number;
  lagCriticalFor: string;
  lagGrowingFor: string;
  stalledFor: string;
  pausedTooLongFor: string;
  atPartitionCapFor: string;
  lagMonitorDownFor: string;
  staleSeconds: number;
  reconcileErrorsWindow: string;
}
interface ValueSet {
  name: 'default' | 'tuned';
  namespace: string;
  /** A values file over values.yaml (helm --set would make 2.5 a string). */
  values: { lagMonitor?: object; monitoring?: object };
  t: Thresholds;
}

/** values.yaml's, rendered into the lab's usual namespace. */
const DEFAULT: ValueSet = {
  name: 'default',
  namespace: 'backpressure-lab',
  values: {},
  t: {
    lagCritical: 500,
    rateWarning: 10,
    lagCriticalFor: '30s',
    lagGrowingFor: '1m',
    stalledFor: '1m',
    pausedTooLongFor: '5m',
    atPartitionCapFor: '1m',
    lagMonitorDownFor: '1m',
    staleSeconds: 60,
    reconcileErrorsWindow: '5m',
  },
};
/** Thresholds as chart values: lagMonitor's two, the durations under monitoring.alerts. */
const chartValues = ({ lagCritical, rateWarning, ...alerts }: Thresholds) => ({ lagMonitor: { lagCritical, rateWarning }, monitoring: { alerts } });
const TUNED_T: Thresholds = {
  lagCritical: 900,
  rateWarning: 2.5,
  lagCriticalFor: '2m',
  lagGrowingFor: '3m',
  stalledFor: '2m',
  pausedTooLongFor: '10m',
  atPartitionCapFor: '2m',
  lagMonitorDownFor: '3m',
  staleSeconds: 300,
  reconcileErrorsWindow: '15m',
};
/** Every threshold and duration away from its default, in another namespace. */
const TUNED: ValueSet = {
  name: 'tuned',
  namespace: 'lab-tuned',
  values: chartValues(TUNED_T),
  t: TUNED_T,
};

// --- Series, as Prometheus stores them after a scrape through each Service's ServiceMonitor.

type Labels = Record<string, string>;
interface Series {
  series: string;
  values: string;
}
const GROUP = 'order-processors';
const TOPIC = 'orders';
/** A scraped target's labels, as the ServiceMonitor's Service and pod give them. */
type Target = { job: string; service: string; pod: string; instance: string };
const LAG_MONITOR: Target = { job: 'lag-monitor', service: 'lag-monitor', pod: 'lag-monitor-6d5f7c9b8-x2k4q', instance: '10.244.0.21:8010' };
const CONSUMER_A: Target = { job: 'consumer', service: 'consumer', pod: 'consumer-7f9c6d5b4-abcde', instance: '10.244.0.31:8001' };
const CONSUMER_B: Target = { job: 'consumer', service: 'consumer', pod: 'consumer-7f9c6d5b4-fghij', instance: '10.244.0.32:8001' };
const OPERATOR: Target = { job: 'lag-autoscaler', service: 'lag-autoscaler', pod: 'lag-autoscaler-5b7d8c9f6-q8w7e', instance: '10.244.0.41:8020' };

const series = (metric: string, target: Target, labels: Labels, values: string, namespace: string): Series => {
  const all = { ...labels, ...target, namespace };
  return { series: `${metric}{${Object.entries(all).map(([k, v]) => `${k}="${v}"`).join(', ')}}`, values };
};
const group = { group: GROUP, topic: TOPIC };
/** The consumer's own label: its CONSUMER_ID, the pod name. */
const consumerOf = (pod: Target) => ({ consumer: pod.pod });
/** The operator's namespace label, renamed by Prometheus since the target has one too. */
const autoscaler = (namespace: string) => ({ exported_namespace: namespace, name: 'consumer' });

const lag = (values: string, ns = DEFAULT.namespace) => series('kafka_consumer_group_lag_total', LAG_MONITOR, group, values, ns);
const rateOfChange = (values: string, ns = DEFAULT.namespace) => series('kafka_lag_rate_of_change', LAG_MONITOR, group, values, ns);
const consumptionRate = (values: string, ns = DEFAULT.namespace) => series('kafka_consumption_rate', LAG_MONITOR, group, values, ns);
const partitions = (values: string, ns = DEFAULT.namespace) => series('kafka_topic_partitions', LAG_MONITOR, group, values, ns);
const lastSuccess = (values: string, ns = DEFAULT.namespace) =>
  series('kafka_lag_monitor_last_success_timestamp_seconds', LAG_MONITOR, group, values, ns);
const lagMonitorUp = (values: string, ns = DEFAULT.namespace) => series('up', LAG_MONITOR, {}, values, ns);
const consumed = (pod: Target, values: string, ns = DEFAULT.namespace) =>
  series('kafka_messages_consumed_total', pod, { ...consumerOf(pod), topic: TOPIC }, values, ns);
const paused = (pod: Target, values: string, ns = DEFAULT.namespace) => series('kafka_consumer_paused', pod, consumerOf(pod), values, ns);
const desired = (values: string, ns = DEFAULT.namespace) => series('lag_autoscaler_desired_replicas', OPERATOR, autoscaler(ns), values, ns);
const reconcileErrors = (stage: string, values: string, ns = DEFAULT.namespace) =>
  series('lag_autoscaler_reconcile_errors_total', OPERATOR, { ...autoscaler(ns), stage }, values, ns);

/** Lag waiting with both consumers alive, unpaused and consuming nothing. */
const stalled = (ns = DEFAULT.namespace): Series[] => [
  lag('300x40', ns),
  consumptionRate('0x40', ns),
  consumed(CONSUMER_A, '120x40', ns),
  consumed(CONSUMER_B, '80x40', ns),
  paused(CONSUMER_A, '0x40', ns),
  paused(CONSUMER_B, '0x40', ns),
];
/** Desired replicas at the topic's 6 partitions; lag growing at the given rate. */
const atCap = (desiredValues: string, rate: string, ns = DEFAULT.namespace): Series[] => [
  desired(desiredValues, ns),
  partitions('6x40', ns),
  rateOfChange(rate, ns),
];

// --- The alerts expected to fire: their labels and their annotations, word for word.

interface Fired {
  labels: Labels;
  summary: string;
  description: string;
}
const fired = {
  lagCritical: (value: string, v = DEFAULT): Fired => ({
    labels: { severity: 'critical', namespace: v.namespace, ...group },
    summary: `Consumer group ${GROUP} is ${value} messages behind on ${TOPIC}`,
    description:
      `Total lag of group ${GROUP} on topic ${TOPIC} is ${value} messages, above the critical threshold of ${v.t.lagCritical} ` +
      `(lagMonitor.lagCritical) for ${v.t.lagCriticalFor}. The consumers cannot keep up: see the lag monitor's /recommendations ` +
      `and the LagAutoscaler's /status.`,
  }),
  lagGrowing: (value: string, v = DEFAULT): Fired => ({
    labels: { severity: 'warning', namespace: v.namespace, ...group },
    summary: `Lag of consumer group ${GROUP} on ${TOPIC} grows by ${value} msg/s`,
    description:
      `Lag of group ${GROUP} on topic ${TOPIC} grows by ${value} messages per second, faster than ${v.t.rateWarning} msg/s ` +
      `(lagMonitor.rateWarning) for ${v.t.lagGrowingFor}: production outpaces consumption.`,
  }),
  stalled: (value: string, v = DEFAULT): Fired => ({
    labels: { severity: 'critical', namespace: v.namespace, ...group },
    summary: `Consumer group ${GROUP} consumes nothing while ${value} messages wait on ${TOPIC}`,
    description:
      `Group ${GROUP} has ${value} messages of lag on topic ${TOPIC} and has consumed nothing for ${v.t.stalledFor}, ` +
      `with no consumer paused: the consumers are down, stuck or failing to commit. Check the consumer pods and their logs.`,
  }),
  pausedTooLong: (pod: Target, v = DEFAULT): Fired => ({
    labels: { severity: 'warning', namespace: v.namespace, pod: pod.pod, consumer: pod.pod },
    summary: `Consumer pod ${pod.pod} is paused`,
    description:
      `Consumer ${pod.pod} has been paused for more than ${v.t.pausedTooLongFor}: it keeps its partitions, ` +
      `so their lag only grows. POST /resume to it.`,
  }),
  atPartitionCap: (replicas: string, v = DEFAULT): Fired => ({
    labels: { severity: 'warning', namespace: v.namespace, name: 'consumer' },
    summary: `LagAutoscaler consumer is at the partition cap of ${replicas} replicas while lag grows`,
    description:
      `LagAutoscaler consumer asks for ${replicas} replicas, as many as the topic has partitions, and lag has kept growing ` +
      `for ${v.t.atPartitionCapFor}: more consumers would sit idle. Add partitions or make each consumer faster.`,
  }),
  lagMonitorDown: (reason: 'down' | 'absent', v = DEFAULT): Fired => ({
    labels: { severity: 'critical', namespace: v.namespace, reason },
    summary: `Lag monitor in ${v.namespace} is down`,
    description:
      (reason === 'down' ? 'Prometheus has failed to scrape the lag monitor' : 'Prometheus has had no lag-monitor target') +
      ` for ${v.t.lagMonitorDownFor}. Lag, its alerts and the LagAutoscaler's decisions are blind meanwhile.`,
  }),
  lagMonitorStale: (age: string, v = DEFAULT): Fired => ({
    labels: { severity: 'critical', namespace: v.namespace, reason: 'stale' },
    summary: `Lag monitor in ${v.namespace} is stale`,
    description:
      `The lag monitor has not polled Kafka successfully for ${age}, past the ${v.t.staleSeconds}s (monitoring.alerts.staleSeconds) ` +
      `at which its data counts as stale. Lag, its alerts and the LagAutoscaler's decisions are blind meanwhile.`,
  }),
  reconcileErrors: (stage: string, count: string, v = DEFAULT): Fired => ({
    labels: { severity: 'warning', namespace: v.namespace, name: 'consumer', stage },
    summary: `LagAutoscaler consumer fails to reconcile at stage ${stage}`,
    description:
      `LagAutoscaler consumer failed ${count} reconcile steps at stage ${stage} in the last ${v.t.reconcileErrorsWindow}. ` +
      `See the operator's logs and GET /status on lag-autoscaler.`,
  }),
};

// --- The cases: one promtool test group each. Samples are 15 s apart ('600x8': 9 samples of
// 600 from 0s to 2m), rules are evaluated every 15 s, and `at` lists, per evaluation time, every
// alert of that name that fires then ([]: none, pending ones included).

interface Case {
  name: string;
  alert: AlertName;
  values?: ValueSet;
  interval?: string;
  input: Series[];
  at: Record<string, Fired[]>;
}

const BEHAVIOUR: Case[] = [
  // KafkaConsumerLagCritical
  {
    name: 'lag above lagCritical fires critical after lagCriticalFor and resolves once it falls back',
    alert: 'KafkaConsumerLagCritical',
    input: [lag('600x8 100x8')],
    at: { '15s': [], '45s': [fired.lagCritical('600')], '2m': [fired.lagCritical('600')], '3m': [] },
  },
  {
    name: 'lag of exactly lagCritical does not fire',
    alert: 'KafkaConsumerLagCritical',
    input: [lag('500x20')],
    at: { '5m': [] },
  },
  {
    name: 'two lag-monitor pods during a rollout give one alert for the group',
    alert: 'KafkaConsumerLagCritical',
    input: [lag('1500x8'), series('kafka_consumer_group_lag_total', { ...LAG_MONITOR, pod: 'lag-monitor-6d5f7c9b8-new01' }, group, '1400x8', DEFAULT.namespace)],
    at: { '1m': [fired.lagCritical('1.5k')] },
  },
  {
    name: 'tuned: lag 600 stays quiet under lagCritical 900, lag 1000 fires only after lagCriticalFor 2m',
    alert: 'KafkaConsumerLagCritical',
    values: TUNED,
    input: [lag('600x20 1000x20', TUNED.namespace)],
    at: { '4m': [], '6m45s': [], '7m15s': [fired.lagCritical('1k', TUNED)] },
  },

  // KafkaConsumerLagGrowing
  {
    name: 'lag growing faster than rateWarning fires a warning after lagGrowingFor and resolves when it slows',
    alert: 'KafkaConsumerLagGrowing',
    input: [rateOfChange('12.5x8 3x8')],
    at: { '45s': [], '1m15s': [fired.lagGrowing('12.5')], '3m': [] },
  },
  {
    name: 'lag growing at exactly rateWarning, or shrinking fast, does not fire',
    alert: 'KafkaConsumerLagGrowing',
    input: [rateOfChange('10x8 -40x8')],
    at: { '2m': [], '4m': [] },
  },
  {
    name: 'tuned: lag growing 5 msg/s fires over rateWarning 2.5, only after lagGrowingFor 3m',
    alert: 'KafkaConsumerLagGrowing',
    values: TUNED,
    input: [rateOfChange('5x20', TUNED.namespace)],
    at: { '2m45s': [], '3m15s': [fired.lagGrowing('5', TUNED)] },
  },
  {
    name: 'lag growing 5 msg/s stays under the default rateWarning',
    alert: 'KafkaConsumerLagGrowing',
    input: [rateOfChange('5x20')],
    at: { '4m': [] },
  },

  // KafkaConsumersStalled
  {
    name: 'lag waiting with nothing consumed and nobody paused fires critical after stalledFor',
    alert: 'KafkaConsumersStalled',
    input: stalled(),
    at: { '45s': [], '1m15s': [fired.stalled('300')] },
  },
  {
    name: 'lag waiting with every consumer gone fires as stalled',
    alert: 'KafkaConsumersStalled',
    input: [lag('300x20'), consumptionRate('0x20')],
    at: { '1m15s': [fired.stalled('300')] },
  },
  {
    name: 'consumers consuming again resolve the stall',
    alert: 'KafkaConsumersStalled',
    input: [
      lag('300x8 250 200 150 100 50 0x4'),
      consumptionRate('0x8 3.3x8'),
      consumed(CONSUMER_A, '120x8 170+50x8'),
      paused(CONSUMER_A, '0x16'),
    ],
    at: { '2m': [fired.stalled('300')], '2m45s': [], '4m': [] },
  },
  {
    name: 'a slow consumer whose commits miss the rate window is not stalled',
    alert: 'KafkaConsumersStalled',
    input: [lag('300x20'), consumptionRate('0x20'), consumed(CONSUMER_A, '0+1x20'), paused(CONSUMER_A, '0x20')],
    at: { '3m': [] },
  },
  {
    name: 'a paused consumer keeps the stall alert quiet (KafkaConsumerPausedTooLong covers it)',
    alert: 'KafkaConsumersStalled',
    input: [
      lag('300x40'),
      consumptionRate('0x40'),
      consumed(CONSUMER_A, '120x40'),
      consumed(CONSUMER_B, '80x40'),
      paused(CONSUMER_A, '1x40'),
      paused(CONSUMER_B, '0x40'),
    ],
    at: { '3m': [] },
  },
  {
    name: 'no lag with nothing consumed is idle, not stalled',
    alert: 'KafkaConsumersStalled',
    input: [lag('0x20'), consumptionRate('0x20'), consumed(CONSUMER_A, '500x20'), paused(CONSUMER_A, '0x20')],
    at: { '3m': [] },
  },
  {
    name: 'tuned: a stall fires only after stalledFor 2m',
    alert: 'KafkaConsumersStalled',
    values: TUNED,
    input: stalled(TUNED.namespace),
    at: { '1m45s': [], '2m15s': [fired.stalled('300', TUNED)] },
  },

  // KafkaConsumerPausedTooLong
  {
    name: 'a consumer paused longer than pausedTooLongFor fires a warning for its pod alone, and resolves on resume',
    alert: 'KafkaConsumerPausedTooLong',
    input: [paused(CONSUMER_A, '1x24 0x16'), paused(CONSUMER_B, '0x40')],
    at: { '4m45s': [], '5m15s': [fired.pausedTooLong(CONSUMER_A)], '7m': [] },
  },
  {
    name: 'a consumer paused for less than pausedTooLongFor does not fire',
    alert: 'KafkaConsumerPausedTooLong',
    input: [paused(CONSUMER_A, '1x16 0x24')],
    at: { '5m15s': [], '8m': [] },
  },
  {
    name: 'two consumers paused too long fire one alert each',
    alert: 'KafkaConsumerPausedTooLong',
    input: [paused(CONSUMER_A, '1x24'), paused(CONSUMER_B, '1x24')],
    at: { '5m15s': [fired.pausedTooLong(CONSUMER_A), fired.pausedTooLong(CONSUMER_B)] },
  },
  {
    name: 'tuned: a consumer paused 6 minutes fires only after pausedTooLongFor 10m',
    alert: 'KafkaConsumerPausedTooLong',
    values: TUNED,
    input: [paused(CONSUMER_A, '1x44', TUNED.namespace)],
    at: { '6m': [], '9m45s': [], '10m15s': [fired.pausedTooLong(CONSUMER_A, TUNED)] },
  },

  // LagAutoscalerAtPartitionCap
  {
    name: 'desired replicas at the partition count while lag grows fires a warning after atPartitionCapFor',
    alert: 'LagAutoscalerAtPartitionCap',
    input: atCap('6x20', '3x20'),
    at: { '45s': [], '1m15s': [fired.atPartitionCap('6')] },
  },
  {
    name: 'lag draining at the partition cap resolves the alert',
    alert: 'LagAutoscalerAtPartitionCap',
    input: atCap('6x20', '3x8 -2x12'),
    at: { '1m15s': [fired.atPartitionCap('6')], '2m30s': [] },
  },
  {
    name: 'desired replicas under the partition count while lag grows does not fire',
    alert: 'LagAutoscalerAtPartitionCap',
    input: atCap('5x20', '3x20'),
    at: { '3m': [] },
  },
  {
    name: 'desired replicas at the partition count with steady lag does not fire',
    alert: 'LagAutoscalerAtPartitionCap',
    input: atCap('6x20', '0x20'),
    at: { '3m': [] },
  },
  {
    name: 'tuned: the partition cap fires only after atPartitionCapFor 2m',
    alert: 'LagAutoscalerAtPartitionCap',
    values: TUNED,
    input: atCap('6x20', '3x20', TUNED.namespace),
    at: { '1m45s': [], '2m15s': [fired.atPartitionCap('6', TUNED)] },
  },

  // LagMonitorDown
  {
    name: 'the lag monitor target down fires critical after lagMonitorDownFor and resolves when it is back',
    alert: 'LagMonitorDown',
    input: [lagMonitorUp('0x8 1x12'), lastSuccess('_x9 135+15x11')],
    at: { '45s': [], '1m15s': [fired.lagMonitorDown('down')], '2m30s': [] },
  },
  {
    name: 'no lag-monitor target in the namespace fires, whatever other namespaces have',
    alert: 'LagMonitorDown',
    input: [lagMonitorUp('1x20', 'elsewhere'), series('up', CONSUMER_A, {}, '1x20', DEFAULT.namespace)],
    at: { '45s': [], '1m15s': [fired.lagMonitorDown('absent')] },
  },
  {
    name: 'a lag monitor that has not polled Kafka for staleSeconds fires as stale after lagMonitorDownFor',
    alert: 'LagMonitorDown',
    // The last success stays at 0 s: stale from 75 s (age over 60), firing a minute later.
    input: [lagMonitorUp('1x20'), lastSuccess('0x20')],
    at: { '1m': [], '2m': [], '2m15s': [fired.lagMonitorStale('2m 15s')] },
  },
  {
    name: 'a lag monitor up and polling does not fire',
    alert: 'LagMonitorDown',
    input: [lagMonitorUp('1x20'), lastSuccess('0+15x20')],
    at: { '4m': [] },
  },
  {
    name: 'tuned: a poll 2 minutes old is fresh under staleSeconds 300, stale fires only after lagMonitorDownFor 3m',
    alert: 'LagMonitorDown',
    values: TUNED,
    // Stale from 315 s (age over 300), firing 3 minutes later at 495 s.
    input: [lagMonitorUp('1x40', TUNED.namespace), lastSuccess('0x40', TUNED.namespace)],
    at: { '2m15s': [], '8m': [], '8m15s': [fired.lagMonitorStale('8m 15s', TUNED)] },
  },

  // LagAutoscalerReconcileErrors (counters start at 0 with the operator's loop)
  {
    name: 'failed reconcile steps fire a warning with their count and stage, and resolve after reconcileErrorsWindow',
    alert: 'LagAutoscalerReconcileErrors',
    interval: '1m',
    input: [reconcileErrors('metrics', '0 0 2x10'), reconcileErrors('set_scale', '0x12')],
    at: { '1m': [], '2m': [fired.reconcileErrors('metrics', '2')], '5m': [fired.reconcileErrors('metrics', '2')], '6m': [] },
  },
  {
    name: 'counters at zero do not fire',
    alert: 'LagAutoscalerReconcileErrors',
    interval: '1m',
    input: [reconcileErrors('metrics', '0x12'), reconcileErrors('get_scale', '0x12')],
    at: { '10m': [] },
  },
  {
    name: 'tuned: failed reconciles stay firing for reconcileErrorsWindow 15m',
    alert: 'LagAutoscalerReconcileErrors',
    values: TUNED,
    interval: '1m',
    input: [reconcileErrors('metrics', '0 0 2x20', TUNED.namespace)],
    at: { '10m': [fired.reconcileErrors('metrics', '2', TUNED)], '18m': [] },
  },
];

/** Each alert's first firing case with every series moved to another namespace: nothing fires. */
const inNamespace = (input: Series[], namespace: string): Series[] =>
  input.map((s) => ({ ...s, series: s.series.replaceAll(`namespace="${DEFAULT.namespace}"`, `namespace="${namespace}"`) }));
const OTHER_NAMESPACE: Case[] = ALERTS.map((alert) => {
  const source = BEHAVIOUR.find((c) => c.alert === alert && !c.values && Object.values(c.at).some((f) => f.length > 0))!;
  return {
    name: 'the same series in another namespace fire nothing',
    alert,
    interval: source.interval,
    // The lag monitor of this namespace up and polling, so that only the other one is down.
    input: [...inNamespace(source.input, 'elsewhere'), lagMonitorUp('1x40'), lastSuccess('0+15x40')],
    at: Object.fromEntries(Object.keys(source.at).map((time) => [time, []])),
  };
});

const CASES = [...BEHAVIOUR, ...OTHER_NAMESPACE];

// --- The tests.

const ruleOf = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'PrometheusRule');
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Labels;
  annotations?: Labels;
}

/** A promtool test file for one case, next to the rules file it reads. */
function promtoolTest(c: Case, rulesFile: string): string {
  return stringify({
    rule_files: [rulesFile],
    evaluation_interval: '15s',
    tests: [
      {
        name: c.name,
        interval: c.interval ?? '15s',
        input_series: c.input,
        alert_rule_test: Object.entries(c.at).map(([time, alerts]) => ({
          eval_time: time,
          alertname: c.alert,
          exp_alerts: alerts.map((a) => ({ exp_labels: a.labels, exp_annotations: { summary: a.summary, description: a.description } })),
        })),
      },
    ],
  });
}

describe('PrometheusRule backpressure-lab', () => {
  let dir: string;
  const rendered = new Map<ValueSet['name'], K8sObject>();
  const rulesFile = (v: ValueSet) => `rules-${v.name}.yaml`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bplab-rules-'));
    for (const v of [DEFAULT, TUNED]) {
      const valuesFile = join(dir, `values-${v.name}.yaml`);
      writeFileSync(valuesFile, stringify(v.values));
      const rules = ruleOf(await render(v.namespace, [valuesFile]));
      expect(rules, `${v.name}: PrometheusRules rendered`).toHaveLength(1);
      const rule = rules[0]!;
      rendered.set(v.name, rule);
      writeFileSync(join(dir, rulesFile(v)), stringify(rule.spec));
    }
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const alertRules = (v: ValueSet): Rule[] => rendered.get(v.name)!.spec.groups.flatMap((g: { rules: Rule[] }) => g.rules);

  it('renders one PrometheusRule in the release namespace, labelled for the Prometheus of kube-prometheus-stack', () => {
    for (const v of [DEFAULT, TUNED]) {
      const rule = rendered.get(v.name)!;
      expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
      expect(rule.metadata).toMatchObject({
        name: 'backpressure-lab',
        namespace: v.namespace,
        labels: { release: 'kube-prometheus-stack', 'app.kubernetes.io/component': 'monitoring', 'app.kubernetes.io/part-of': 'backpressure-lab' },
      });
      expect(rule.spec.groups.map((g: { name: string }) => g.name)).toEqual(['backpressure-lab']);
      expect(alertRules(v).map((r) => r.alert)).toEqual(ALERTS);
    }
  });

  it('renders no PrometheusRule with monitoring.enabled=false', async () => {
    expect(ruleOf(await render(DEFAULT.namespace, [], ['monitoring.enabled=false']))).toEqual([]);
  });

  it('gives every alert a severity, a summary and a description, and reads the release namespace only', () => {
    for (const v of [DEFAULT, TUNED]) {
      for (const rule of alertRules(v)) {
        expect(rule.labels?.severity, rule.alert).toMatch(/^(critical|warning)$/);
        expect(rule.annotations?.summary, rule.alert).toMatch(/\S/);
        expect(rule.annotations?.description, rule.alert).toMatch(/\S/);
        // Every metric selector (a name followed by {...}) names the namespace.
        const selectors = rule.expr.match(/[a-z_]+\{[^}]*\}/g) ?? [];
        expect(selectors.length, rule.alert).toBeGreaterThan(0);
        for (const selector of selectors) expect(selector, rule.alert).toContain(`namespace="${v.namespace}"`);
      }
    }
  });

  it('passes promtool check rules for the default and the tuned values', async () => {
    for (const v of [DEFAULT, TUNED]) {
      const out = await promtool(['check', 'rules', rulesFile(v)], dir);
      expect(out).toContain(`SUCCESS: ${ALERTS.length} rules found`);
    }
  });

  it('has, for every alert, a case where it fires and one where it does not, at the default and the tuned values', () => {
    for (const alert of ALERTS) {
      for (const v of [DEFAULT, TUNED]) {
        const evals = CASES.filter((c) => c.alert === alert && (c.values ?? DEFAULT) === v).flatMap((c) => Object.values(c.at));
        expect(evals.some((alerts) => alerts.length > 0), `${alert} fires at ${v.name}`).toBe(true);
        if (v === DEFAULT) expect(evals.some((alerts) => alerts.length === 0), `${alert} quiet at ${v.name}`).toBe(true);
      }
    }
  });

  describe('promtool test rules', () => {
    it.each(CASES.map((c) => [`${c.alert}: ${c.name}`, c] as const))('%s', async (_name, c) => {
      const v = c.values ?? DEFAULT;
      const file = `test-${CASES.indexOf(c)}.yaml`;
      writeFileSync(join(dir, file), promtoolTest(c, rulesFile(v)));
      const out = await promtool(['test', 'rules', file], dir);
      expect(out).toContain('SUCCESS');
    });
  });
});
