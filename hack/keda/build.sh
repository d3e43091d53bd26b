#!/usr/bin/env bash
# Builds KEDA's operator and metrics adapter (cmd/operator, cmd/adapter of the Go module
# github.com/kedacore/keda/v2 at KEDA_VERSION) into the cluster's tools dir, for hack/keda/up.sh.
# KEDA's go.mod has a replace and an exclude, so `go install` refuses it: a throwaway module
# requires it and copies both lines, then `go build`s the two commands with KEDA's Makefile ldflags.
# Runs under `nice -n 19` (a cold build takes about 10 min on 2 cores); progress is a line every
# 50 compiled packages, the whole go output in $KEDA_SRC/build.log. Second run: nothing.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/cluster/env.sh"
source "$REPO_ROOT/hack/keda/env.sh"

if [[ -x "$KEDA_OPERATOR_BIN" && -x "$KEDA_ADAPTER_BIN" ]]; then
  log "KEDA $KEDA_VERSION already built: $KEDA_OPERATOR_BIN, $KEDA_ADAPTER_BIN"
  exit 0
fi
command -v go >/dev/null || die "go not found: install Go 1.26 or newer (KEDA $KEDA_VERSION's go.mod says go 1.26.0)"
mkdir -p "$KEDA_SRC"
exec 8>"$KEDA_SRC/.build.lock"
flock 8   # two builds at once would share one module dir

t0=$SECONDS
if [[ ! -f "$KEDA_SRC/go.sum" ]]; then
  log "resolving $KEDA_MODULE@$KEDA_VERSION and its dependencies (downloads on a cold module cache)"
  gomod=$(go mod download -json "$KEDA_MODULE@$KEDA_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [[ -f "$gomod" ]] || die "go mod download $KEDA_MODULE@$KEDA_VERSION gave no go.mod"
  # KEDA's own replace and exclude lines (single-line form, as its go.mod has them).
  extra=$(grep -E '^(replace|exclude) ' "$gomod" || true)
  [[ -n "$extra" ]] || log "note: KEDA's go.mod has no single-line replace/exclude any more"
  printf 'module bplab/keda-build\n\ngo 1.26.0\n\nrequire %s %s\n\n%s\n' "$KEDA_MODULE" "$KEDA_VERSION" "$extra" > "$KEDA_SRC/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "%s/cmd/adapter"\n\t_ "%s/cmd/operator"\n)\n' "$KEDA_MODULE" "$KEDA_MODULE" > "$KEDA_SRC/tools.go"
  (cd "$KEDA_SRC" && GOFLAGS=-mod=mod nice -n 19 go mod tidy) || { rm -f "$KEDA_SRC/go.sum"; die "go mod tidy in $KEDA_SRC failed"; }
  log "module resolved in $((SECONDS - t0)) s"
fi

ldflags="-s -w -X=$KEDA_MODULE/version.GitCommit=$KEDA_VERSION -X=$KEDA_MODULE/version.Version=${KEDA_VERSION#v}"
# build <out> <package>: go build -v, counting the packages it compiles as progress.
build() {
  local out=$1 pkg=$2 t=$SECONDS n=0 line rc
  log "building $(basename "$out") ($pkg; about 10 min on 2 cores for the first, the second reuses most packages)"
  set +e
  (cd "$KEDA_SRC" && CGO_ENABLED=0 GOFLAGS=-mod=mod nice -n 19 go build -v -ldflags "$ldflags" -o "$out.tmp" "$pkg" 2>&1; echo "rc=$?") \
    | tee -a "$KEDA_SRC/build.log" | while IFS= read -r line; do
        n=$((n + 1))
        (( n % 50 == 0 )) && log "  $(basename "$out"): $n packages compiled, $((SECONDS - t)) s (now $line)"
      done
  rc=$(tail -1 "$KEDA_SRC/build.log"); set -e
  [[ $rc == rc=0 ]] || { tail -30 "$KEDA_SRC/build.log" >&2; rm -f "$out.tmp"; die "building $pkg failed (log: $KEDA_SRC/build.log)"; }
  mv "$out.tmp" "$out"
  log "built $(basename "$out") in $((SECONDS - t)) s"
}
: > "$KEDA_SRC/build.log"
[[ -x "$KEDA_OPERATOR_BIN" ]] || build "$KEDA_OPERATOR_BIN" "$KEDA_MODULE/cmd/operator"
[[ -x "$KEDA_ADAPTER_BIN" ]] || build "$KEDA_ADAPTER_BIN" "$KEDA_MODULE/cmd/adapter"
log "KEDA $KEDA_VERSION built in $((SECONDS - t0)) s: $KEDA_OPERATOR_BIN, $KEDA_ADAPTER_BIN"
