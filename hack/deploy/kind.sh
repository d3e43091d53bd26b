#!/usr/bin/env bash
# shellcheck shell=bash
# The kind (Docker) branch of `make up`, as a library of functions: source it, then call them.
#   source hack/lib/common.sh                      (log, die, REPO_ROOT; `set -euo pipefail`)
#   source hack/deploy/kind.sh
#   tag=$(kind_tag)                                a content tag for the lab's images
#   kind_images "$tag"                             docker build the four images, kind load them
#   kind_up "$tag" [helm upgrade args...]          cluster, Strimzi's operator, monitoring (kube-
#                                                  prometheus-stack, Kafka UI, Jaeger), the lab's chart
# kind_images needs the cluster (kind load), so it creates it when missing, as kind_up does;
# neither waits for the lab's pods (hack/deploy/up.sh does, with progress).
#
# Needs: a Docker daemon that answers (`docker info`; a docker CLI alone is not enough: this
# machine has one without a daemon), kind (v0.33.0: kind-config.yaml pins that release's v1.34
# node image), kubectl and helm 3.8+ (OCI charts). The kubectl and helm of hack/deploy/lib.sh
# (kubectl_path, helm_path) when it was sourced first, else the ones on PATH.
#
# Settings (environment): KIND_CLUSTER (backpressure-lab: kind-config.yaml's name; the context is
# kind-$KIND_CLUSTER), LAB_NS and LAB_RELEASE (backpressure-lab), KIND_NODE_IMAGE (the Dockerfiles'
# NODE_IMAGE, default node:24-alpine), DEPLOY_DIR (where build and helm logs go, .lab/cluster).
# Strimzi's chart and version come from the header of k8s/strimzi/values.yaml (one place to bump;
# skaffold.yaml's strimzi profile repeats them and test/cluster/kind-path.test.ts checks they agree);
# kube-prometheus-stack's and the Kafka UI's from their values files' headers in k8s/ likewise.

KIND_CLUSTER="${KIND_CLUSTER:-backpressure-lab}"
KIND_CONTEXT="kind-$KIND_CLUSTER"
KIND_CONFIG="$REPO_ROOT/kind-config.yaml"
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-node:24-alpine}"
KIND_MIN_VERSION="v0.33.0"
LAB_NS="${LAB_NS:-backpressure-lab}"
LAB_RELEASE="${LAB_RELEASE:-backpressure-lab}"
KIND_LAB_CHART="$REPO_ROOT/helm/backpressure-lab"
KIND_STRIMZI_VALUES="$REPO_ROOT/k8s/strimzi/values.yaml"
KIND_STRIMZI_NS="strimzi"
KIND_MON_NS="${MON_NS:-monitoring}"
KIND_KPS_VALUES="$REPO_ROOT/k8s/kube-prometheus-stack/values.yaml"
KIND_KAFKA_UI_VALUES="$REPO_ROOT/k8s/kafka-ui/values.yaml"
KIND_JAEGER="$REPO_ROOT/k8s/jaeger/jaeger.yaml"
KIND_LOG_DIR="${DEPLOY_DIR:-$REPO_ROOT/.lab/cluster}"

# The lab's images: name, Dockerfile (built from the repository root) and the chart's values key.
KIND_IMAGES=(producer consumer lag-monitor operator)
declare -A KIND_DOCKERFILE=([producer]=services/producer/Dockerfile [consumer]=services/consumer/Dockerfile
  [lag-monitor]=services/lag-monitor/Dockerfile [operator]=operator/Dockerfile)
declare -A KIND_VALUES_KEY=([producer]=producer [consumer]=consumer [lag-monitor]=lagMonitor [operator]=operator)

kind_kubectl() { if declare -F kubectl_path >/dev/null; then "$(kubectl_path)" "$@"; else kubectl "$@"; fi; }
kind_helm() { if declare -F helm_path >/dev/null; then "$(helm_path)" "$@"; else helm "$@"; fi; }

# kind_check: Docker answers, kind and the tools are there; warns about a kind older than the
# release whose node image kind-config.yaml pins.
kind_check() {
  command -v docker >/dev/null || die "docker not found: the kind path needs Docker (or CLUSTER=local)"
  timeout 15 docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info): start it, or CLUSTER=local"
  command -v kind >/dev/null || die "kind not found: install kind $KIND_MIN_VERSION (https://kind.sigs.k8s.io), or CLUSTER=local"
  local v; v=$(kind version 2>/dev/null | grep -oE 'v[0-9]+\.[0-9]+\.[0-9]+' | head -1 || true)
  if [[ -n "$v" && "$(printf '%s\n' "$KIND_MIN_VERSION" "$v" | sort -V | head -1)" != "$KIND_MIN_VERSION" ]]; then
    log "warning: kind $v is older than $KIND_MIN_VERSION, whose v1.34 node image kind-config.yaml pins; upgrade kind if the cluster does not start"
  fi
}

