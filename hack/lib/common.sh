#!/usr/bin/env bash
# Shared by the hack/ scripts: where the cache lives and how to report progress.
set -euo pipefail

# Downloads and builds live outside the repo so that every clone and CI run on this machine reuses them.
CACHE_DIR="${BPLAB_CACHE:-$HOME/.cache/backpressure-lab}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mkdir -p "$CACHE_DIR"

log() { printf '\033[1;34m[%s]\033[0m %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { printf '\033[1;31m[%s] error:\033[0m %s\n' "$(basename "$0" .sh)" "$*" >&2; exit 1; }

# wait_until <seconds> <description> <command...>: polls once a second, fails with a clear message.
wait_until() {
  local timeout=$1 what=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || die "timed out after ${timeout}s waiting for ${what}"
    sleep 1
  done
}

# A process counts as alive unless gone or a zombie: where PID 1 does not reap orphans (some
# containers, this CI machine), a stopped daemon stays a zombie and kill -0 alone still succeeds.
pid_alive() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n "$stat" && "$stat" != Z* ]]
}

# stop_pid_files <seconds> <pid file>...: SIGTERM every live pid named by the files, wait up to
# <seconds> for all of them to exit, SIGKILL what is left, and remove the files.
stop_pid_files() {
  local timeout=$1; shift
  local pids=() names=() f pid
  for f in "$@"; do
    [[ -f "$f" ]] || continue
    pid=$(cat "$f")
    if pid_alive "$pid"; then kill -TERM "$pid" 2>/dev/null && pids+=("$pid") && names+=("$(basename "$f" .pid)"); fi
    rm -f "$f"
  done
  (( ${#pids[@]} )) || return 0
  log "stopping ${names[*]}"
  local deadline=$((SECONDS + timeout)) p left
  while :; do
    left=()
    for p in "${pids[@]}"; do pid_alive "$p" && left+=("$p"); done
    (( ${#left[@]} )) || return 0
    if (( SECONDS >= deadline )); then
      log "still running after ${timeout}s, killing pid(s) ${left[*]}"
      kill -KILL "${left[@]}" 2>/dev/null || true
      return 0
    fi
    sleep 0.2
  done
}

# A port counts as free when nothing accepts a connection on it.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# require_free_port <port> <hint>: waits up to 10 s for the port to be free, then fails with the
# hint. The wait matters right after a stop: a multi-threaded server (Go, the JVM) can look gone
# (a zombie) while its last threads still hold the listening socket.
require_free_port() {
  local deadline=$((SECONDS + 10))
  until port_free "$1"; do
    (( SECONDS < deadline )) || die "port $1 is taken by another process; $2"
    sleep 0.2
  done
}
