#!/usr/bin/env bash
# make bench: the lab's producer, consumer and autoscaler against Kafka's own perf tools, on one
# private broker (127.0.0.1:29092, state in a temp dir that is wiped at the end). Progress on
# stderr, the summary table on stdout, all numbers in bench/results/latest.json. Every process
# started here is stopped on exit, failure or Ctrl-C. Numbers only: nothing here asserts a speed.
#
# Settings (environment): BENCH_KAFKA_PORT (29092; the controller takes the next port),
# BENCH_PRODUCE_N (200000), BENCH_CONSUME_N (20000), BENCH_BURST (500), BENCH_BURST_DELAY_MS (5),
# BENCH_REPEAT (3 rounds of each throughput measurement), BENCH_AUTOSCALE_REPEAT (10 bursts of
# 300-1000 orders over 0-3 s for the autoscaler; BENCH_BURST x BENCH_BURST_DELAY_MS then goes to
# one consumer alone),
# BENCH_MIXED_MINUTES (30: the mixed load's length), BENCH_ONLY (producer,consumer,autoscale,mixed,cluster).
# cluster (bench/cluster.mjs, root only, else skipped): our operator and KEDA on the one-node cluster
# (make cluster-up if it is not up, make up CLUSTER=local, hack/keda/up.sh; all taken down after);
# BENCH_CLUSTER_BURST (500), BENCH_CLUSTER_BURST_DELAY_MS (4), BENCH_CLUSTER_AUTOSCALERS (ours,keda).
# Services use ports 28000-28010 and 28020.
source "$(dirname "$0")/../hack/lib/common.sh"
source "$REPO_ROOT/hack/lib/lab.sh"

export KAFKA_PORT="${BENCH_KAFKA_PORT:-29092}"
export KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))
export KAFKA_TOPIC=bench-scale KAFKA_SINK_TOPIC=bench-scale-sink KAFKA_PARTITIONS=6
SERVICE_PORTS=(28000 28001 28002 28003 28004 28005 28006 28009 28010 28020)

for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "${SERVICE_PORTS[@]}"; do
  port_free "$port" || die "port $port is in use; the benchmark needs $KAFKA_PORT-$KAFKA_CONTROLLER_PORT and ${SERVICE_PORTS[*]} (a previous bench still running? set BENCH_KAFKA_PORT for another broker port)"
done
for entry in services/producer/dist/main.js "$LAB_CONSUMER_ENTRY" services/lag-monitor/dist/main.js operator/dist/main.js; do
  [[ -f "$REPO_ROOT/$entry" ]] || die "$entry is missing: run 'make bench' (it builds first) or 'make build'"
done
command -v java >/dev/null || die "java not found: install a Java 17+ JDK"

rm -rf "$REPO_ROOT/bench/results/failed-run"
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/bplab-bench.XXXXXX")
export BENCH_TMP KAFKA_STATE="$BENCH_TMP/kafka"
export BENCH_BROKERS="127.0.0.1:$KAFKA_PORT" KAFKAJS_NO_PARTITIONER_WARNING=1
NODE_PID=
STARTED=$SECONDS

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [[ -n "$NODE_PID" ]] && pid_alive "$NODE_PID"; then
    kill -TERM "$NODE_PID" 2>/dev/null
    for _ in {1..25}; do pid_alive "$NODE_PID" || break; sleep 0.2; done
    pid_alive "$NODE_PID" && kill -KILL "$NODE_PID" 2>/dev/null
  fi
  # The operator first, so it starts no consumer while its consumers are being stopped.
  stop_pid_files 40 "$BENCH_TMP/run/operator.pid"
  stop_pid_files 40 "$BENCH_TMP"/run/consumer-*.pid
  stop_pid_files 40 "$BENCH_TMP"/run/*.pid
  if [[ -f "$KAFKA_STATE/kafka.pid" ]]; then "$REPO_ROOT/hack/kafka/down.sh" 2>/dev/null; fi
  # What the cluster part brought up and has not taken down yet (bench/cluster.mjs lists it).
  if [[ -s "$BENCH_TMP/cluster-undo" ]]; then
    log "taking down what the cluster part left up: $(tr '\n' ' ' <"$BENCH_TMP/cluster-undo")"
    grep -qx keda "$BENCH_TMP/cluster-undo" && bash "$REPO_ROOT/hack/keda/down.sh"
    grep -qx lab "$BENCH_TMP/cluster-undo" && make -s -C "$REPO_ROOT" down
    grep -qx cluster "$BENCH_TMP/cluster-undo" && make -s -C "$REPO_ROOT" cluster-down
  fi
  if (( rc != 0 )); then
    local keep="$REPO_ROOT/bench/results/failed-run"
    rm -rf "$keep" && mkdir -p "$keep"
    cp -r "$BENCH_TMP/logs" "$keep/" 2>/dev/null
    cp "$KAFKA_STATE/server.log" "$keep/kafka-server.log" 2>/dev/null
    local what="failed (exit $rc)"
    (( rc == 130 || rc == 143 )) && what="interrupted"
    log "benchmark $what after $((SECONDS - STARTED)) s; everything it started is stopped; service and broker logs kept in bench/results/failed-run/"
  fi
  rm -rf "$BENCH_TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "private broker on $BENCH_BROKERS (state in $BENCH_TMP, wiped at the end)"
"$REPO_ROOT/hack/kafka/up.sh"
BENCH_KAFKA_PID=$(cat "$KAFKA_STATE/kafka.pid")
export BENCH_KAFKA_PID
log "broker up after $((SECONDS - STARTED)) s"

# In the background so that a signal reaches the trap at once instead of after node exits.
node "$REPO_ROOT/bench/main.mjs" &
NODE_PID=$!
rc=0
wait "$NODE_PID" || rc=$?
NODE_PID=
(( rc == 0 )) || exit "$rc"
log "done in $((SECONDS - STARTED)) s"
