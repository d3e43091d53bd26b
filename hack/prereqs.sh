#!/usr/bin/env bash
# Checks the tools a make target needs and, as root on Debian or Ubuntu, installs what is missing
# with apt, saying what and why. Elsewhere it stops with the exact command to run.
#   hack/prereqs.sh demo|test|bench|cluster
source "$(dirname "$0")/lib/common.sh"

target="${1:?usage: prereqs.sh demo|test|bench|cluster}"

# tool | Debian package | why | check (succeeds when the tool is there and new enough)
java_ok() { local v; v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1); [[ -n "$v" ]] && (( v >= 17 )); }
go_ok() { local v; v=$(go env GOVERSION 2>/dev/null) && [[ "$(printf '%s\n' go1.26.4 "$v" | sort -V | head -1)" == go1.26.4 ]]; }
has() { command -v "$1" >/dev/null 2>&1; }
chromium_ok() { [[ -x /usr/bin/chromium ]]; }

declare -a need=()
want() { need+=("$1"); }
want "java|openjdk-17-jdk-headless|Java 17 or newer runs the local Kafka broker and its CLI tools|java_ok"
want "mvn|maven|Maven resolves Apache Kafka from Maven Central|has mvn"
want "curl|curl|the scripts' health checks and the exercises|has curl"
want "jq|jq|the exercises' output and the scripts' JSON|has jq"
if [[ "$target" == test ]]; then
  want "go|-|Go 1.26.4 or newer builds etcd, the Kubernetes binaries and skaffold for the tests|go_ok"
  want "chromium|chromium|the live chart's browser test (/usr/bin/chromium)|chromium_ok"
  want "tmux|tmux|the test that closes make demo's terminal|has tmux"
  want "shellcheck|shellcheck|the tests lint the kind path's scripts (hack/deploy/kind.sh) with it|has shellcheck"
fi
if [[ "$target" == cluster ]]; then
  cni_ok() { [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/portmap && -x /usr/lib/cni/loopback ]]; }
  static_libc_ok() { [[ -n "$(gcc -print-file-name=libc.a 2>/dev/null | grep /)" && -f "$(gcc -print-file-name=libc.a)" ]]; }
  want "go|-|Go 1.26.4 or newer builds the kubelet, kube-proxy, kube-scheduler, CoreDNS, helm and skaffold|go_ok"
  want "containerd|containerd|the node's container runtime (CRI)|has containerd"
  want "runc|runc|runs the pods' containers for containerd|has runc"
  want "cni-plugins|containernetworking-plugins|pod networking: bridge, host-local, portmap, loopback in /usr/lib/cni|cni_ok"
  want "conntrack|conntrack|kube-proxy flushes stale connections with it|has conntrack"
  want "iptables|iptables|kube-proxy's Services and the CNI bridge's rules|has iptables"
  want "buildah|buildah|builds the lab's Dockerfiles without Docker|has buildah"
  want "umoci|umoci|assembles the base images from this machine's files|has umoci"
  want "skopeo|skopeo|moves images between OCI layouts, archives and buildah's storage|has skopeo"
  want "openssl|openssl|the cluster's certificates|has openssl"
  want "gcc|gcc|compiles the pause binary (the pods' sandbox)|has gcc"
  want "libc.a|libc6-dev|a static libc for the pause binary|static_libc_ok"
  want "jlink|openjdk-17-jdk-headless|a small JRE for the Kafka image|has jlink"
fi

node_major=$(node -p 'process.versions.node.split(".").map(Number).reduce((a, b, i) => (i < 2 ? a * 1000 + b : a), 0)')
(( node_major >= 20006 )) || die "Node.js 20.6 or newer is needed, found $(node --version)"

missing_tools=() missing_pkgs=() manual=()
for entry in "${need[@]}"; do
  IFS='|' read -r tool pkg why check <<<"$entry"
  eval "$check" && continue
  if [[ "$pkg" == - ]]; then manual+=("$tool: $why"); continue; fi
  missing_tools+=("$tool") missing_pkgs+=("$pkg")
  log "missing $tool: $why"
done


go_missing() {
  (( ${#manual[@]} )) || return 0
  for m in "${manual[@]}"; do log "missing $m"; done
  die "install Go 1.26.4 or newer (Debian 12's golang-go is 1.19, too old: use the official Go release) and make sure 'go' is on PATH"
}
(( ${#missing_pkgs[@]} )) || { go_missing; exit 0; }

install_cmd="apt-get install -y ${missing_pkgs[*]}"
if [[ $(id -u) == 0 ]] && has apt-get && grep -qiE '^ID(_LIKE)?=.*(debian|ubuntu)' /etc/os-release 2>/dev/null; then
  log "installing ${missing_pkgs[*]} with apt (once; later runs find them)"
  apt_log="$CACHE_DIR/prereqs-apt.log"
  { apt-get update && DEBIAN_FRONTEND=noninteractive $install_cmd; } >"$apt_log" 2>&1 \
    || die "could not install ${missing_pkgs[*]} (apt's output: $apt_log); try: sudo apt-get update && sudo $install_cmd"
  for entry in "${need[@]}"; do
    IFS='|' read -r tool _ _ check <<<"$entry"
    [[ " ${missing_tools[*]} " == *" $tool "* ]] || continue
    eval "$check" || die "$tool is still missing after installing; install it by hand"
  done
  log "installed ${missing_tools[*]}"
  go_missing
else
  die "missing ${missing_tools[*]}. On Debian or Ubuntu: sudo $install_cmd (elsewhere, your package manager's ${missing_tools[*]})"
fi
