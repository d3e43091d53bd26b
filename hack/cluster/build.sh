#!/usr/bin/env bash
# Builds what the one-node cluster runs beyond hack/testenv's binaries, into the cache:
#   kubelet, kube-scheduler, kube-proxy  in the testenv's k8s.io/kubernetes module (same version,
#                                        same ldflags; its compiled packages are reused)
#   coredns, crictl                      go install from the Go module proxy (no replace directives)
#   helm                                 the same, through hack/cluster/helm.sh (its ldflags)
#   prometheus, promtool                 go install (Prometheus 3 has no replace directives)
#   prometheus-operator, its config      through a throwaway module: their go.mod replaces its own
#   reloader, jaeger                     pkg/ modules (or sarama) with local paths, so go install is
#                                        refused; the module requires them at the same version
#   pause                                build/pause/linux/pause.c from the k8s.io/kubernetes module,
#                                        compiled statically with gcc
# Each output is checked first, so a second run does nothing. Prints the bin dir.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/cluster/env.sh"

command -v go >/dev/null || die "go not found: install Go 1.24 or newer"
mkdir -p "$CLUSTER_BIN" "$TOOLS_BIN"

timed() { # timed <what> <command...>: runs it and logs how long it took
  local what=$1 t0=$SECONDS; shift
  "$@" || die "building $what failed"
  log "built $what in $((SECONDS - t0)) s"
}

# etcd, kube-apiserver, kube-controller-manager, kubectl and the module they are built in.
[[ -x "$TESTENV_BIN/kubectl" && -x "$TESTENV_BIN/etcd" && -x "$TESTENV_BIN/kube-apiserver" && -x "$TESTENV_BIN/kube-controller-manager" ]] \
  || K8S_VERSION="$K8S_VERSION" bash "$REPO_ROOT/hack/testenv/build.sh" >/dev/null
K8S_MODULE="$CACHE_DIR/testenv/$K8S_VERSION/src/k8s"
[[ -f "$K8S_MODULE/go.mod" ]] || die "$K8S_MODULE/go.mod is missing: run hack/testenv/build.sh"

major=1 minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
k8s_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"

build_k8s_cmd() {
  local cmd=$1
  # -mod=mod adds the requirements these commands need beyond the testenv's to the shared go.mod;
  # k8s.io/kubernetes pins every version, so the testenv's own builds stay the same.
  (cd "$K8S_MODULE" && flock "$K8S_MODULE/.build.lock" env CGO_ENABLED=0 GOFLAGS=-mod=mod \
    go build -ldflags "$k8s_ldflags" -o "$CLUSTER_BIN/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd") || return 1
  mv "$CLUSTER_BIN/$cmd.tmp" "$CLUSTER_BIN/$cmd"
}
for cmd in kube-scheduler kube-proxy kubelet; do
  [[ -x "$CLUSTER_BIN/$cmd" ]] && continue
  hint=""; [[ $cmd == kubelet ]] && hint=" (up to 7 min on 2 cores when Go's build cache is cold)"
  log "building $cmd $K8S_VERSION$hint"
  timed "$cmd" build_k8s_cmd "$cmd"
done

