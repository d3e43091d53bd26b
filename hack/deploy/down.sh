#!/usr/bin/env bash
# make down: removes the lab from its cluster: the port-forwards, the helm release, the namespace,
# the monitoring namespace (Prometheus, Jaeger; on kind kube-prometheus-stack and the Kafka UI)
# and, on kind, Strimzi's operator that make up installed. The cluster itself stays: make
# cluster-down stops the local node, `kind delete cluster --name backpressure-lab` removes kind's.
# The LagAutoscaler CRD stays too (Helm never deletes a chart's crds/). Safe to run again.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/deploy/lib.sh"
T0=$SECONDS

pf=()
for svc in "${PF_SERVICES[@]}" "${PF_TOOLS[@]}" "${PF_KIND_TOOLS[@]}"; do pf+=("$PF_DIR/$svc.pid"); done
stop_pid_files 10 "${pf[@]}"

if ! ctx=$(lab_context); then
  rm -f "$DEPLOY_STATE"
  log "no kubectl context (no cluster): nothing to remove"
  exit 0
fi
use_context "$ctx"
cluster=$(lab_cluster)
if ! api_up; then
  rm -f "$DEPLOY_STATE"
  log "the cluster (context $LAB_CONTEXT) does not answer: nothing to remove"
  exit 0
fi
ns_gone() { ! "${KC[@]}" get namespace "$LAB_NS" >/dev/null 2>&1; }

if lab_installed; then
  log "helm uninstall $LAB_RELEASE (namespace $LAB_NS, context $LAB_CONTEXT)"
  helm_ uninstall "$LAB_RELEASE" --wait --timeout 3m >/dev/null
fi
if ! ns_gone; then
  log "deleting namespace $LAB_NS"
  "${KC[@]}" delete namespace "$LAB_NS" --wait=false >/dev/null 2>&1 || true
  wait_until 180 "namespace $LAB_NS to be deleted (kubectl get namespace $LAB_NS -o yaml)" ns_gone
fi
if [[ "$cluster" == kind ]] && "$(helm_path)" --kube-context "$LAB_CONTEXT" -n strimzi status strimzi >/dev/null 2>&1; then
  log "helm uninstall strimzi (Strimzi's operator, namespace strimzi)"
  "$(helm_path)" --kube-context "$LAB_CONTEXT" -n strimzi uninstall strimzi --wait --timeout 3m >/dev/null
  "${KC[@]}" delete namespace strimzi --wait=true --timeout=180s >/dev/null 2>&1 || true
fi
# The tools make up installed beside the lab in namespace monitoring: on kind two helm releases,
# on the local node prometheus-operator's and Prometheus' ClusterRoles too. CRDs stay, as the lab's.
if "${KC[@]}" get namespace "$MON_NS" >/dev/null 2>&1; then
  for release in kube-prometheus-stack kafka-ui; do
    "$(helm_path)" --kube-context "$LAB_CONTEXT" -n "$MON_NS" status "$release" >/dev/null 2>&1 || continue
    log "helm uninstall $release (namespace $MON_NS)"
    "$(helm_path)" --kube-context "$LAB_CONTEXT" -n "$MON_NS" uninstall "$release" --wait --timeout 3m >/dev/null
  done
  log "deleting namespace $MON_NS (Prometheus, Jaeger)"
  "${KC[@]}" delete namespace "$MON_NS" --wait=true --timeout=180s >/dev/null 2>&1 || true
fi
"${KC[@]}" delete clusterrole,clusterrolebinding -l app.kubernetes.io/part-of=backpressure-lab --ignore-not-found >/dev/null
rm -f "$DEPLOY_STATE"
log "the lab is removed ($((SECONDS - T0)) s); the cluster stays (context $LAB_CONTEXT)"
