#!/usr/bin/env bash
# make up: builds the lab's images and deploys the whole lab (helm/backpressure-lab, release and
# namespace backpressure-lab), then waits, with progress, until every pod is Ready.
#   kind (where Docker runs; hack/deploy/kind.sh): creates the kind cluster from kind-config.yaml
#     if needed, builds the images with Docker and loads them into its nodes, installs Strimzi's
#     operator (k8s/strimzi/values.yaml), then the chart with kafka.provider=strimzi.
#   local (no Docker: the one-node cluster of hack/cluster): make cluster-up if the node is not up,
#     make images (buildah, imported into the node's containerd), then the chart with
#     k8s/local-node-values.yaml (kafka.provider=plain, the locally built Kafka image).
# Settings (environment, or make variables):
#   CLUSTER=kind|local   force one (default: kind when a Docker daemon answers, else local)
#   HELM_ARGS='...'      more arguments for helm upgrade, e.g. '--set consumer.processingTimeMs=100'
#   TIMEOUT=300          seconds to wait for every pod to be Ready
# Safe to run again: an unchanged lab is left as it is; a changed image gets a new tag and rolls out.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/deploy/lib.sh"
T0=$SECONDS
TIMEOUT="${TIMEOUT:-300}"
# shellcheck disable=SC2206  # HELM_ARGS is a word list by design
EXTRA=(${HELM_ARGS:-})
SETS=()

docker_runs() { command -v docker >/dev/null && timeout 15 docker info >/dev/null 2>&1; }

# record <cluster> <context>: what make down, port-forward, status and scale-manual will talk to.
record() {
  mkdir -p "$DEPLOY_DIR"
  printf 'CLUSTER=%s\nCONTEXT=%s\n' "$1" "$2" >"$DEPLOY_STATE"
}

# The lab's namespace, labelled to enforce the restricted Pod Security level before any pod of the
# lab exists (Strimzi's chart and ours install into it, so it comes first).
ns_gone() { ! "${KC[@]}" get namespace "$LAB_NS" >/dev/null 2>&1; }
ensure_namespace() {
  local phase
  phase=$("${KC[@]}" get namespace "$LAB_NS" -o jsonpath='{.status.phase}' 2>/dev/null || true)
  if [[ "$phase" == Terminating ]]; then
    log "namespace $LAB_NS is still being deleted: waiting"
    wait_until 180 "namespace $LAB_NS to be gone" ns_gone
    phase=""
  fi
  if [[ -z "$phase" ]]; then
    log "creating namespace $LAB_NS"
    "${KC[@]}" create namespace "$LAB_NS" >/dev/null
  fi
  "${KC[@]}" label namespace "$LAB_NS" --overwrite \
    pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/enforce-version=latest >/dev/null
  log "namespace $LAB_NS enforces the restricted Pod Security level"
}