# go_install <output> <package@version> <ldflags> [go flags...]: a static binary from the Go module
# proxy.
go_install() {
  local out=$1 pkg=$2 ldflags=$3 tmp
  shift 3
  tmp=$(mktemp -d "$TOOLS_BIN/.gobin.XXXXXX")
  CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS=-mod=mod go install -ldflags "$ldflags" "$@" "$pkg" || { rm -rf "$tmp"; return 1; }
  mv "$tmp"/* "$out" && rm -rf "$tmp"
}
if [[ ! -x "$COREDNS_BIN" ]]; then
  log "building coredns $COREDNS_VERSION"
  timed coredns go_install "$COREDNS_BIN" "github.com/coredns/coredns@$COREDNS_VERSION" \
    "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION"
fi
# helm: hack/cluster/helm.sh builds it with the Kubernetes version ldflags helm's Makefile sets
# (without them, helm template/lint assume Kubernetes v1.20); it does nothing when cached.
bash "$REPO_ROOT/hack/cluster/helm.sh" >/dev/null || die "building helm failed"
if [[ ! -x "$CRICTL_BIN" ]]; then
  log "building crictl $CRICTL_VERSION"
  timed crictl go_install "$CRICTL_BIN" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION" \
    "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION"
fi

# Prometheus 3 and promtool; the web UI's assets are not in the module, so its UI is a stub page
# (the API, which the tests and the dashboards use, is complete). Only Kubernetes service discovery
# (what prometheus-operator configures) is compiled in, through Prometheus' own build tags: the
# cloud providers' SDKs would double a cold build.
PROM_TAGS="remove_all_sd,enable_kubernetes_sd"
prom_ldflags="-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_RELEASE -X github.com/prometheus/common/version.Branch=HEAD -X github.com/prometheus/common/version.BuildUser=backpressure-lab"
declare -A prom_out=([prometheus]=$PROMETHEUS_BIN [promtool]=$PROMTOOL_BIN)
for cmd in prometheus promtool; do
  out=${prom_out[$cmd]}
  [[ -x "$out" ]] && continue
  log "building $cmd $PROMETHEUS_RELEASE (about 4 min on 2 cores when Go's build cache is cold)"
  timed "$cmd" go_install "$out" "github.com/prometheus/prometheus/cmd/$cmd@$PROMETHEUS_VERSION" "$prom_ldflags" "-tags=$PROM_TAGS"
done

# module_build <dir> <module@version> <go.mod extra lines> <out:package>...: a throwaway module that
# requires <module> (and what the extra lines add), then builds each package into its output.
module_build() {
  local dir=$1 mod=$2 extra=$3 pair out pkg; shift 3
  mkdir -p "$dir"
  if [[ ! -f "$dir/go.sum" ]]; then
    printf 'module bplab/build\ngo 1.26.0\nrequire %s\n%s\n' "${mod/@/ }" "$extra" > "$dir/go.mod"
    { echo '//go:build tools'; echo; echo 'package tools'; echo; echo 'import ('
      for pair in "$@"; do echo "	_ \"${pair#*:}\""; done; echo ')'; } > "$dir/tools.go"
    (cd "$dir" && GOFLAGS=-mod=mod go mod tidy) || return 1
  fi
  for pair in "$@"; do
    out=${pair%%:*} pkg=${pair#*:}
    [[ -x "$out" ]] && continue
    (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "$MODULE_LDFLAGS" -o "$out.tmp" "$pkg") || return 1
    mv "$out.tmp" "$out"
  done
}
if [[ ! -x "$PROMETHEUS_OPERATOR_BIN" || ! -x "$CONFIG_RELOADER_BIN" ]]; then
  log "building prometheus-operator and prometheus-config-reloader $PROMETHEUS_OPERATOR_VERSION (about 4 min cold)"
  po=github.com/prometheus-operator/prometheus-operator
  MODULE_LDFLAGS="-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_OPERATOR_VERSION#v} -X github.com/prometheus/common/version.Branch=HEAD" \
    timed prometheus-operator module_build "$TOOLS_BIN/src/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION" "$po@$PROMETHEUS_OPERATOR_VERSION" \
      "require $po/pkg/apis/monitoring $PROMETHEUS_OPERATOR_VERSION
require $po/pkg/client $PROMETHEUS_OPERATOR_VERSION" \
      "$PROMETHEUS_OPERATOR_BIN:$po/cmd/operator" "$CONFIG_RELOADER_BIN:$po/cmd/prometheus-config-reloader"
fi
if [[ ! -x "$JAEGER_BIN" ]]; then
  log "building jaeger $JAEGER_RELEASE (module $JAEGER_VERSION; about 5 min cold)"
  jaeger_gomod=$(go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  MODULE_LDFLAGS="-s -w" timed jaeger module_build "$TOOLS_BIN/src/jaeger-$JAEGER_VERSION" "github.com/jaegertracing/jaeger@$JAEGER_VERSION" \
    "$(grep -E '^replace ' "$jaeger_gomod")" "$JAEGER_BIN:github.com/jaegertracing/jaeger/cmd/jaeger"
fi

if [[ ! -x "$CLUSTER_BIN/pause" ]]; then
  command -v gcc >/dev/null || die "gcc is needed for the pause binary: run hack/prereqs.sh cluster"
  src=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [[ -f "$src/build/pause/linux/pause.c" ]] || die "pause.c not found in $src"
  log "compiling pause $PAUSE_VERSION statically from $src/build/pause/linux/pause.c"
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-bplab" -o "$CLUSTER_BIN/pause.tmp" "$src/build/pause/linux/pause.c" \
    || die "gcc could not build pause (needs libc6-dev for a static libc)"
  strip "$CLUSTER_BIN/pause.tmp" 2>/dev/null || true
  mv "$CLUSTER_BIN/pause.tmp" "$CLUSTER_BIN/pause"
fi

# One directory to put on PATH: links to every binary the cluster scripts use.
for b in "$TESTENV_BIN"/{etcd,kube-apiserver,kube-controller-manager,kubectl}; do ln -sfn "$b" "$CLUSTER_BIN/"; done
ln -sfn "$COREDNS_BIN" "$CLUSTER_BIN/coredns"; ln -sfn "$HELM_BIN" "$CLUSTER_BIN/helm"; ln -sfn "$CRICTL_BIN" "$CLUSTER_BIN/crictl"
log "binaries in $CLUSTER_BIN"
echo "$CLUSTER_BIN"
