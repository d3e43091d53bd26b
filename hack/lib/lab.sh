#!/usr/bin/env bash
# The lab's ports, names and paths, read from services/kit/src/lab.json (the one list the services,
# the operator and the tests use too) into LAB_* variables. Each can be overridden by the
# environment, e.g. LAB_PRODUCER_PORT=9000, which is how the tests run a second lab beside yours.
# Needs hack/lib/common.sh first (REPO_ROOT).
eval "$(node -e '
  const lab = require(process.argv[1]);
  const root = process.argv[2];
  const values = {
    LAB_PRODUCER_PORT: lab.ports.producer,
    LAB_CONSUMER_BASE_PORT: lab.ports.consumerBase,
    LAB_LAG_MONITOR_PORT: lab.ports.lagMonitor,
    LAB_OPERATOR_PORT: lab.ports.operator,
    LAB_KAFKA_PORT: lab.ports.kafka,
    LAB_PROMETHEUS_PORT: lab.ports.prometheus,
    LAB_JAEGER_PORT: lab.ports.jaeger,
    LAB_GRAFANA_PORT: lab.ports.grafana,
    LAB_KAFKA_UI_PORT: lab.ports.kafkaUi,
    LAB_TOPIC: lab.kafka.topic,
    LAB_SINK_TOPIC: lab.kafka.sinkTopic,
    LAB_DLQ_TOPIC: lab.kafka.dlqTopic,
    LAB_GROUP: lab.kafka.group,
    LAB_PARTITIONS: lab.kafka.partitions,
    LAB_RUN_DIR: `${root}/${lab.paths.runDir}`,
    LAB_LOG_DIR: `${root}/${lab.paths.logDir}`,
    LAB_NODE_OPTIONS: lab.node.options,
    LAB_MALLOC_ARENA_MAX: lab.node.mallocArenaMax,
    LAB_CONSUMER_ENTRY: lab.paths.consumerEntry,
  };
  for (const [name, value] of Object.entries(values)) console.log(`export ${name}="\${${name}:-${value}}"`);
' "$REPO_ROOT/services/kit/src/lab.json" "$REPO_ROOT")"
