#!/usr/bin/env bash
# make exercise N: runs exercise N of the README (hack/lab/exercise.mjs) against the lab that is
# running. Which lab: a cluster when make port-forward's producer forward runs (the same local
# ports reach the cluster's Services) and no local producer does (make local-up's pid file);
# otherwise the local one. LAB_* and KAFKA_PORT move ports and dirs, as for local-up.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/deploy/lib.sh"

LAB_TARGET=local
if pf_alive producer && ! { [[ -f "$LAB_RUN_DIR/producer.pid" ]] && pid_alive "$(cat "$LAB_RUN_DIR/producer.pid")"; }; then LAB_TARGET=cluster; fi
export LAB_TARGET
exec node "$REPO_ROOT/hack/lab/exercise.mjs" "$@"
