#!/bin/sh
# Kafka's CLI tools by their usual names (linked to this script), inside the Kafka image:
#   kafka-topics.sh --bootstrap-server kafka:9092 --create --topic orders --partitions 6
main=""
while read -r name class; do
  [ "$name" = "${0##*/}" ] && main=$class
done </opt/kafka/config/tools.txt
[ -n "$main" ] || { echo "kafka-tool.sh: unknown tool ${0##*/}" >&2; exit 2; }
exec java -XX:-UsePerfData -Xmx256m -Djava.io.tmpdir="${TMPDIR:-/tmp}" \
  -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.yaml -cp '/opt/kafka/libs/*' "$main" "$@"
