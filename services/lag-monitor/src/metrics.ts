import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { EVALUATION_LEVEL } from './evaluate.js';
import { STATUS_LEVEL } from './lag.js';
import type { RebalanceEvent } from './rebalance.js';
import type { MonitorSnapshot } from './tracker.js';

/** The seed's metric names, plus what the operator and the dashboard read. */
export function lagMetrics(registry: Registry, group: string, topic: string) {
  const labelNames = ['group', 'topic'] as const;
  const gauge = (name: string, help: string, extra: string[] = []) => new Gauge({ name, help, labelNames: [...labelNames, ...extra], registers: [registry] });
  const m = {
    lagTotal: gauge('kafka_consumer_group_lag_total', 'Messages the group is behind, all partitions'),
    lag: gauge('kafka_consumer_group_lag', 'Messages the group is behind, per partition', ['partition']),
    lagSeconds: gauge('kafka_consumer_group_lag_seconds', 'Age of the oldest unprocessed message, estimated from offset history (max over partitions)'),
    status: gauge('kafka_lag_status', 'Lag status: 0 ok, 1 warning, 2 critical'),
    rateOfChange: gauge('kafka_lag_rate_of_change', 'Lag change in messages per second (positive: growing)'),
    production: gauge('kafka_production_rate', 'Messages per second appended to the topic'),
    consumption: gauge('kafka_consumption_rate', 'Messages per second committed by the group'),
    partitions: gauge('kafka_topic_partitions', 'Partitions of the topic: the most consumers that can be busy'),
    members: gauge('kafka_consumer_group_members', 'Members of the consumer group'),
    evaluation: gauge('kafka_consumer_group_evaluation', 'Burrow-style group evaluation, the worst partition: 0 OK, 0.5 PAUSED, 1 WARN, 2 STALL, 3 STOP'),
    partitionEvaluation: gauge('kafka_consumer_group_partition_evaluation', 'Burrow-style evaluation per partition: 0 OK, 0.5 PAUSED, 1 WARN, 2 STALL, 3 STOP', ['partition']),
    lastSuccess: gauge('kafka_lag_monitor_last_success_timestamp_seconds', 'When the last poll of Kafka succeeded'),
    polls: new Counter({ name: 'kafka_lag_monitor_polls_total', help: 'Polls of Kafka by result', labelNames: [...labelNames, 'result'], registers: [registry] }),
    rebalances: new Counter({ name: 'kafka_consumer_group_rebalances_total', help: 'Changes of the group membership (each one a rebalance)', labelNames, registers: [registry] }),
    rebalanceStop: new Histogram({
      name: 'kafka_consumer_group_rebalance_stop_seconds',
      help: 'How long consumption stopped for a membership change: last commit before it to first after (within a poll interval)',
      labelNames,
      buckets: [0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60],
      registers: [registry],
    }),
  };
  const labels = { group, topic };
  for (const result of ['ok', 'error']) m.polls.inc({ ...labels, result }, 0);
  m.rebalances.inc(labels, 0);
  m.rebalanceStop.zero(labels);
  // Rates need two samples. Until then they read 0, "nothing seen moving yet", so that every
  // listed series exists from start-up and a dashboard shows 0 rather than "No data". Nothing
  // decides on this zero: the operator reads /lag, where the rates stay null until two samples.
  // The other gauges wait for the first poll: a lag of 0 before Kafka has answered would be false.
  for (const gauge of [m.rateOfChange, m.production, m.consumption]) gauge.set(labels, 0);

  return {
    polls: m.polls,
    labels,
    update(s: MonitorSnapshot): void {
      m.lagTotal.set(labels, s.total_lag);
      m.lag.reset();
      for (const p of s.partitions) m.lag.set({ ...labels, partition: String(p.partition) }, p.lag);
      m.lagSeconds.set(labels, s.lag_seconds);
      m.status.set(labels, STATUS_LEVEL[s.status]);
      // A gap longer than the rate window leaves no slope: the last one stands until there is one.
      if (s.rate_of_change !== null) m.rateOfChange.set(labels, s.rate_of_change);
      if (s.production_rate !== null) m.production.set(labels, s.production_rate);
      if (s.consumption_rate !== null) m.consumption.set(labels, s.consumption_rate);
      m.evaluation.set(labels, EVALUATION_LEVEL[s.evaluation.status]);
      m.partitionEvaluation.reset();
      for (const p of s.partitions) m.partitionEvaluation.set({ ...labels, partition: String(p.partition) }, EVALUATION_LEVEL[p.evaluation.status]);
      m.partitions.set(labels, s.partition_count);
      m.members.set(labels, s.members);
      m.lastSuccess.set(labels, Date.parse(s.timestamp) / 1000);
      m.polls.inc({ ...labels, result: 'ok' });
    },
    /** Counts a change when it is seen, and observes its stop when that has ended. */
    rebalances({ opened, closed }: { opened: RebalanceEvent[]; closed: RebalanceEvent[] }): void {
      m.rebalances.inc(labels, opened.length);
      for (const event of closed) if (event.stop_seconds !== null) m.rebalanceStop.observe(labels, event.stop_seconds);
    },
  };
}
export type LagMetrics = ReturnType<typeof lagMetrics>;
