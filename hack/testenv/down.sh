#!/usr/bin/env bash
# Stops what up.sh started (in reverse order), waiting for each process to exit. Keeps the state
# dir (etcd data, certificates), so a later up.sh brings back the same cluster.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/testenv/env.sh"

stop() {
  local name=$1 pid_file="$TESTENV_STATE/$1.pid" pid
  [[ -f "$pid_file" ]] || return 0
  pid=$(cat "$pid_file")
  if pid_alive "$pid"; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid"
    local deadline=$((SECONDS + 20))
    while pid_alive "$pid"; do
      if (( SECONDS >= deadline )); then
        log "$name did not exit within 20 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.2
    done
  fi
  rm -f "$pid_file"
}

stop kube-controller-manager
stop kube-apiserver
stop etcd
log "stopped (state kept in $TESTENV_STATE)"
