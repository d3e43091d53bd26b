#!/usr/bin/env bash
# Stops the local broker cleanly (SIGTERM, then waits); KAFKA_WIPE=1 also deletes its data.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/kafka/env.sh"
if [[ -f "$KAFKA_STATE/kafka.pid" ]]; then
  stop_pid_files 60 "$KAFKA_STATE/kafka.pid"
else
  log "Kafka is not running on port $KAFKA_PORT"
fi
if [[ "${KAFKA_WIPE:-0}" == 1 ]]; then rm -rf "$KAFKA_STATE"; log "wiped $KAFKA_STATE"; fi
