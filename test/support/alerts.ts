/** The alerts of the chart's PrometheusRule (templates/prometheusrule.yaml), in its order. */
export const ALERTS = [
  'KafkaConsumerLagCritical',
  'KafkaConsumerLagGrowing',
  'KafkaConsumersStalled',
  'KafkaConsumerPausedTooLong',
  'LagAutoscalerAtPartitionCap',
  'LagMonitorDown',
  'LagAutoscalerReconcileErrors',
] as const;
export type AlertName = (typeof ALERTS)[number];
