#!/usr/bin/env bash
# Lists what the one-node cluster left on the machine: processes, mounts, interfaces, iptables
# chains, the node address, cgroups, network namespaces, paths and sysctls. Run it by hand after
# `make cluster-down`: it prints "clean" and exits 0, or lists each leftover and exits 1.
# Processes of hack/testenv (same binaries, other state dir) are not the cluster's and not listed.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/cluster/env.sh"
found=0
report() { # report <what> <lines>
  [[ -n "${2//[[:space:]]/}" ]] || return 0
  found=1; printf '%s:\n' "$1"; sed 's/^/  /' <<<"$2"
}

procs=$(for p in /proc/[0-9]*; do
  cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
  if [[ "$cmd" == *"$CACHE_DIR/cluster"* || "$cmd" == *"$CLUSTER_RUN"* ]] || grep -q ':/kubepods' "$p/cgroup" 2>/dev/null; then
    [[ "${p#/proc/}" == "$$" || "${p#/proc/}" == "$BASHPID" ]] || printf '%s %s\n' "${p#/proc/}" "${cmd:0:160}"
  fi
done | grep -v "down-check.sh" || true)
report "processes" "$procs"

report "mounts" "$(awk '{print $5 " (" $9 ")"}' /proc/self/mountinfo | grep -E "^($CACHE_DIR/cluster|$CLUSTER_RUN|/run/netns|/run/containerd|$IMAGES_DIR)" || true)"
report "interfaces" "$(ip -o link show | awk -F': ' '{print $2}' | grep -E "^($CNI_BRIDGE|veth|cni)" || true)"
report "node address on lo" "$(ip -o addr show dev lo | grep -w "$NODE_IP" || true)"
for ipt in iptables ip6tables; do
  report "$ipt chains" "$(for t in filter nat mangle raw; do "$ipt" -t "$t" -S 2>/dev/null | grep -E '^-N (KUBE|CNI)-' | sed "s/^/$t: /"; done)"
  report "$ipt rules" "$(for t in filter nat mangle raw; do "$ipt" -t "$t" -S 2>/dev/null | grep -E '^-A .*(KUBE|CNI)-' | sed "s/^/$t: /"; done)"
done
command -v nft >/dev/null && report "nftables kube-proxy tables" "$(nft list tables 2>/dev/null | grep kube-proxy || true)"
report "cgroups" "$(ls -d /sys/fs/cgroup/*/kubepods 2>/dev/null || true)"
report "network namespaces" "$(ls /run/netns 2>/dev/null | sed 's|^|/run/netns/|' || true)"
report "paths" "$(ls -d /run/containerd /var/lib/cni /var/log/containers /var/log/pods /opt/containerd 2>/dev/null || true)"
report "kubeconfig" "$(kubectl --kubeconfig "$USER_KUBECONFIG" config get-contexts -o name 2>/dev/null | grep -x "$KUBE_CONTEXT" || true)"
# Sysctls against the snapshot up.sh took (moved aside by down.sh once restored).
snap="$CLUSTER_STATE/machine.restored"; [[ -f "$CLUSTER_STATE/machine.saved" ]] && snap="$CLUSTER_STATE/machine.saved"
if [[ -f "$snap" ]]; then
  command -v nft >/dev/null && report "nftables tables that were not there before up" \
    "$(nft list tables 2>/dev/null | while read -r _ fam name; do grep -qx "nft $fam $name" "$snap" || echo "$fam $name"; done)"
  report "sysctls (now vs before up)" "$(while read -r kind name value; do
    [[ "$kind" == sysctl ]] || continue
    cur=$(sysctl -n "$name" 2>/dev/null | tr '\t' ' ') || continue
    [[ "$cur" == "$value" ]] || echo "$name = $cur (was $value)"
  done <"$snap")"
fi

if (( found )); then echo "left behind (above)"; exit 1; fi
echo "clean: no process, mount, interface, iptables chain, address, cgroup, netns or sysctl change left"
