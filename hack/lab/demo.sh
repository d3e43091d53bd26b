#!/usr/bin/env bash
# `make demo`: a fresh local lab with the operator, a scripted scenario with a live terminal view,
# and a clean stop at the end, on Ctrl-C, on kill, and when its terminal is closed.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/lib/lab.sh"

cleanup() {
  local status=$?
  trap - INT TERM HUP EXIT
  # The terminal may be gone (SIGHUP): stopping the lab must not depend on writing to it, so the
  # stop logs to a file and only then is shown, and nothing here may end the script early.
  trap '' HUP PIPE
  set +e
  mkdir -p "$LAB_LOG_DIR"
  echo >&2
  log "stopping the lab" 2>/dev/null
  bash "$REPO_ROOT/hack/lab/local-down.sh" >"$LAB_LOG_DIR/demo-stop.log" 2>&1
  sed 's/^/  /' "$LAB_LOG_DIR/demo-stop.log" >&2 2>/dev/null
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# A clean slate: a lab left running is stopped, and the broker starts empty, so the story's numbers
# are the story's own.
bash "$REPO_ROOT/hack/lab/local-down.sh" >/dev/null 2>&1 || true
KAFKA_WIPE=1 bash "$REPO_ROOT/hack/kafka/down.sh" >/dev/null 2>&1 || true
log "starting Kafka, the producer, the lag monitor, one consumer and the operator"
CONSUMERS=1 PROCESSING_MS=500 AUTOSCALE=1 bash "$REPO_ROOT/hack/lab/local-up.sh" 2>&1 | grep -v '^$' | sed 's/^/  /' >&2
node "$REPO_ROOT/hack/lab/demo.mjs"
