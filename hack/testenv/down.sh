#!/usr/bin/env bash
# Stops what up.sh started (in reverse order), waiting for each process to exit. Keeps the state
# dir (etcd data, certificates), so a later up.sh brings back the same cluster.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/testenv/env.sh"

stop_pid_files 20 "$TESTENV_STATE/kube-controller-manager.pid"
stop_pid_files 20 "$TESTENV_STATE/kube-apiserver.pid"
stop_pid_files 20 "$TESTENV_STATE/etcd.pid"
log "stopped (state kept in $TESTENV_STATE)"
