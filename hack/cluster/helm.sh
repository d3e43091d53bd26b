#!/usr/bin/env bash
# Builds helm (HELM_VERSION, from the Go module proxy) into the cache once and prints its path.
# The same binary as hack/cluster/build.sh's ($HELM_BIN), with the ldflags of helm's own Makefile:
# without the Kubernetes version flags, `helm template` and `helm lint` assume Kubernetes v1.20
# and refuse any chart whose kubeVersion asks for more. A binary built without them is rebuilt.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/cluster/env.sh"

command -v go >/dev/null || die "go not found: install Go 1.24 or newer"

# helm's Makefile derives the default Kubernetes version from the client-go it builds with:
# client-go v0.Y.Z -> Kubernetes 1.Y. v3.22.0 builds with client-go v0.37.0.
K8S_FOR_HELM_MINOR="${K8S_FOR_HELM_MINOR:-37}"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$K8S_FOR_HELM_MINOR"
done

built_right() { [[ -x "$HELM_BIN" ]] && go version -m "$HELM_BIN" 2>/dev/null | grep -q "chartutil.k8sVersionMinor=$K8S_FOR_HELM_MINOR"; }

if ! built_right; then
  mkdir -p "$TOOLS_BIN"
  # One build at a time: parallel test files or build.sh may ask at once.
  exec 9>"$TOOLS_BIN/.helm.lock"
  flock 9
  if ! built_right; then
    log "building helm $HELM_VERSION (about a minute the first time; cached after)"
    tmp=$(mktemp -d "$TOOLS_BIN/.gobin.XXXXXX")
    CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS=-mod=mod go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
      || { rm -rf "$tmp"; die "building helm $HELM_VERSION failed"; }
    mv "$tmp/helm" "$HELM_BIN" && rm -rf "$tmp"
  fi
fi
echo "$HELM_BIN"