# image_sets <name=ref lines>: --set <component>.image.repository/tag for each of the four images.
image_sets() {
  local line name ref key
  declare -A keys=([producer]=producer [consumer]=consumer [lag-monitor]=lagMonitor [operator]=operator)
  declare -A seen=()
  while IFS= read -r line; do
    [[ "$line" == *=* ]] || continue
    name=${line%%=*} ref=${line#*=} key=${keys[${line%%=*}]:-}
    [[ -n "$key" ]] || continue
    # --set-string: a hex tag of digits only would otherwise become a number.
    SETS+=(--set "$key.image.repository=${ref%:*}" --set-string "$key.image.tag=${ref##*:}")
    seen[$name]=1
    log "  $name: $ref"
  done <<<"$1"
  for name in "${!keys[@]}"; do [[ -n "${seen[$name]:-}" ]] || die "no image for $name (see the build output above)"; done
}

# --- The local node (hack/cluster) ---------------------------------------------------------------
up_local() {
  local refs
  [[ $(id -u) == 0 ]] || die "the local node needs root (containerd, iptables, mounts): run as root, or CLUSTER=kind with Docker"
  use_context "$KUBE_CONTEXT"
  record local "$LAB_CONTEXT"
  if api_up; then
    log "the local node is up (context $LAB_CONTEXT)"
  else
    log "the local node is not up: make cluster-up"
    make -s -C "$REPO_ROOT" cluster-up
    api_up || die "the local node's apiserver does not answer after cluster-up (context $LAB_CONTEXT)"
  fi
  # What `make images` does, keeping the lab images' names: images.sh lab prints name=ref lines
  # with content tags. An unchanged image is neither rebuilt nor re-imported.
  log "building the images (make images)"
  make -s -C "$REPO_ROOT" cluster-build kafka-fetch
  bash "$REPO_ROOT/hack/cluster/images.sh" pause coredns node-base kafka monitoring >/dev/null
  refs=$(bash "$REPO_ROOT/hack/cluster/images.sh" lab) || die "building the lab's images failed (see above)"
  image_sets "$refs"
  ensure_namespace
  monitoring_local
  log "helm upgrade --install $LAB_RELEASE (kafka.provider=plain, k8s/local-node-values.yaml${EXTRA[*]:+, ${EXTRA[*]}})"
  helm_ upgrade --install "$LAB_RELEASE" "$LAB_CHART" -f "$REPO_ROOT/k8s/local-node-values.yaml" \
    "${SETS[@]}" "${EXTRA[@]}" >"$DEPLOY_DIR/helm.log" || die "helm upgrade failed (see above; $DEPLOY_DIR/helm.log)"
}

# monitoring_local: what kube-prometheus-stack and Jaeger's image bring on kind, from the Go module
# proxy: prometheus-operator's CRDs (from its module, the version hack/cluster/build.sh builds),
# the operator and a Prometheus that selects what kube-prometheus-stack's selects
# (k8s/monitoring-local/), and Jaeger (k8s/jaeger/jaeger.yaml with the local image), in namespace
# monitoring. Before the lab's chart, whose ServiceMonitors and PrometheusRule need the CRDs.
monitoring_local() {
  local crds
  crds="$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" \
    | jq -r .Dir)/example/prometheus-operator-crd"
  [[ -d "$crds" ]] || die "prometheus-operator's CRDs are not at $crds (make cluster-build)"
  log "prometheus-operator $PROMETHEUS_OPERATOR_VERSION (its CRDs, server-side), Prometheus $PROMETHEUS_RELEASE and Jaeger $JAEGER_RELEASE in namespace $MON_NS"
  # Server-side: the Prometheus CRD is too large for client-side apply's last-applied annotation.
  "${KC[@]}" apply --server-side --force-conflicts -f "$crds" >/dev/null || die "applying prometheus-operator's CRDs failed"
  "${KC[@]}" wait --for=condition=Established --timeout=60s -f "$crds" >/dev/null || die "prometheus-operator's CRDs are not Established"
  "${KC[@]}" get namespace "$MON_NS" >/dev/null 2>&1 || "${KC[@]}" create namespace "$MON_NS" >/dev/null
  "${KC[@]}" apply -f "$REPO_ROOT/k8s/monitoring-local" >/dev/null || die "applying k8s/monitoring-local failed"
  sed "s#image: jaegertracing/jaeger:.*#image: $JAEGER_IMAGE#" "$REPO_ROOT/k8s/jaeger/jaeger.yaml" \
    | "${KC[@]}" apply -f - >/dev/null || die "applying k8s/jaeger/jaeger.yaml failed"
}

# --- kind (Docker) -------------------------------------------------------------------------------
# The kind branch is hack/deploy/kind.sh: the cluster from kind-config.yaml if missing, the four
# images built with Docker and `kind load`ed, Strimzi's operator (k8s/strimzi/values.yaml), then
# the chart with kafka.provider=strimzi. It uses ensure_namespace above for the namespace.
up_kind() {
  local tag refs
  source "$REPO_ROOT/hack/deploy/kind.sh"
  kind_cluster
  use_context "$KIND_CONTEXT"
  record kind "$LAB_CONTEXT"
  tag=$(kind_tag)
  refs=$(kind_images "$tag") || die "building or loading the lab's images failed (see above)"
  image_sets "$refs"
  kind_up "$tag" "${EXTRA[@]}"
}

