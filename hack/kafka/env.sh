#!/usr/bin/env bash
# Settings of the local broker, shared by up/down/cli. Override with the environment.
KAFKA_HOST="${KAFKA_HOST:-127.0.0.1}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_TOPIC="${KAFKA_TOPIC:-orders}"
KAFKA_PARTITIONS="${KAFKA_PARTITIONS:-6}"
KAFKA_SINK_TOPIC="${KAFKA_SINK_TOPIC:-orders.processed}"
KAFKA_STATE="${KAFKA_STATE:-$CACHE_DIR/run/kafka-$KAFKA_PORT}"
KAFKA_BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"
