#!/usr/bin/env bash
# Builds skaffold (SKAFFOLD_VERSION, from the Go module proxy) into the cache once and prints its
# path.
# `go install github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold@v…` is refused because
# skaffold's go.mod has replace directives (and an exclude), so, as hack/testenv/build.sh does for
# k8s.io/kubernetes, we make a throwaway module that requires skaffold and copies those lines from
# the go.mod of the version we build. Cold build: about 10 minutes on 2 cores; cached after.
#
# Version: skaffold.yaml says `apiVersion: skaffold/v4beta14`, which skaffold reads from v2.19.0 on
# (v2.16.x-v2.18.x stop at v4beta13 and refuse the file). v2.24.0 is the newest release in
# skaffold's repository as of 2026-11-28 and the Go module proxy serves it; it needs Go 1.26.4 or
# newer (its go.mod's go line). The proxy refuses the version list and some versions (403 "This
# module version is not available": v2.17.0-v2.17.2, v2.18.0, v2.18.1 on 2026-11-28), so name an
# exact one.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/cluster/env.sh"

SKAFFOLD_VERSION="${SKAFFOLD_VERSION:-v2.24.0}"
SKAFFOLD_MODULE=github.com/GoogleContainerTools/skaffold/v2
SKAFFOLD_BIN="$TOOLS_BIN/skaffold-$SKAFFOLD_VERSION"
SRC="$CACHE_DIR/cluster/skaffold/$SKAFFOLD_VERSION/src"

command -v go >/dev/null || die "go not found: install Go 1.26.4 or newer (skaffold v2.24.0's go.mod asks for it)"

built() { [[ -x "$SKAFFOLD_BIN" ]]; }

if ! built; then
  mkdir -p "$TOOLS_BIN" "$SRC"
  # One build at a time: parallel test files may ask at once.
  exec 9>"$TOOLS_BIN/.skaffold.lock"
  flock 9
  if ! built; then
    cd "$SRC" || die "cannot enter $SRC"
    if [[ ! -f go.mod ]]; then
      log "preparing a module for $SKAFFOLD_MODULE $SKAFFOLD_VERSION"
      gomod=$(go mod download -json "$SKAFFOLD_MODULE@$SKAFFOLD_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
      [[ -n "$gomod" && -f "$gomod" ]] || die "the Go module proxy does not serve $SKAFFOLD_MODULE@$SKAFFOLD_VERSION (name an exact version it serves: SKAFFOLD_VERSION=v2.24.0)"
      {
        echo "module bplab/skaffold"
        echo "go $(sed -n 's/^go \(.*\)/\1/p' "$gomod")"
        echo "require $SKAFFOLD_MODULE $SKAFFOLD_VERSION"
        # Its replace and exclude directives, single-line or in blocks: they only take effect in
        # the main module, and without them the build picks versions skaffold does not compile with.
        awk '/^(replace|exclude) *\($/ {blk=1; print; next} blk && /^\)/ {blk=0; print; next}
             blk || /^(replace|exclude) / {sub(/[ \t]*\/\/.*/, ""); print}' "$gomod"
      } >go.mod.tmp && mv go.mod.tmp go.mod
      cat >tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold"
GO
      # Versioned, or `go get` would move skaffold to the newest release.
      GOFLAGS=-mod=mod go get "$SKAFFOLD_MODULE/cmd/skaffold@$SKAFFOLD_VERSION" \
        || { rm -f go.mod; die "resolving skaffold $SKAFFOLD_VERSION's dependencies failed"; }
    fi
    log "building skaffold $SKAFFOLD_VERSION (about 10 minutes the first time on 2 cores; cached after)"
    t0=$SECONDS
    # The ldflags and tags of skaffold's Makefile for Linux, without cgo (nothing here needs it)
    # and without the `release` tag (it only embeds the license credits).
    # The commit is the release tag's, as the Go module proxy records it (`skaffold diagnose`
    # prints it as the version).
    vpkg="$SKAFFOLD_MODULE/pkg/skaffold/version"
    commit=$(go mod download -json "$SKAFFOLD_MODULE@$SKAFFOLD_VERSION" | sed -n 's/.*"Hash": "\([0-9a-f]*\)".*/\1/p' | head -1)
    ldflags="-s -w -X $vpkg.version=$SKAFFOLD_VERSION -X $vpkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ) -X $vpkg.gitCommit=${commit:-unknown}"
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -tags "timetzdata osusergo netgo" -ldflags "$ldflags" \
      -o "$SKAFFOLD_BIN.tmp" "$SKAFFOLD_MODULE/cmd/skaffold" \
      || { rm -f "$SKAFFOLD_BIN.tmp"; die "building skaffold $SKAFFOLD_VERSION failed"; }
    mv "$SKAFFOLD_BIN.tmp" "$SKAFFOLD_BIN"
    log "  skaffold $SKAFFOLD_VERSION built in $((SECONDS - t0)) s"
  fi
fi
echo "$SKAFFOLD_BIN"
