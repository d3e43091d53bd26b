#!/bin/sh
# Kafka's CLI tools by their usual names (linked to this script), inside the Kafka image:
#   kafka-topics.sh --bootstrap-server kafka:9092 --create --topic orders --partitions 6
case "${0##*/}" in
  kafka-topics.sh)             main=org.apache.kafka.tools.TopicCommand ;;
  kafka-consumer-groups.sh)    main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  kafka-console-consumer.sh)   main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  kafka-console-producer.sh)   main=org.apache.kafka.tools.ConsoleProducer ;;
  kafka-producer-perf-test.sh) main=org.apache.kafka.tools.ProducerPerformance ;;
  kafka-consumer-perf-test.sh) main=org.apache.kafka.tools.ConsumerPerformance ;;
  kafka-get-offsets.sh)        main=org.apache.kafka.tools.GetOffsetShell ;;
  *) echo "kafka-tool.sh: unknown tool ${0##*/}" >&2; exit 2 ;;
esac
exec java -XX:-UsePerfData -Xmx256m -Djava.io.tmpdir="${TMPDIR:-/tmp}" \
  -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.yaml -cp '/opt/kafka/libs/*' "$main" "$@"
