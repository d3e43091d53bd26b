#!/usr/bin/env bash
# KEDA (operator + metrics adapter, built by hack/keda/build.sh) on the one-node cluster of
# hack/cluster, as two host processes with the cluster's admin kubeconfig: no image, no pull.
#   - KEDA's CRDs from its module source (config/crd/bases), namespace keda
#   - certificates in $KEDA_STATE/certs: a KEDA CA and one cert for the adapter's aggregated API
#     and the operator <-> adapter gRPC link (always mTLS, from --cert-dir ca.crt/tls.crt/tls.key)
#   - APIService v1beta1.external.metrics.k8s.io -> Service keda/keda-metrics-apiserver, which
#     has no selector: its EndpointSlice points at the adapter on the node address
#     ($NODE_IP:$KEDA_ADAPTER_PORT); the apiserver routes to it directly (--enable-aggregator-routing)
#   - RBAC: kube-system:horizontal-pod-autoscaler (the HPA controller) may read external metrics
#   - the operator in a private mount namespace whose /etc/resolv.conf names the cluster's DNS,
#     so that its Kafka scaler resolves the broker's advertised Service name from the host
# Needs the apiserver's aggregation-layer flags (hack/cluster/up.sh sets them) and root.
# Safe to run again: running processes are left alone. hack/keda/down.sh undoes it.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/cluster/env.sh"
source "$REPO_ROOT/hack/keda/env.sh"
T0=$SECONDS

[[ $(id -u) == 0 ]] || die "run as root (the operator runs in a private mount namespace)"
command -v unshare >/dev/null || die "unshare not found (util-linux)"
bash "$REPO_ROOT/hack/keda/build.sh"
KUBECTL=(kubectl --kubeconfig "$ADMIN_KUBECONFIG" --cache-dir "$CLUSTER_STATE/kube-cache")
export PATH="$CLUSTER_BIN:$PATH"
"${KUBECTL[@]}" --request-timeout=5s get --raw /readyz >/dev/null 2>&1 || die "the local node's apiserver does not answer: make cluster-up first"
# The apiserver publishes its front-proxy (requestheader) CA here only when started with the
# aggregation-layer flags; without them the adapter cannot authenticate the apiserver's calls.
rh=$("${KUBECTL[@]}" -n kube-system get configmap extension-apiserver-authentication -o jsonpath='{.data.requestheader-client-ca-file}' 2>/dev/null || true)
[[ -n "$rh" ]] || die "the apiserver runs without the aggregation-layer flags (started by an older hack/cluster/up.sh): make cluster-down && make cluster-up"

