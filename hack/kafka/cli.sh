#!/usr/bin/env bash
# Runs Kafka's own CLI tools by their usual script names, e.g.
#   hack/kafka/cli.sh kafka-consumer-groups.sh --bootstrap-server 127.0.0.1:9092 --describe --group order-processors
source "$(dirname "$0")/../lib/common.sh"
[[ $# -ge 1 ]] || die "usage: cli.sh <kafka-tool.sh> [args...]  (tools: kafka-topics.sh kafka-consumer-groups.sh kafka-console-consumer.sh kafka-console-producer.sh kafka-producer-perf-test.sh kafka-consumer-perf-test.sh kafka-get-offsets.sh)"
tool=$1; shift
case "$tool" in
  kafka-topics.sh)             main=org.apache.kafka.tools.TopicCommand ;;
  kafka-consumer-groups.sh)    main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  kafka-console-consumer.sh)   main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  kafka-console-producer.sh)   main=org.apache.kafka.tools.ConsoleProducer ;;
  kafka-producer-perf-test.sh) main=org.apache.kafka.tools.ProducerPerformance ;;
  kafka-consumer-perf-test.sh) main=org.apache.kafka.tools.ConsumerPerformance ;;
  kafka-get-offsets.sh)        main=org.apache.kafka.tools.GetOffsetShell ;;
  *) die "unknown tool '$tool'" ;;
esac
LIB=$("$REPO_ROOT/hack/kafka/fetch.sh")
exec java -Xmx512m -Dlog4j2.configurationFile="$REPO_ROOT/hack/kafka/tools-log4j2.yaml" -cp "$LIB/*" "$main" "$@"
