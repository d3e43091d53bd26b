#!/usr/bin/env bash
# Where the test environment lives and which loopback ports it uses; every setting can be overridden.
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
TESTENV_BIN="${TESTENV_BIN:-$CACHE_DIR/testenv/$K8S_VERSION/bin}"
TESTENV_STATE="${TESTENV_STATE:-$CACHE_DIR/testenv/state}"
TESTENV_ETCD_PORT="${TESTENV_ETCD_PORT:-2379}"
TESTENV_ETCD_PEER_PORT="${TESTENV_ETCD_PEER_PORT:-2380}"
TESTENV_APISERVER_PORT="${TESTENV_APISERVER_PORT:-6443}"
TESTENV_KCM_PORT="${TESTENV_KCM_PORT:-10257}"
TESTENV_KUBECONFIG="$TESTENV_STATE/kubeconfig"

# A process counts as alive unless gone or a zombie: where PID 1 does not reap orphans (some
# containers), a stopped daemon stays a zombie and kill -0 alone would still succeed.
pid_alive() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n "$stat" && "$stat" != Z* ]]
}
