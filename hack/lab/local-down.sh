#!/usr/bin/env bash
# Stops everything local-up started: the operator first (so it starts no more consumers), then the
# consumers (each finishes its message and leaves the group), the producer, the lag monitor, Kafka.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/lib/lab.sh"
RUN_DIR="$LAB_RUN_DIR"

if [[ -d "$RUN_DIR" ]]; then
  stop_pid_files 40 "$RUN_DIR/operator.pid"
  stop_pid_files 40 "$RUN_DIR"/consumer-*.pid
  stop_pid_files 40 "$RUN_DIR/producer.pid" "$RUN_DIR/lag-monitor.pid"
fi
[[ "${KEEP_KAFKA:-0}" == 1 ]] || "$REPO_ROOT/hack/kafka/down.sh"
log "local lab stopped"
