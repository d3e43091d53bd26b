#!/usr/bin/env bash
# Settings of KEDA on the local node (hack/keda/*.sh). Needs hack/lib/common.sh and
# hack/cluster/env.sh first. Every setting can be overridden by the environment.
KEDA_VERSION="${KEDA_VERSION:-v2.21.0}"
KEDA_MODULE="github.com/kedacore/keda/v2"
# Built binaries sit with the cluster's other tools; their throwaway module under its src/.
KEDA_OPERATOR_BIN="$TOOLS_BIN/keda-operator-$KEDA_VERSION"
KEDA_ADAPTER_BIN="$TOOLS_BIN/keda-adapter-$KEDA_VERSION"
KEDA_SRC="$TOOLS_BIN/src/keda-$KEDA_VERSION"
# Runtime state: certificates, logs, pids (kept next to the cluster's own state).
KEDA_STATE="${KEDA_STATE:-$CLUSTER_STATE/keda}"
KEDA_NAMESPACE="${KEDA_NAMESPACE:-keda}"
# Host ports on the node address: the adapter's aggregated API (the apiserver proxies to it), the
# operator's gRPC metrics service (the adapter dials it), metrics and health probes. None of them
# collides with the cluster's components (6443, 10250, 10249, 10256, 12379/12380, 10257, 10259).
KEDA_ADAPTER_PORT="${KEDA_ADAPTER_PORT:-16443}"
KEDA_GRPC_PORT="${KEDA_GRPC_PORT:-19666}"
KEDA_OPERATOR_METRICS_PORT="${KEDA_OPERATOR_METRICS_PORT:-18080}"
KEDA_OPERATOR_PROBE_PORT="${KEDA_OPERATOR_PROBE_PORT:-18081}"
KEDA_ADAPTER_METRICS_PORT="${KEDA_ADAPTER_METRICS_PORT:-18082}"
KEDA_ADAPTER_PROBE_PORT="${KEDA_ADAPTER_PROBE_PORT:-18083}"