# kind_cluster: creates the cluster from kind-config.yaml unless `kind get clusters` lists it.
kind_cluster() {
  kind_check
  if kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
    log "kind cluster $KIND_CLUSTER exists (context $KIND_CONTEXT)"
  else
    log "creating kind cluster $KIND_CLUSTER from kind-config.yaml (a control plane and a worker; a minute or two)"
    kind create cluster --name "$KIND_CLUSTER" --config "$KIND_CONFIG" || die "kind create cluster failed"
  fi
}

# kind_tag: a tag that changes when anything the images are built from changes (the files git
# sees, tracked or not, minus ignored ones), so that `make up` after an edit rolls the pods out and
# an unchanged tree reuses Docker's cache and skips `kind load` (kind skips an image a node has).
kind_tag() {
  # A deleted but still tracked file makes sha256sum fail: its absence is part of the hash.
  (cd "$REPO_ROOT" && { git ls-files -z -co --exclude-standard -- package.json package-lock.json tsconfig.base.json services operator \
    | LC_ALL=C sort -z | xargs -0 -r sha256sum 2>/dev/null || true; } | sha256sum | cut -c1-12)
}

# kind_images <tag>: docker build of the four images as backpressure-lab/<name>:<tag> (the chart's
# default repositories) on the Dockerfiles' default Node base, then `kind load docker-image` into
# every node of the cluster. Prints "<name>=<image>" per image on stdout (logs go to stderr).
# Behind a TLS-inspecting proxy, npm ci inside `docker build` needs that proxy's CA, which Docker
# cannot mount into a RUN step the way buildah does here; build on a NODE_IMAGE that trusts it.
kind_images() {
  local tag=${1:?usage: kind_images <tag>} name ref
  [[ "$tag" != latest ]] || die "kind_images: use a tag other than latest (latest would make Kubernetes pull)"
  kind_cluster
  mkdir -p "$KIND_LOG_DIR"
  for name in "${KIND_IMAGES[@]}"; do
    ref="backpressure-lab/$name:$tag"
    log "docker build $ref (log: $KIND_LOG_DIR/docker-$name.log)"
    (cd "$REPO_ROOT" && docker build --build-arg "NODE_IMAGE=$KIND_NODE_IMAGE" -t "$ref" -f "${KIND_DOCKERFILE[$name]}" .) \
      >"$KIND_LOG_DIR/docker-$name.log" 2>&1 || die "docker build of $ref failed: see $KIND_LOG_DIR/docker-$name.log"
    log "kind load docker-image $ref"
    kind load docker-image --name "$KIND_CLUSTER" "$ref" >>"$KIND_LOG_DIR/docker-$name.log" 2>&1 \
      || die "kind load of $ref failed: see $KIND_LOG_DIR/docker-$name.log"
    echo "$name=$ref"
  done
}

# kind_strimzi_chart / kind_strimzi_version: the '# chart' and '# version' lines of
# k8s/strimzi/values.yaml's header.
kind_strimzi_chart() { sed -n 's/^#[[:space:]]*chart[[:space:]]\{1,\}\(oci:[^[:space:]]*\).*/\1/p' "$KIND_STRIMZI_VALUES"; }
kind_strimzi_version() { sed -n 's/^#[[:space:]]*version[[:space:]]\{1,\}\([0-9][^[:space:]]*\).*/\1/p' "$KIND_STRIMZI_VALUES"; }

# kind_repo_chart <release> <values file>: installs the chart that the values file's header pins
# ('#   chart   <repository URL> <chart>' and '#   version <version>') as <release> in namespace
# monitoring, waiting for it. Logs to $KIND_LOG_DIR/helm-<release>.log.
kind_repo_chart() {
  local release=$1 values=$2 repo chart version
  read -r repo chart < <(sed -n 's/^#[[:space:]]*chart[[:space:]]\{1,\}\(https:[^[:space:]]*\)[[:space:]]\{1,\}\([^[:space:]]*\).*/\1 \2/p' "$values")
  version=$(sed -n 's/^#[[:space:]]*version[[:space:]]\{1,\}\([0-9][^[:space:]]*\).*/\1/p' "$values")
  [[ -n "$repo" && -n "$chart" && -n "$version" ]] || die "no '# chart <repository> <chart>' and '# version' lines in $values"
  log "$release: helm upgrade --install $release $chart --repo $repo --version $version (namespace $KIND_MON_NS; log: $KIND_LOG_DIR/helm-$release.log)"
  kind_helm --kube-context "$KIND_CONTEXT" upgrade --install "$release" "$chart" --repo "$repo" --version "$version" \
    --namespace "$KIND_MON_NS" --create-namespace -f "$values" --wait --timeout 10m \
    >"$KIND_LOG_DIR/helm-$release.log" 2>&1 || die "installing $release failed: see $KIND_LOG_DIR/helm-$release.log"
}

