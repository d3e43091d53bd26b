#!/usr/bin/env bash
# Shared by hack/deploy/*.sh (make up, down, port-forward, status, scale-manual): the lab's release
# and namespace, which cluster and kubectl context it is in, and the tools to reach it.
# Needs hack/lib/common.sh first.
# shellcheck disable=SC2034  # the variables here are for the scripts that source this file
source "$REPO_ROOT/hack/cluster/env.sh"
source "$REPO_ROOT/hack/lib/lab.sh"

LAB_NS="${LAB_NS:-backpressure-lab}"
LAB_RELEASE="${LAB_RELEASE:-backpressure-lab}"
LAB_CHART="$REPO_ROOT/helm/backpressure-lab"
# What `make up` deployed (cluster kind and kubectl context), and the port-forwards' pid files
# and logs: under .lab/, apart from the local lab's .lab/run (make local-down stops what is there).
DEPLOY_DIR="${DEPLOY_DIR:-$REPO_ROOT/.lab/cluster}"
DEPLOY_STATE="$DEPLOY_DIR/deployed.env"
PF_DIR="${PF_DIR:-$DEPLOY_DIR/port-forward}"
KIND_CLUSTER="${KIND_CLUSTER:-backpressure-lab}"

# The lab's Services, their ports in the cluster, and the local port each is forwarded to (the
# seed's ports from lab.json, so the README's curl lines work unchanged; LAB_*_PORT moves one).
PF_SERVICES=(producer consumer lag-monitor lag-autoscaler)
declare -A PF_REMOTE=([producer]=8000 [consumer]=8001 [lag-monitor]=8010 [lag-autoscaler]=8020)
declare -A PF_LOCAL=([producer]=$LAB_PRODUCER_PORT [consumer]=$LAB_CONSUMER_BASE_PORT
  [lag-monitor]=$LAB_LAG_MONITOR_PORT [lag-autoscaler]=$LAB_OPERATOR_PORT)
# The tools beside the lab, in namespace monitoring: Prometheus (the Service prometheus-operator
# makes for every Prometheus) and Jaeger on both paths; Grafana and the Kafka UI on kind only.
MON_NS="${MON_NS:-monitoring}"
PF_TOOLS=(prometheus-operated jaeger)
PF_KIND_TOOLS=(kube-prometheus-stack-grafana kafka-ui)
PF_REMOTE+=([prometheus-operated]=9090 [jaeger]=16686 [kube-prometheus-stack-grafana]=80 [kafka-ui]=80)
PF_LOCAL+=([prometheus-operated]=$LAB_PROMETHEUS_PORT [jaeger]=$LAB_JAEGER_PORT
  [kube-prometheus-stack-grafana]=$LAB_GRAFANA_PORT [kafka-ui]=$LAB_KAFKA_UI_PORT)

# kubectl: the one built with the local node (same version as its apiserver), else the user's.
kubectl_path() {
  if [[ -x "$CLUSTER_BIN/kubectl" ]]; then echo "$CLUSTER_BIN/kubectl"
  elif command -v kubectl >/dev/null; then command -v kubectl
  elif [[ -x "$TESTENV_BIN/kubectl" ]]; then echo "$TESTENV_BIN/kubectl"
  else die "kubectl not found: install it (kind path) or run make cluster-build (local node)"; fi
}
# helm: the one hack/cluster builds (cached), else the user's, else build it (about a minute once).
helm_path() {
  if [[ -x "$HELM_BIN" ]]; then echo "$HELM_BIN"
  elif command -v helm >/dev/null; then command -v helm
  else bash "$REPO_ROOT/hack/cluster/helm.sh"; fi
}

# The context of the cluster the lab is in: LAB_KUBE_CONTEXT, else the one make up recorded, else
# kubectl's current context; fails (printing nothing) when there is none.
lab_context() {
  if [[ -n "${LAB_KUBE_CONTEXT:-}" ]]; then echo "$LAB_KUBE_CONTEXT"; return; fi
  if [[ -f "$DEPLOY_STATE" ]]; then
    local ctx; ctx=$(sed -n 's/^CONTEXT=//p' "$DEPLOY_STATE")
    [[ -n "$ctx" ]] && { echo "$ctx"; return; }
  fi
  "$(kubectl_path)" config current-context 2>/dev/null
}
lab_cluster() { sed -n 's/^CLUSTER=//p' "$DEPLOY_STATE" 2>/dev/null || true; }

# use_context <context>: sets K (kubectl in the lab's namespace) and KC (kubectl, no namespace).
use_context() {
  LAB_CONTEXT=$1
  KC=("$(kubectl_path)" --context "$LAB_CONTEXT")
  K=("${KC[@]}" -n "$LAB_NS")
}
# helm_ <args>: helm against the lab's context and namespace.
helm_() { "$(helm_path)" --kube-context "$LAB_CONTEXT" -n "$LAB_NS" "$@"; }

# api_up: the context's apiserver answers /readyz.
api_up() { "${KC[@]}" --request-timeout=5s get --raw /readyz >/dev/null 2>&1; }
# lab_installed: the release exists in the namespace.
lab_installed() { helm_ status "$LAB_RELEASE" >/dev/null 2>&1; }

# pf_alive <service>: its port-forward (a supervisor loop around kubectl port-forward) runs.
pf_alive() { [[ -f "$PF_DIR/$1.pid" ]] && pid_alive "$(cat "$PF_DIR/$1.pid")"; }
