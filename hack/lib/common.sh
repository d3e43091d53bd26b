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