# kind_monitoring: kube-prometheus-stack (Prometheus, Grafana, prometheus-operator and its CRDs),
# kafbat's Kafka UI and Jaeger v2, in namespace monitoring. Before the lab's chart, whose
# ServiceMonitors and PrometheusRule need prometheus-operator's CRDs.
kind_monitoring() {
  kind_repo_chart kube-prometheus-stack "$KIND_KPS_VALUES"
  kind_repo_chart kafka-ui "$KIND_KAFKA_UI_VALUES"
  log "Jaeger v2: kubectl apply -f k8s/jaeger/jaeger.yaml (namespace $KIND_MON_NS)"
  kind_kubectl --context "$KIND_CONTEXT" apply -f "$KIND_JAEGER" >/dev/null || die "applying k8s/jaeger/jaeger.yaml failed"
}

# kind_namespace: the lab's namespace, labelled to enforce the restricted Pod Security level, before
# Strimzi's chart (which puts RoleBindings there) and ours. Uses the caller's ensure_namespace when
# there is one (hack/deploy/up.sh: it also waits out a namespace still being deleted).
kind_namespace() {
  if declare -F ensure_namespace >/dev/null; then ensure_namespace; return; fi
  kind_kubectl --context "$KIND_CONTEXT" get namespace "$LAB_NS" >/dev/null 2>&1 \
    || kind_kubectl --context "$KIND_CONTEXT" create namespace "$LAB_NS" >/dev/null
  kind_kubectl --context "$KIND_CONTEXT" label namespace "$LAB_NS" --overwrite \
    pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/enforce-version=latest \
    pod-security.kubernetes.io/warn=restricted pod-security.kubernetes.io/audit=restricted >/dev/null
  log "namespace $LAB_NS enforces the restricted Pod Security level"
}

# kind_up <tag> [helm upgrade args...]: the cluster (created from kind-config.yaml if `kind get
# clusters` lacks it), the lab's namespace, Strimzi's cluster operator (chart and version from
# k8s/strimzi/values.yaml, into namespace strimzi, watching the lab's namespace), waited for until
# its Deployment is Ready, then the lab's chart with kafka.provider=strimzi and the four images at
# backpressure-lab/<name>:<tag> (kind_images loaded them). More helm arguments (--set ...) follow
# ours. Does not wait for the lab's pods.
kind_up() {
  local tag=${1:?usage: kind_up <tag> [helm upgrade args...]} chart version name key
  shift
  kind_cluster
  mkdir -p "$KIND_LOG_DIR"
  kind_namespace

  chart=$(kind_strimzi_chart) version=$(kind_strimzi_version)
  [[ -n "$chart" && -n "$version" ]] || die "no '# chart' and '# version' lines in $KIND_STRIMZI_VALUES"
  log "Strimzi's operator: helm upgrade --install strimzi $chart --version $version (namespace $KIND_STRIMZI_NS; log: $KIND_LOG_DIR/helm-strimzi.log)"
  kind_helm --kube-context "$KIND_CONTEXT" upgrade --install strimzi "$chart" --version "$version" \
    --namespace "$KIND_STRIMZI_NS" --create-namespace -f "$KIND_STRIMZI_VALUES" --wait --timeout 5m \
    >"$KIND_LOG_DIR/helm-strimzi.log" 2>&1 || die "installing Strimzi's operator failed: see $KIND_LOG_DIR/helm-strimzi.log"
  kind_kubectl --context "$KIND_CONTEXT" -n "$KIND_STRIMZI_NS" rollout status deployment/strimzi-cluster-operator --timeout=300s >/dev/null \
    || die "Strimzi's operator is not Ready: kubectl --context $KIND_CONTEXT -n $KIND_STRIMZI_NS describe deployment strimzi-cluster-operator"
  log "Strimzi's operator is Ready"
  kind_monitoring

  local sets=(--set kafka.provider=strimzi)
  for name in "${KIND_IMAGES[@]}"; do
    key=${KIND_VALUES_KEY[$name]}
    # --set-string: a hex tag of digits only would otherwise become a number.
    sets+=(--set "$key.image.repository=backpressure-lab/$name" --set-string "$key.image.tag=$tag")
  done
  log "helm upgrade --install $LAB_RELEASE (kafka.provider=strimzi, images backpressure-lab/*:$tag${*:+, $*}; log: $KIND_LOG_DIR/helm.log)"
  kind_helm --kube-context "$KIND_CONTEXT" upgrade --install "$LAB_RELEASE" "$KIND_LAB_CHART" --namespace "$LAB_NS" \
    "${sets[@]}" "$@" >"$KIND_LOG_DIR/helm.log" 2>&1 || die "helm upgrade of $LAB_RELEASE failed: see $KIND_LOG_DIR/helm.log"
}
