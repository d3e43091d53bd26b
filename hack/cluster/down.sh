#!/usr/bin/env bash
# Stops the one-node cluster and leaves the machine as up.sh found it: no process, no mount, no
# bridge or veth, no KUBE-/CNI- iptables chain, no node address on lo, the sysctls the kubelet
# and the CNI bridge change restored, the kubeconfig context removed (the previous one current
# again). Keeps the cache (etcd data, certificates, images), so the next up is warm; PURGE=1 also
# deletes the cluster's state (a fresh cluster next time; images stay). Safe to run twice.
# hack/cluster/down-check.sh lists anything left behind.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/cluster/env.sh"
[[ $(id -u) == 0 ]] || die "run as root (it undoes mounts, iptables rules and addresses)"
PIDS="$CLUSTER_STATE/pids" SAVED="$CLUSTER_STATE/machine.saved"
export PATH="$CLUSTER_BIN:$PATH"
T0=$SECONDS

# 0. KEDA (hack/keda/up.sh), if it runs: its APIService and objects while the apiserver answers
#    (a dangling aggregated API would break discovery on the next up), then its host processes.
if compgen -G "$CLUSTER_STATE/keda/pids/*.pid" >/dev/null; then bash "$REPO_ROOT/hack/keda/down.sh" || true; fi

# 1. The control loops first, so nothing recreates what we remove.
stop_pid_files 20 "$PIDS/kubelet.pid"
stop_pid_files 20 "$PIDS/kube-scheduler.pid" "$PIDS/kube-controller-manager.pid"

# 2. Every pod sandbox through the CRI: containerd stops the containers and runs the CNI DEL
#    (veth, netns, IP address), then unmounts their root filesystems.
if [[ -f "$PIDS/containerd.pid" ]] && pid_alive "$(cat "$PIDS/containerd.pid")" && [[ -S "$CONTAINERD_SOCK" ]]; then
  crictl_=(crictl --runtime-endpoint "unix://$CONTAINERD_SOCK" --image-endpoint "unix://$CONTAINERD_SOCK" --timeout 30s)
  n=$("${crictl_[@]}" pods -q 2>/dev/null | wc -l)
  if (( n )); then
    log "removing $n pod sandbox(es) through containerd"
    "${crictl_[@]}" rmp -af >/dev/null 2>&1 || log "crictl rmp reported errors; cleaning up by hand below"
  fi
fi
stop_pid_files 20 "$PIDS/containerd.pid"

# 3. Shims of our containerd that outlived it (a container it could not stop): by pid, found by
#    their -address argument, together with the processes in their containers.
shim_pids() {
  local p cmd
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    [[ "$cmd" == *"-address $CONTAINERD_SOCK "* ]] && echo "${p#/proc/}"
  done
  return 0
}
pod_pids() { # processes in the kubelet's pod cgroups
  grep -l ':/kubepods' /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3
  return 0
}
leftover=$( { shim_pids; pod_pids; } | sort -u | tr "\n" " ")
if [[ -n "${leftover// }" ]]; then
  log "killing leftover shim/container processes: $leftover"
  # shellcheck disable=SC2086
  kill -KILL $leftover 2>/dev/null || true
  sleep 1
fi

# 4. The rest of the control plane, and kube-proxy's own cleanup of its rules.
stop_pid_files 20 "$PIDS/kube-proxy.pid"
stop_pid_files 20 "$PIDS/kube-apiserver.pid"
stop_pid_files 20 "$PIDS/etcd.pid"
if [[ -x "$CLUSTER_BIN/kube-proxy" ]]; then
  "$CLUSTER_BIN/kube-proxy" --cleanup >"$CLUSTER_STATE/kube-proxy-cleanup.log" 2>&1 || true
fi

# 5. iptables: every KUBE-* and CNI-* chain (kube-proxy's, the kubelet's, portmap's) in every
#    table, IPv4 and IPv6, and the rules in built-in chains that jump to them.
clean_chains() {
  local ipt=$1 table rule chain
  for table in filter nat mangle raw; do
    "$ipt" -t "$table" -S >/dev/null 2>&1 || continue
    while IFS= read -r rule; do
      # shellcheck disable=SC2086
      eval "$ipt -t $table ${rule/-A /-D }" 2>/dev/null || true
    done < <("$ipt" -t "$table" -S | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE|CNI)-')
    for chain in $("$ipt" -t "$table" -S | sed -n 's/^-N \(\(KUBE\|CNI\)-[^ ]*\)$/\1/p'); do
      "$ipt" -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $("$ipt" -t "$table" -S | sed -n 's/^-N \(\(KUBE\|CNI\)-[^ ]*\)$/\1/p'); do
      "$ipt" -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
}
clean_chains iptables
clean_chains ip6tables
if command -v nft >/dev/null; then
  for fam in ip ip6; do nft list table "$fam" kube-proxy >/dev/null 2>&1 && nft delete table "$fam" kube-proxy; done
  # Tables iptables-nft created for us (none of them before up), if nothing is left in them.
  if [[ -f "$SAVED" ]]; then
    while read -r _ fam name; do
      grep -qx "nft $fam $name" "$SAVED" && continue
      [[ "$(nft -j list table "$fam" "$name" 2>/dev/null)" == *'"rule"'* ]] && continue
      nft delete table "$fam" "$name" 2>/dev/null || true
    done < <(nft list tables 2>/dev/null)
  fi
