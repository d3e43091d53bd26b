#!/usr/bin/env bash
# Settings of the local broker, shared by up/down/cli. Defaults from the lab's list
# (hack/lib/lab.sh); override with the environment.
source "$REPO_ROOT/hack/lib/lab.sh"
KAFKA_HOST="${KAFKA_HOST:-127.0.0.1}"
KAFKA_PORT="${KAFKA_PORT:-$LAB_KAFKA_PORT}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_TOPIC="${KAFKA_TOPIC:-$LAB_TOPIC}"
KAFKA_PARTITIONS="${KAFKA_PARTITIONS:-$LAB_PARTITIONS}"
KAFKA_SINK_TOPIC="${KAFKA_SINK_TOPIC:-$LAB_SINK_TOPIC}"
KAFKA_STATE="${KAFKA_STATE:-$CACHE_DIR/run/kafka-$KAFKA_PORT}"
KAFKA_BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"
