#!/usr/bin/env bash
# `make demo`: a fresh local lab with the operator, a scripted scenario with a live terminal view,
# and a clean stop at the end or on Ctrl-C.
source "$(dirname "$0")/../lib/common.sh"

cleanup() {
  trap - INT TERM EXIT
  echo >&2
  log "stopping the lab"
  bash "$REPO_ROOT/hack/lab/local-down.sh" 2>&1 | sed 's/^/  /' >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A clean slate: a lab left running is stopped, and the broker starts empty, so the story's numbers
# are the story's own.
bash "$REPO_ROOT/hack/lab/local-down.sh" >/dev/null 2>&1 || true
KAFKA_WIPE=1 bash "$REPO_ROOT/hack/kafka/down.sh" >/dev/null 2>&1 || true
log "starting Kafka, the producer, the lag monitor, one consumer and the operator"
CONSUMERS=1 PROCESSING_MS=500 AUTOSCALE=1 bash "$REPO_ROOT/hack/lab/local-up.sh" 2>&1 | grep -v '^$' | sed 's/^/  /' >&2
node "$REPO_ROOT/hack/lab/demo.mjs"