CERTS="$KEDA_STATE/certs" LOGS="$KEDA_STATE/logs" PIDS="$KEDA_STATE/pids"
mkdir -p "$CERTS" "$LOGS" "$PIDS"
KEDA_SRC_DIR=$(go mod download -json "$KEDA_MODULE@$KEDA_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[[ -d "$KEDA_SRC_DIR/config/crd/bases" ]] || die "KEDA's CRDs are not at $KEDA_SRC_DIR/config/crd/bases"

# --- Certificates (once) -------------------------------------------------------------------------
if [[ ! -f "$CERTS/tls.crt" ]]; then
  log "making KEDA's CA and its serving/client certificate in $CERTS"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/O=KEDAORG/CN=KEDA" -keyout "$CERTS/ca.key" -out "$CERTS/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/O=KEDAORG/CN=keda-operator" -keyout "$CERTS/tls.key" -out "$CERTS/tls.csr" 2>/dev/null
  san="DNS:keda-operator,DNS:keda-operator.$KEDA_NAMESPACE.svc,DNS:keda-operator.$KEDA_NAMESPACE.svc.$CLUSTER_DOMAIN"
  san+=",DNS:keda-metrics-apiserver,DNS:keda-metrics-apiserver.$KEDA_NAMESPACE.svc,DNS:keda-metrics-apiserver.$KEDA_NAMESPACE.svc.$CLUSTER_DOMAIN"
  san+=",DNS:localhost,IP:127.0.0.1,IP:$NODE_IP"
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" >"$CERTS/tls.ext"
  openssl x509 -req -in "$CERTS/tls.csr" -CA "$CERTS/ca.crt" -CAkey "$CERTS/ca.key" -CAcreateserial -days 3650 \
    -extfile "$CERTS/tls.ext" -out "$CERTS/tls.crt.tmp" 2>/dev/null
  rm -f "$CERTS/tls.csr"; mv "$CERTS/tls.crt.tmp" "$CERTS/tls.crt"
fi

# --- Objects in the cluster ------------------------------------------------------------------------
# What a down.sh cut short left half deleted (the namespace, a CRD) must be gone before it is made again.
terminating() { # (outputs captured: with pipefail, `kubectl | grep -q` fails at random on SIGPIPE)
  local ns crds
  ns=$("${KUBECTL[@]}" get namespace "$KEDA_NAMESPACE" -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null || true)
  crds=$("${KUBECTL[@]}" get crd -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{"\n"}{end}' 2>/dev/null || true)
  [[ -n "$ns" ]] || grep -qE '\.keda\.sh [0-9]' <<<"$crds"
}
if terminating; then
  log "namespace $KEDA_NAMESPACE or a KEDA CRD is still being deleted: waiting"
  settled() { ! terminating; }
  wait_until 180 "namespace $KEDA_NAMESPACE and KEDA's CRDs to finish deleting (kubectl get ns $KEDA_NAMESPACE -o yaml)" settled
fi
log "KEDA $KEDA_VERSION CRDs (from $KEDA_SRC_DIR/config/crd/bases), namespace $KEDA_NAMESPACE, RBAC, APIService"
"${KUBECTL[@]}" apply --server-side --force-conflicts -f "$KEDA_SRC_DIR/config/crd/bases" >"$LOGS/apply.log" 2>&1 || die "applying KEDA's CRDs failed: $(cat "$LOGS/apply.log")"
"${KUBECTL[@]}" wait --for=condition=Established --timeout=60s -f "$KEDA_SRC_DIR/config/crd/bases" >/dev/null || die "KEDA's CRDs are not Established"
ca_bundle=$(base64 -w0 <"$CERTS/ca.crt")
"${KUBECTL[@]}" apply -f - >"$LOGS/apply.log" 2>&1 <<YAML || die "applying KEDA's objects failed: $(cat "$LOGS/apply.log")"
apiVersion: v1
kind: Namespace
metadata: {name: $KEDA_NAMESPACE}
---
# The HPA controller (kube-controller-manager, --use-service-account-credentials) reads external
# metrics as kube-system:horizontal-pod-autoscaler (KEDA's config/metrics-server/role*.yaml).
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: keda-external-metrics-reader, labels: {app.kubernetes.io/part-of: keda-operator}}
rules:
- apiGroups: [external.metrics.k8s.io]
  resources: ["*"]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: keda-hpa-controller-external-metrics, labels: {app.kubernetes.io/part-of: keda-operator}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: keda-external-metrics-reader}
subjects:
- {kind: ServiceAccount, name: horizontal-pod-autoscaler, namespace: kube-system}
---
# No selector: the adapter is a host process, reached through the EndpointSlice below.
apiVersion: v1
kind: Service
metadata: {name: keda-metrics-apiserver, namespace: $KEDA_NAMESPACE}
spec:
  ports:
  - {name: https, port: 443, targetPort: $KEDA_ADAPTER_PORT, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: keda-metrics-apiserver-host
  namespace: $KEDA_NAMESPACE
  labels: {kubernetes.io/service-name: keda-metrics-apiserver, endpointslice.kubernetes.io/managed-by: bplab.hack-keda}
addressType: IPv4
ports:
- {name: https, port: $KEDA_ADAPTER_PORT, protocol: TCP}
endpoints:
- addresses: ["$NODE_IP"]
  conditions: {ready: true}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.external.metrics.k8s.io, labels: {app.kubernetes.io/part-of: keda-operator}}
spec:
  service: {name: keda-metrics-apiserver, namespace: $KEDA_NAMESPACE, port: 443}
  group: external.metrics.k8s.io
  version: v1beta1
  caBundle: $ca_bundle
  groupPriorityMinimum: 100
  versionPriority: 100
YAML

