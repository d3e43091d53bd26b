#!/usr/bin/env bash
# Runs Kafka's own CLI tools by their usual script names, e.g.
#   hack/kafka/cli.sh kafka-consumer-groups.sh --bootstrap-server 127.0.0.1:9092 --describe --group order-processors
source "$(dirname "$0")/../lib/common.sh"
TOOLS="$REPO_ROOT/hack/kafka/tools.txt"
[[ $# -ge 1 ]] || die "usage: cli.sh <kafka-tool.sh> [args...]  (tools: $(awk '!/^#/ { printf "%s ", $1 }' "$TOOLS"))"
tool=$1; shift
main=$(awk -v tool="$tool" '!/^#/ && $1 == tool { print $2 }' "$TOOLS")
[[ -n "$main" ]] || die "unknown tool '$tool' (tools: $(awk '!/^#/ { printf "%s ", $1 }' "$TOOLS"))"
LIB=$("$REPO_ROOT/hack/kafka/fetch.sh")
exec java -Xmx512m -Dlog4j2.configurationFile="$REPO_ROOT/hack/kafka/tools-log4j2.yaml" -cp "$LIB/*" "$main" "$@"
