#!/usr/bin/env bash
# Undoes hack/keda/up.sh: while the apiserver answers, every ScaledObject is deleted first (KEDA
# removes the HPA it made while it still runs); then the two processes stop, by pid; then the
# APIService (a dangling aggregated API would block namespace deletion and discovery), its Service
# and EndpointSlice, the RBAC, the keda namespace and KEDA's CRDs. Keeps the certificates and logs
# in $KEDA_STATE (PURGE=1 of hack/cluster/down.sh deletes them with the cluster's state). Safe to
# run twice, and with the cluster down (then only the processes are stopped).
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/cluster/env.sh"
source "$REPO_ROOT/hack/keda/env.sh"
KUBECTL=(kubectl --kubeconfig "$ADMIN_KUBECONFIG" --cache-dir "$CLUSTER_STATE/kube-cache" --request-timeout=20s)
export PATH="$CLUSTER_BIN:$PATH"
PIDS="$KEDA_STATE/pids"

api=0
if [[ -f "$ADMIN_KUBECONFIG" ]] && "${KUBECTL[@]}" --request-timeout=5s get --raw /readyz >/dev/null 2>&1; then api=1; fi
if (( api )) && "${KUBECTL[@]}" get crd scaledobjects.keda.sh >/dev/null 2>&1; then
  n=$("${KUBECTL[@]}" get scaledobjects -A -o name 2>/dev/null | wc -l)
  if (( n )); then
    log "deleting $n ScaledObject(s) (KEDA removes their HPAs)"
    "${KUBECTL[@]}" delete scaledobjects -A --all --wait=true --timeout=30s >/dev/null 2>&1 || true
  fi
fi
(( api )) || ! compgen -G "$PIDS/*.pid" >/dev/null || log "the apiserver does not answer: stopping KEDA's processes only"
stop_pid_files 20 "$PIDS/keda-operator.pid" "$PIDS/keda-adapter.pid"

if (( api )); then
  log "deleting KEDA's APIService, Service, EndpointSlice, RBAC, namespace $KEDA_NAMESPACE and CRDs"
  "${KUBECTL[@]}" delete apiservice v1beta1.external.metrics.k8s.io --ignore-not-found >/dev/null || true
  "${KUBECTL[@]}" delete clusterrolebinding keda-hpa-controller-external-metrics --ignore-not-found >/dev/null || true
  "${KUBECTL[@]}" delete clusterrole keda-external-metrics-reader --ignore-not-found >/dev/null || true
  # Waited for, so that an up right after finds nothing half deleted (the APIService is gone, so
  # the namespace's discovery-based deletion is quick).
  "${KUBECTL[@]}" delete namespace "$KEDA_NAMESPACE" --ignore-not-found --wait=true --timeout=90s >/dev/null || log "namespace $KEDA_NAMESPACE is still being deleted"
  # Finalizers KEDA would have removed (it is stopped now): strip any left, then the CRDs.
  for kind in scaledobjects scaledjobs; do
    for obj in $("${KUBECTL[@]}" get "$kind.keda.sh" -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}' 2>/dev/null); do
      "${KUBECTL[@]}" -n "${obj%%/*}" patch "$kind.keda.sh" "${obj#*/}" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
    done
  done
  for crd in scaledobjects.keda.sh scaledjobs.keda.sh triggerauthentications.keda.sh clustertriggerauthentications.keda.sh \
    cloudeventsources.eventing.keda.sh clustercloudeventsources.eventing.keda.sh; do
    "${KUBECTL[@]}" delete crd "$crd" --ignore-not-found --wait=true --timeout=60s >/dev/null 2>&1 || log "CRD $crd is still being deleted"
  done
fi
log "KEDA is down (state kept in $KEDA_STATE)"
