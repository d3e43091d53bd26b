#!/usr/bin/env bash
# Starts the local lab in the background: Kafka, the producer (8000), the lag monitor (8010) and
# CONSUMERS consumers (8001..). AUTOSCALE=1 adds the operator in local mode (8020), which then
# starts and stops consumers itself. Logs: .lab/logs/<name>.log; pids: .lab/run/<name>.pid.
# Ports and paths come from hack/lib/lab.sh.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/kafka/env.sh"

CONSUMERS="${CONSUMERS:-1}"
PROCESSING_MS="${PROCESSING_MS:-500}"
AUTOSCALE="${AUTOSCALE:-0}"
RUN_DIR="$LAB_RUN_DIR"
LOG_DIR="$LAB_LOG_DIR"
mkdir -p "$RUN_DIR" "$LOG_DIR"

[[ "$CONSUMERS" =~ ^[0-9]+$ ]] && (( CONSUMERS <= KAFKA_PARTITIONS )) || die "CONSUMERS must be 0..$KAFKA_PARTITIONS (one per partition at most), got '$CONSUMERS'"
[[ "$PROCESSING_MS" =~ ^[0-9]+$ ]] && (( PROCESSING_MS <= 10000 )) || die "PROCESSING_MS must be 0..10000, got '$PROCESSING_MS'"
for entry in services/producer/dist/main.js services/lag-monitor/dist/main.js "$LAB_CONSUMER_ENTRY"; do
  [[ -f "$REPO_ROOT/$entry" ]] || die "services are not built ($entry is missing): run 'make build' (make local-up does it for you)"
done

# What every service shares; the operator passes it on to the consumers it starts.
export KAFKA_BROKERS="$KAFKA_BOOTSTRAP" TOPIC="$KAFKA_TOPIC" SINK_TOPIC="$KAFKA_SINK_TOPIC" DLQ_TOPIC="$KAFKA_DLQ_TOPIC" GROUP_ID="${GROUP_ID:-$LAB_GROUP}"
export PROCESSING_TIME_MS="$PROCESSING_MS"
# V8's heap sizing and glibc's malloc arenas (lab.json), for every service and the consumers the
# operator starts.
export NODE_OPTIONS="${NODE_OPTIONS:-$LAB_NODE_OPTIONS}" MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-$LAB_MALLOC_ARENA_MAX}"

"$REPO_ROOT/hack/kafka/up.sh"

alive() { [[ -f "$RUN_DIR/$1.pid" ]] && pid_alive "$(cat "$RUN_DIR/$1.pid")"; }

# start <name> <port> <entry> [VAR=value...]
start() {
  local name=$1 port=$2 entry=$3; shift 3
  if alive "$name"; then log "$name already running (pid $(cat "$RUN_DIR/$name.pid"))"; return; fi
  require_free_port "$port" "stop it or run 'make local-down'"
  # setsid: the services outlive this script and a Ctrl-C in the terminal; local-down stops them.
  env "$@" PORT="$port" setsid node "$REPO_ROOT/$entry" >>"$LOG_DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN_DIR/$name.pid"
  answers() { curl -fs -o /dev/null "http://127.0.0.1:$port/metrics"; }
  wait_until 30 "$name on port $port (see $LOG_DIR/$name.log)" answers
  log "$name on http://127.0.0.1:$port"
}

# The producer's rate limiter (off unless THROTTLE=true) reads this lab's lag monitor.
start producer "$LAB_PRODUCER_PORT" services/producer/dist/main.js LAG_MONITOR_URL="http://127.0.0.1:$LAB_LAG_MONITOR_PORT"
start lag-monitor "$LAB_LAG_MONITOR_PORT" services/lag-monitor/dist/main.js PRODUCER_URL="http://127.0.0.1:$LAB_PRODUCER_PORT"
for ((i = 1; i <= CONSUMERS; i++)); do
  start "consumer-$i" $((LAB_CONSUMER_BASE_PORT + i - 1)) "$LAB_CONSUMER_ENTRY" CONSUMER_ID="consumer-$i"
done
if [[ "$AUTOSCALE" == 1 ]]; then
  [[ -f "$REPO_ROOT/operator/dist/main.js" ]] || die "the operator is not built: run 'make build'"
  # The LagAutoscaler as written in operator/local-autoscaler.yaml, pointed at this lab's lag
  # monitor, topic and group (they differ when LAB_* overrides are set).
  sed -e "s#^\(    url:\).*#\1 http://127.0.0.1:$LAB_LAG_MONITOR_PORT#" -e "s#^\(  topic:\).*#\1 $TOPIC#" \
    -e "s#^\(  consumerGroup:\).*#\1 $GROUP_ID#" "$REPO_ROOT/operator/local-autoscaler.yaml" > "$RUN_DIR/local-autoscaler.yaml"
  start operator "$LAB_OPERATOR_PORT" operator/dist/main.js MODE=local LOCAL_AUTOSCALER_FILE="$RUN_DIR/local-autoscaler.yaml" \
    LOCAL_RUN_DIR="$RUN_DIR" LOCAL_LOG_DIR="$LOG_DIR" CONSUMER_BASE_PORT="$LAB_CONSUMER_BASE_PORT"
fi

cat >&2 <<MSG

  Local lab is up (consumers: $CONSUMERS at ${PROCESSING_MS} ms/message$([[ "$AUTOSCALE" == 1 ]] && echo ", autoscaled by the operator on :$LAB_OPERATOR_PORT")).
    producer     http://127.0.0.1:$LAB_PRODUCER_PORT   curl -X POST 'localhost:$LAB_PRODUCER_PORT/produce/batch?count=10'
    consumers    http://127.0.0.1:$LAB_CONSUMER_BASE_PORT.. curl localhost:$LAB_CONSUMER_BASE_PORT/stats
    lag monitor  http://127.0.0.1:$LAB_LAG_MONITOR_PORT   curl localhost:$LAB_LAG_MONITOR_PORT/lag   (live chart: http://127.0.0.1:$LAB_LAG_MONITOR_PORT/)
    kafka        $KAFKA_BOOTSTRAP        make kafka-cli ARGS='kafka-consumer-groups.sh --bootstrap-server $KAFKA_BOOTSTRAP --describe --group $GROUP_ID'
  Logs in $LOG_DIR/. Stop everything with: make local-down

MSG
