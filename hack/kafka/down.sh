#!/usr/bin/env bash
# Stops the local broker cleanly (SIGTERM, then waits); KAFKA_WIPE=1 also deletes its data.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/kafka/env.sh"
PID_FILE="$KAFKA_STATE/kafka.pid"
if [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
  pid=$(cat "$PID_FILE")
  log "stopping Kafka (pid $pid)"
  kill -TERM "$pid"
  stopped() { ! kill -0 "$pid"; }
  wait_until 60 "Kafka to stop" stopped
else
  log "Kafka is not running on port $KAFKA_PORT"
fi
rm -f "$PID_FILE"
if [[ "${KAFKA_WIPE:-0}" == 1 ]]; then rm -rf "$KAFKA_STATE"; log "wiped $KAFKA_STATE"; fi