fi

# 6. Interfaces: the bridge and any veth left on it.
for veth in $(ip -o link show master "$CNI_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
  ip link delete "$veth" 2>/dev/null || true
done
if ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then log "removing bridge $CNI_BRIDGE"; ip link delete "$CNI_BRIDGE"; fi

# 7. Mounts under our directories (deepest first), then the network namespaces' files.
our_mounts() {
  awk '{print $5}' /proc/self/mountinfo | sed 's/\\040/ /g' \
    | grep -E "^($CACHE_DIR/cluster|$CLUSTER_RUN|/run/netns/cni-|/run/containerd|$IMAGES_DIR)" | sort -r
  return 0
}
for _ in 1 2 3; do
  mounts=$(our_mounts)
  [[ -z "$mounts" ]] && break
  log "unmounting $(wc -l <<<"$mounts") leftover mount(s)"
  while IFS= read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done <<<"$mounts"
done
rm -f /run/netns/cni-* 2>/dev/null || true
rm -rf "$CLUSTER_RUN"

# 8. The node address, the sysctls, the paths that did not exist before up.
# Captured first: with pipefail, `ip ... | grep -q` fails at random (SIGPIPE when grep exits early).
lo_addrs=$(ip -o addr show dev lo)
if [[ "$lo_addrs" == *" inet $NODE_IP/32 "* ]]; then
  log "removing node address $NODE_IP/32 from lo"; ip addr del "$NODE_IP/32" dev lo
fi
# cgroups the kubelet made (cgroupfs driver, cgroup v1): empty now, removed deepest first.
for ctl in /sys/fs/cgroup/*/kubepods; do
  if [[ -d "$ctl" ]]; then find "$ctl" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
done
if [[ -f "$SAVED" ]]; then
  restored=()
  while read -r kind name value; do
    case "$kind" in
      sysctl)
        cur=$(sysctl -n "$name" 2>/dev/null | tr '\t' ' ') || continue
        if [[ "$cur" != "$value" ]]; then sysctl -qw "$name=$value" && restored+=("$name=$value"); fi ;;
      created)
        case "$name" in
          /run/netns|"$(dirname "$USER_KUBECONFIG")") rmdir "$name" 2>/dev/null || true ;;
          "$USER_KUBECONFIG") ;;   # below, once the context is gone
          *) rm -rf "$name" ;;
        esac ;;
    esac
  done <"$SAVED"
  (( ${#restored[@]} )) && log "restored sysctls: ${restored[*]}"
fi

# 9. The kubeconfig context, as kind does on delete; the previous context becomes current again.
if [[ -f "$USER_KUBECONFIG" ]]; then
  ukc=(kubectl --kubeconfig "$USER_KUBECONFIG" config)
  current=$("${ukc[@]}" current-context 2>/dev/null || true)
  contexts=$("${ukc[@]}" get-contexts -o name 2>/dev/null || true)
  if grep -qx "$KUBE_CONTEXT" <<<"$contexts"; then
    log "removing context $KUBE_CONTEXT from $USER_KUBECONFIG"
    "${ukc[@]}" delete-context "$KUBE_CONTEXT" >/dev/null 2>&1 || true
  fi
  "${ukc[@]}" delete-cluster "$KUBE_CONTEXT" >/dev/null 2>&1 || true
  "${ukc[@]}" delete-user "$KUBE_CONTEXT" >/dev/null 2>&1 || true
  if [[ "$current" == "$KUBE_CONTEXT" ]]; then
    previous=$(sed -n 's/^context //p' "$SAVED" 2>/dev/null || true)
    if [[ -n "$previous" ]] && grep -qx "$previous" <<<"$contexts"; then
      "${ukc[@]}" use-context "$previous" >/dev/null; log "current context is $previous again"
    else
      "${ukc[@]}" unset current-context >/dev/null
    fi
  fi
  if grep -qx "created $USER_KUBECONFIG" "$SAVED" 2>/dev/null && [[ -z "$("${ukc[@]}" get-contexts -o name 2>/dev/null)" ]]; then
    rm -f "$USER_KUBECONFIG"
    # A ~/.kube we created holds nothing but kubectl's caches now.
    if grep -qx "created $(dirname "$USER_KUBECONFIG")" "$SAVED"; then
      rm -rf "$(dirname "$USER_KUBECONFIG")"/{cache,http-cache}; rmdir "$(dirname "$USER_KUBECONFIG")" 2>/dev/null || true
    fi
  fi
fi
[[ -f "$SAVED" ]] && mv "$SAVED" "$CLUSTER_STATE/machine.restored"

if [[ "${PURGE:-0}" == 1 ]]; then
  log "PURGE=1: deleting the cluster's state in $CLUSTER_STATE (etcd, certificates, kubelet dir)"
  [[ -z "$(our_mounts)" ]] || die "mounts remain under $CACHE_DIR/cluster: not deleting"
  rm -rf --one-file-system "$CLUSTER_STATE"
fi
kept="state kept in $CLUSTER_STATE"; [[ "${PURGE:-0}" == 1 ]] && kept="state deleted, images kept"
log "stopped in $((SECONDS - T0)) s; $kept. Check: hack/cluster/down-check.sh"