# --- Waiting -------------------------------------------------------------------------------------
# One jq pass over the namespace: pods not Ready (Terminating, Succeeded and Failed ones aside),
# Deployments and StatefulSets not rolled out, Jobs not complete, and container states that
# never fix themselves. Prints: <ready pods> <pods> <TAB> <what it waits for> <TAB> <fatal>.
# shellcheck disable=SC2016  # jq's \(...), not the shell's
READY_JQ='
def ready: any(.status.conditions[]?; .type == "Ready" and .status == "True");
def why:
  ([.status.containerStatuses[]?, .status.initContainerStatuses[]? | .state.waiting.reason // empty] | first)
  // (if .status.phase == "Running" then "Running, not Ready" else .status.phase end);
.items as $all
| [$all[] | select(.kind == "Pod" and .metadata.deletionTimestamp == null
    and .status.phase != "Succeeded" and .status.phase != "Failed")] as $pods
| [$pods[] | select(ready | not) | "\(.metadata.name) (\(why))"] as $pw
| [$all[] | select(.kind == "Deployment" or .kind == "StatefulSet")
    | select((.status.observedGeneration // 0) < .metadata.generation
      or (.status.updatedReplicas // 0) != (.spec.replicas // 1)
      or (.status.readyReplicas // 0) != (.spec.replicas // 1)
      or (.status.replicas // 0) != (.spec.replicas // 1)
      or (.kind == "StatefulSet" and .status.updateRevision != .status.currentRevision))
    | "\(.kind | ascii_downcase)/\(.metadata.name) \(.status.readyReplicas // 0)/\(.spec.replicas // 1) ready"] as $ww
| [$all[] | select(.kind == "Job" and (.status.succeeded // 0) < 1) | "job/\(.metadata.name) running"] as $jw
| [$pods[] | .metadata.name as $n | .status.containerStatuses[]? | .state.waiting.reason // empty
    | select(test("^(ErrImageNeverPull|InvalidImageName|CreateContainerConfigError)$")) | "\($n): \(.)"] as $fatal
| "\([$pods[] | select(ready)] | length) \($pods | length)\t\(($pw + $ww + $jw) | join(", "))\t\($fatal | join(", "))"'

wait_ready() {
  local deadline=$((SECONDS + TIMEOUT)) t0=$SECONDS last="" shown=0 out counts waiting fatal
  log "waiting until every pod in $LAB_NS is Ready (up to ${TIMEOUT}s)"
  while :; do
    out=$("${K[@]}" get deployments,statefulsets,jobs,pods -o json 2>/dev/null | jq -r "$READY_JQ" 2>/dev/null) || out=""
    IFS=$'\t' read -r counts waiting fatal <<<"$out"
    if [[ -n "$counts" && -z "$waiting" && "${counts%% *}" == "${counts##* }" && "${counts%% *}" != 0 ]]; then
      log "all ${counts##* } pods Ready ($((SECONDS - t0)) s)"
      return 0
    fi
    [[ -z "$fatal" ]] || die "a pod cannot start: $fatal (kubectl -n $LAB_NS describe pod ...; for a missing image: make images)"
    if [[ "$out" != "$last" || $((SECONDS - shown)) -ge 15 ]]; then
      log "  $((SECONDS - t0)) s: ${counts%% *}/${counts##* } pods Ready${waiting:+; waiting for $waiting}"
      last=$out shown=$SECONDS
    fi
    if (( SECONDS >= deadline )); then
      "${K[@]}" get pods -o wide >&2 || true
      die "not every pod was Ready after ${TIMEOUT}s: kubectl -n $LAB_NS describe pods; kubectl -n $LAB_NS logs <pod>"
    fi
    sleep 2
  done
}

# wait_monitoring: every Deployment in namespace monitoring available and a Prometheus pod Ready
# (prometheus-operator creates its StatefulSet, so it may not exist yet when this starts).
monitoring_ready() {
  "${KC[@]}" -n "$MON_NS" wait --for=condition=Available deployment --all --timeout=5s >/dev/null 2>&1 \
    && [[ $("${KC[@]}" -n "$MON_NS" get pods -l app.kubernetes.io/name=prometheus \
      -o jsonpath='{.items[*].status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == *True* ]]
}
wait_monitoring() {
  local t0=$SECONDS
  log "waiting for Prometheus and Jaeger in namespace $MON_NS (up to ${TIMEOUT}s)"
  wait_until "$TIMEOUT" "Prometheus and Jaeger in namespace $MON_NS (kubectl -n $MON_NS get pods)" monitoring_ready
  log "Prometheus and Jaeger are Ready ($((SECONDS - t0)) s)"
}

case "${CLUSTER:-}" in
  "") if docker_runs; then CLUSTER=kind why="a Docker daemon answers"; else CLUSTER=local why="no Docker daemon answers"; fi ;;
  kind | local) why="CLUSTER=$CLUSTER" ;;
  *) die "CLUSTER must be kind or local, not '$CLUSTER'" ;;
esac
log "cluster: $CLUSTER ($why)"
"up_$CLUSTER"
wait_ready
wait_monitoring
if [[ $CLUSTER == kind ]]; then
  "${K[@]}" wait --for=condition=Ready "kafka/$(helm_ get values "$LAB_RELEASE" -a -o json | jq -r .kafka.strimzi.clusterName)" --timeout=300s >/dev/null \
    || die "the Strimzi Kafka is not Ready: kubectl -n $LAB_NS describe kafka"
fi
"${K[@]}" get pods -o custom-columns='POD:.metadata.name,STATUS:.status.phase,IMAGE:.spec.containers[*].image' >&2
log "the lab runs on $CLUSTER (context $LAB_CONTEXT), up in $((SECONDS - T0)) s"
log "next: make port-forward (then the README's curl lines), make status, make scale-manual REPLICAS=n; make down removes it"
