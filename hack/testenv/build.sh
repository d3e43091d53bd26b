#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and a kubectl of the same version from the Go
# module proxy into the cache.
# `go install k8s.io/kubernetes/...` is refused (its go.mod has replace directives), so we make a
# throwaway module that requires k8s.io/kubernetes and replaces every staging module it pins at
# v0.0.0 with the matching published v0.Y.Z. A cold build takes a while on 2 cores; it is cached.
source "$(dirname "$0")/../lib/common.sh"

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
BIN_DIR="$CACHE_DIR/testenv/$K8S_VERSION/bin"
WORK="$CACHE_DIR/testenv/$K8S_VERSION/src"
mkdir -p "$BIN_DIR" "$WORK/k8s" "$WORK/etcd"

staging_minor="v0.${K8S_VERSION#v1.}"   # v1.34.4 -> v0.34.4

build_k8s() {
  cd "$WORK/k8s"
  if [[ ! -f go.mod ]]; then
    log "preparing a module for k8s.io/kubernetes $K8S_VERSION"
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    {
      echo "module bplab/testenv"
      echo "go 1.24.0"
      echo "require k8s.io/kubernetes $K8S_VERSION"
      echo "replace ("
      grep -oE '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$gomod" | awk -v v="$staging_minor" '{print "\t" $1 " => " $1 " " v}'
      echo ")"
    } > go.mod
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    # Versioned, or `go get` would move k8s.io/kubernetes to the newest release.
    GOFLAGS=-mod=mod go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" "k8s.io/kubernetes/cmd/kube-controller-manager@$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION"
  fi
  local major=1 minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  for cmd in kube-apiserver kube-controller-manager kubectl; do
    if [[ ! -x "$BIN_DIR/$cmd" ]]; then
      log "building $cmd $K8S_VERSION (a few minutes the first time; cached after)"
      CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "$ldflags" -o "$BIN_DIR/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
      mv "$BIN_DIR/$cmd.tmp" "$BIN_DIR/$cmd"
    fi
  done
}

build_etcd() {
  [[ -x "$BIN_DIR/etcd" ]] && return
  log "building etcd $ETCD_VERSION"
  cd "$WORK/etcd"
  if [[ ! -f go.mod ]]; then
    cat > go.mod <<MOD
module bplab/etcd
go 1.24.0
MOD
    cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    GOFLAGS=-mod=mod go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  fi
  CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "-s -w" -o "$BIN_DIR/etcd.tmp" .
  mv "$BIN_DIR/etcd.tmp" "$BIN_DIR/etcd"
}

build_etcd
build_k8s
log "binaries in $BIN_DIR"
echo "$BIN_DIR"
