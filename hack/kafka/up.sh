#!/usr/bin/env bash
# Starts one combined KRaft broker+controller on $KAFKA_HOST:$KAFKA_PORT, waits until it answers,
# and creates the lab's topics explicitly (never auto-created with one partition).
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/kafka/env.sh"
LIB=$("$REPO_ROOT/hack/kafka/fetch.sh")
PID_FILE="$KAFKA_STATE/kafka.pid"
cli() { "$REPO_ROOT/hack/kafka/cli.sh" "$@"; }

if [[ -f "$PID_FILE" ]] && pid_alive "$(cat "$PID_FILE")"; then
  log "Kafka already running on $KAFKA_BOOTSTRAP (pid $(cat "$PID_FILE"))"
else
  require_free_port "$KAFKA_PORT" "set KAFKA_PORT"
  require_free_port "$KAFKA_CONTROLLER_PORT" "set KAFKA_CONTROLLER_PORT"
  mkdir -p "$KAFKA_STATE"
  cat > "$KAFKA_STATE/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_STATE/data
num.partitions=1
$(grep -v '^#' "$REPO_ROOT/hack/kafka/single-node.properties")
PROPS
  if [[ ! -f "$KAFKA_STATE/data/meta.properties" ]]; then
    log "formatting KRaft storage in $KAFKA_STATE/data"
    java_tool() { java -Dlog4j2.configurationFile="$REPO_ROOT/hack/kafka/tools-log4j2.yaml" -cp "$LIB/*" kafka.tools.StorageTool "$@"; }
    java_tool format -t "$(java_tool random-uuid)" -c "$KAFKA_STATE/server.properties" >"$KAFKA_STATE/format.log" 2>&1 \
      || die "formatting storage failed: $(cat "$KAFKA_STATE/format.log")"
  fi
  log "starting Kafka on $KAFKA_BOOTSTRAP (logs: $KAFKA_STATE/server.log)"
  mkdir -p "$KAFKA_STATE"
  nohup java -Xms256m -Xmx1g -XX:+UseG1GC -Dkafka.logs.dir="$KAFKA_STATE" \
    -Dlog4j2.configurationFile="$REPO_ROOT/hack/kafka/log4j2.yaml" \
    -cp "$LIB/*" kafka.Kafka "$KAFKA_STATE/server.properties" >"$KAFKA_STATE/stdout.log" 2>&1 &
  echo $! > "$PID_FILE"
fi

broker_answers() { cli kafka-topics.sh --bootstrap-server "$KAFKA_BOOTSTRAP" --list; }
log "waiting for the broker to answer"
wait_until 90 "Kafka on $KAFKA_BOOTSTRAP (see $KAFKA_STATE/server.log)" broker_answers

for topic in "$KAFKA_TOPIC:$KAFKA_PARTITIONS" "$KAFKA_SINK_TOPIC:$KAFKA_PARTITIONS" "$KAFKA_DLQ_TOPIC:$KAFKA_PARTITIONS"; do
  cli kafka-topics.sh --bootstrap-server "$KAFKA_BOOTSTRAP" --create --if-not-exists \
    --topic "${topic%%:*}" --partitions "${topic##*:}" --replication-factor 1 >/dev/null
done
log "ready: $KAFKA_BOOTSTRAP, topic $KAFKA_TOPIC with $KAFKA_PARTITIONS partitions, sink $KAFKA_SINK_TOPIC, dead letters $KAFKA_DLQ_TOPIC"