# --- The two processes -------------------------------------------------------------------------------
alive() { [[ -f "$PIDS/$1.pid" ]] && pid_alive "$(cat "$PIDS/$1.pid")"; }
start() { # start <name> <command...>: own session, log in logs/<name>.log, pid in pids/<name>.pid
  local name=$1; shift
  if alive "$name"; then log "$name already running (pid $(cat "$PIDS/$name.pid"))"; return; fi
  log "starting $name (log: $LOGS/$name.log)"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}
# As in KEDA's manifests (config/manager, config/metrics-server): every namespace watched, its
# cluster objects in namespace keda; the kubeconfig instead of a service account.
export KUBECONFIG="$ADMIN_KUBECONFIG" POD_NAMESPACE="$KEDA_NAMESPACE" KEDA_CLUSTER_OBJECT_NAMESPACE="$KEDA_NAMESPACE" WATCH_NAMESPACE=""

# The cluster's DNS for the operator alone: Kafka's metadata names brokers by their Service name.
# (unshare execs, and setsid does not fork here, so the pid file holds the operator's own pid.)
printf 'nameserver %s\nsearch svc.%s %s\noptions ndots:5\n' "$CLUSTER_DNS_IP" "$CLUSTER_DOMAIN" "$CLUSTER_DOMAIN" >"$KEDA_STATE/resolv.conf"
for port in "$KEDA_GRPC_PORT" "$KEDA_OPERATOR_METRICS_PORT" "$KEDA_OPERATOR_PROBE_PORT"; do
  alive keda-operator || require_free_port "$port" "set KEDA_*_PORT (hack/keda/env.sh)"
done
start keda-operator unshare --mount --propagation private -- /bin/sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$KEDA_STATE/resolv.conf" \
  "$KEDA_OPERATOR_BIN" --leader-elect=false --zap-log-level=info --zap-encoder=console --zap-time-encoding=rfc3339 \
  --metrics-bind-address "127.0.0.1:$KEDA_OPERATOR_METRICS_PORT" --health-probe-bind-address "127.0.0.1:$KEDA_OPERATOR_PROBE_PORT" \
  --metrics-service-bind-address "127.0.0.1:$KEDA_GRPC_PORT" --cert-dir "$CERTS" --ca-dir "$CERTS"
# The adapter's own /metrics listens on :<port> on every interface (KEDA has no bind flag for it).
for port in "$KEDA_ADAPTER_PORT" "$KEDA_ADAPTER_METRICS_PORT"; do
  alive keda-adapter || require_free_port "$port" "set KEDA_*_PORT (hack/keda/env.sh)"
done
start keda-adapter "$KEDA_ADAPTER_BIN" --zap-log-level=info \
  --secure-port "$KEDA_ADAPTER_PORT" --bind-address "$NODE_IP" --port "$KEDA_ADAPTER_METRICS_PORT" \
  --tls-cert-file "$CERTS/tls.crt" --tls-private-key-file "$CERTS/tls.key" --cert-dir "$CERTS" \
  --client-ca-file "$CLUSTER_PKI/ca.crt" \
  --lister-kubeconfig "$ADMIN_KUBECONFIG" --authentication-kubeconfig "$ADMIN_KUBECONFIG" --authorization-kubeconfig "$ADMIN_KUBECONFIG" \
  --metrics-service-address "127.0.0.1:$KEDA_GRPC_PORT"

wait_until 60 "keda-operator healthy (see $LOGS/keda-operator.log)" curl -sf --max-time 2 "http://127.0.0.1:$KEDA_OPERATOR_PROBE_PORT/readyz"
available() {
  [[ $("${KUBECTL[@]}" get apiservice v1beta1.external.metrics.k8s.io -o jsonpath='{.status.conditions[?(@.type=="Available")].status}') == True ]] \
    && "${KUBECTL[@]}" get --raw /apis/external.metrics.k8s.io/v1beta1 >/dev/null
}
wait_until 90 "APIService v1beta1.external.metrics.k8s.io Available (see $LOGS/keda-adapter.log)" available
log "KEDA $KEDA_VERSION up in $((SECONDS - T0)) s: operator pid $(cat "$PIDS/keda-operator.pid"), adapter pid $(cat "$PIDS/keda-adapter.pid") on $NODE_IP:$KEDA_ADAPTER_PORT; logs in $LOGS"
