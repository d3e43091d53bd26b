#!/usr/bin/env bash
# Starts a real one-node Kubernetes cluster on this machine, without Docker and without pulling an
# image: containerd (its own config, root, state and socket), etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, the kubelet, kube-proxy (iptables), a CNI bridge, and
# CoreDNS in kube-system. Adds the context backpressure-lab-local to your kubeconfig and switches
# to it. Safe to run again: what runs is left alone, what is missing is started.
# Needs root (mounts, iptables, network namespaces). hack/cluster/down.sh undoes all of it.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/cluster/env.sh"
T0=$SECONDS

[[ $(id -u) == 0 ]] || die "the cluster needs root (containerd, iptables, mounts): run as root"
for tool in containerd runc ip iptables ip6tables conntrack openssl; do
  command -v "$tool" >/dev/null || die "$tool not found: run hack/prereqs.sh cluster"
done
[[ -x "$CNI_BIN_DIR/bridge" ]] || die "CNI plugins missing in $CNI_BIN_DIR: run hack/prereqs.sh cluster"
bash "$REPO_ROOT/hack/cluster/build.sh" >/dev/null
export PATH="$CLUSTER_BIN:$PATH"
# Its own discovery cache: kubectl would otherwise create ~/.kube/cache.
KUBECTL=(kubectl --kubeconfig "$ADMIN_KUBECONFIG" --cache-dir "$CLUSTER_STATE/kube-cache")

LOGS="$CLUSTER_STATE/logs" PIDS="$CLUSTER_STATE/pids"
mkdir -p "$CLUSTER_PKI" "$LOGS" "$PIDS" "$CLUSTER_RUN" "$KUBELET_ROOT" "$CNI_CONF_DIR" "$CNI_DATA_DIR" "$CONTAINERD_ROOT"

alive() { [[ -f "$PIDS/$1.pid" ]] && pid_alive "$(cat "$PIDS/$1.pid")"; }
# start <name> <command...>: in its own session (a Ctrl-C in the caller's terminal does not reach
# it), output appended to logs/<name>.log, pid in pids/<name>.pid.
start() {
  local name=$1; shift
  if alive "$name"; then log "$name already running (pid $(cat "$PIDS/$name.pid"))"; return; fi
  log "starting $name (log: $LOGS/$name.log)"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}
# write <file> [<component>] <<EOF: replaces the file only when its content changes (kube-proxy
# exits on any write to its config), and restarts the component that reads it when it did.
write() {
  local f=$1 component=${2:-} tmp
  tmp=$(mktemp "$f.XXXXXX"); cat >"$tmp"
  if cmp -s "$tmp" "$f"; then rm -f "$tmp"; return; fi
  mv "$tmp" "$f"
  if [[ -n "$component" ]] && alive "$component"; then
    log "$(basename "$f") changed: restarting $component"
    stop_pid_files 20 "$PIDS/$component.pid"
  fi
}
# healthy <url>: the component answers 200 on a health endpoint (self-signed serving certs).
healthy() { curl -skf --max-time 2 "$1" >/dev/null; }

# --- What the machine looks like before us, so that down.sh can put it back ------------------
# Saved once; a second up (or an up after a crash) keeps the first snapshot.
SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv4.conf.all.accept_redirects net.ipv4.conf.all.route_localnet
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait)
if [[ ! -f "$CLUSTER_STATE/machine.saved" ]]; then
  {
    for s in "${SYSCTLS[@]}"; do v=$(sysctl -n "$s" 2>/dev/null) && printf 'sysctl %s %s\n' "$s" "${v//$'\t'/ }"; done
    for p in /run/containerd /run/netns /run/mount /var/lib/cni /var/log/containers /var/log/pods /opt/containerd "$(dirname "$USER_KUBECONFIG")" "$USER_KUBECONFIG"; do
      [[ -e "$p" ]] || printf 'created %s\n' "$p"
    done
    # iptables-nft creates its tables (ip filter, ip nat, ...) on first use: down.sh removes the
    # ones that were not here, once they are empty again.
    if command -v nft >/dev/null; then nft list tables 2>/dev/null | awk '$1 == "table" {print "nft", $2, $3}'; fi
    ctx=$(kubectl --kubeconfig "$USER_KUBECONFIG" config current-context 2>/dev/null || true)
    [[ "$ctx" == "$KUBE_CONTEXT" ]] || printf 'context %s\n' "$ctx"
  } >"$CLUSTER_STATE/machine.saved.tmp"
  mv "$CLUSTER_STATE/machine.saved.tmp" "$CLUSTER_STATE/machine.saved"
  log "saved the machine's sysctls and paths in $CLUSTER_STATE/machine.saved (down.sh restores them)"
fi

# --- Node address ------------------------------------------------------------------------------
# (Output captured first: with pipefail, `ip ... | grep -q` fails at random when grep's early
# exit kills ip with SIGPIPE.)
lo_addrs=$(ip -o addr show dev lo)
if [[ "$lo_addrs" != *" inet $NODE_IP/32 "* ]]; then
  log "adding node address $NODE_IP/32 to lo"
  ip addr add "$NODE_IP/32" dev lo
fi
# bridge-nf: Service traffic between two pods on the bridge must pass iptables (kube-proxy's DNAT).
sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.ipv4.ip_forward=1 || die "could not set bridge/forwarding sysctls"

# --- Certificates ------------------------------------------------------------------------------
# sign <name> <subject> [extensions]: a key and a certificate signed by the cluster CA, once.
sign() {
  local name=$1 subj=$2 ext=${3:-"extendedKeyUsage=clientAuth"}
  [[ -f "$CLUSTER_PKI/$name.crt" ]] && return
  openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$CLUSTER_PKI/$name.key" -out "$CLUSTER_PKI/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" | tr ';' '\n' >"$CLUSTER_PKI/$name.ext"
  openssl x509 -req -in "$CLUSTER_PKI/$name.csr" -CA "$CLUSTER_PKI/ca.crt" -CAkey "$CLUSTER_PKI/ca.key" -CAcreateserial \
    -days 3650 -extfile "$CLUSTER_PKI/$name.ext" -out "$CLUSTER_PKI/$name.crt" 2>/dev/null
  rm -f "$CLUSTER_PKI/$name.csr"
}
if [[ ! -f "$CLUSTER_PKI/ca.crt" ]]; then
  log "making the cluster CA, service-account keys and certificates in $CLUSTER_PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=backpressure-lab-local-ca" \
    -keyout "$CLUSTER_PKI/ca.key" -out "$CLUSTER_PKI/ca.crt" 2>/dev/null
  openssl genrsa -out "$CLUSTER_PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$CLUSTER_PKI/sa.key" -pubout -out "$CLUSTER_PKI/sa.pub" 2>/dev/null
fi
sign apiserver "/CN=kube-apiserver" \
  "subjectAltName=IP:$NODE_IP,IP:127.0.0.1,IP:$KUBERNETES_SVC_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN;extendedKeyUsage=serverAuth"
sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
sign admin "/O=system:masters/CN=backpressure-lab-admin"
sign kube-controller-manager "/CN=system:kube-controller-manager"
sign kube-scheduler "/CN=system:kube-scheduler"
sign kube-proxy "/CN=system:kube-proxy"
sign kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
sign kubelet-serving "/CN=$NODE_NAME" "subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME;extendedKeyUsage=serverAuth"
# The aggregation layer (an extension API server such as KEDA's metrics adapter, hack/keda): a
# front-proxy CA of its own, as kubeadm makes, and the client certificate the apiserver presents
# when it proxies a request there (the adapter trusts it through the requestheader flags below).
if [[ ! -f "$CLUSTER_PKI/front-proxy-client.crt" ]]; then
  [[ -f "$CLUSTER_PKI/front-proxy-ca.crt" ]] || openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=front-proxy-ca" \
    -keyout "$CLUSTER_PKI/front-proxy-ca.key" -out "$CLUSTER_PKI/front-proxy-ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=front-proxy-client" \
    -keyout "$CLUSTER_PKI/front-proxy-client.key" -out "$CLUSTER_PKI/front-proxy-client.csr" 2>/dev/null
  openssl x509 -req -in "$CLUSTER_PKI/front-proxy-client.csr" -CA "$CLUSTER_PKI/front-proxy-ca.crt" -CAkey "$CLUSTER_PKI/front-proxy-ca.key" \
    -CAcreateserial -days 3650 -extfile <(echo "extendedKeyUsage=clientAuth") -out "$CLUSTER_PKI/front-proxy-client.crt" 2>/dev/null
  rm -f "$CLUSTER_PKI/front-proxy-client.csr"
fi

# kubeconfig <file> <cert name>: a kubeconfig for one component, by file paths.
kubeconfig() {
  write "$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: $KUBE_CONTEXT
  cluster: {server: "$APISERVER_URL", certificate-authority: "$CLUSTER_PKI/ca.crt"}
users:
- name: $2
  user: {client-certificate: "$CLUSTER_PKI/$2.crt", client-key: "$CLUSTER_PKI/$2.key"}
contexts:
- name: $KUBE_CONTEXT
  context: {cluster: $KUBE_CONTEXT, user: $2}
current-context: $KUBE_CONTEXT
KC
}
kubeconfig "$ADMIN_KUBECONFIG" admin
for c in kube-controller-manager kube-scheduler kube-proxy kubelet; do kubeconfig "$CLUSTER_STATE/$c.kubeconfig" "$c"; done

# --- containerd --------------------------------------------------------------------------------
write "$CLUSTER_STATE/containerd.toml" containerd <<TOML
# Written by hack/cluster/up.sh: a private containerd for the lab's node.
version = 2
root = "$CONTAINERD_ROOT"
state = "$CONTAINERD_STATE"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$CONTAINERD_ROOT/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # This VM lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj, and fails every container.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$CLUSTER_RUN/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$CNI_CONF_DIR"
    max_conf_num = 1
TOML
# A pod network on a bridge of its own: host-local addresses, the gateway on the bridge,
# hairpin for a pod reaching itself through its Service, portmap for hostPorts.
write "$CNI_CONF_DIR/10-bplab.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "bplab",
  "plugins": [
    {
      "type": "bridge", "bridge": "$CNI_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$CNI_DATA_DIR"}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
start containerd containerd --config "$CLUSTER_STATE/containerd.toml"
ctr_() { ctr --address "$CONTAINERD_SOCK" "$@"; }
wait_until 30 "containerd on $CONTAINERD_SOCK (see $LOGS/containerd.log)" ctr_ version

# The sandbox (pause) and CoreDNS images, built locally and imported (cached by content hash),
# and any image built while the cluster was down.
bash "$REPO_ROOT/hack/cluster/images.sh" pause coredns >/dev/null
bash "$REPO_ROOT/hack/cluster/images.sh" import-all

# --- etcd and the control plane ----------------------------------------------------------------
if ! alive etcd; then
  require_free_port "$ETCD_PORT" "set ETCD_PORT"; require_free_port "$ETCD_PEER_PORT" "set ETCD_PEER_PORT"
fi
start etcd etcd --name bplab --data-dir "$CLUSTER_STATE/etcd" --unsafe-no-fsync \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "bplab=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls ""
wait_until 30 "etcd on 127.0.0.1:$ETCD_PORT (see $LOGS/etcd.log)" curl -sf "http://127.0.0.1:$ETCD_PORT/health"

start kube-apiserver kube-apiserver \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$APISERVER_PORT" \
  --tls-cert-file "$CLUSTER_PKI/apiserver.crt" --tls-private-key-file "$CLUSTER_PKI/apiserver.key" \
  --client-ca-file "$CLUSTER_PKI/ca.crt" \
  --kubelet-client-certificate "$CLUSTER_PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$CLUSTER_PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$CLUSTER_PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
  --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
  --service-account-key-file "$CLUSTER_PKI/sa.pub" --service-account-signing-key-file "$CLUSTER_PKI/sa.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" --authorization-mode Node,RBAC \
  --enable-admission-plugins NodeRestriction --allow-privileged=true --profiling=false \
  --requestheader-client-ca-file "$CLUSTER_PKI/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
  --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
  --requestheader-extra-headers-prefix X-Remote-Extra- \
  --proxy-client-cert-file "$CLUSTER_PKI/front-proxy-client.crt" --proxy-client-key-file "$CLUSTER_PKI/front-proxy-client.key" \
  --enable-aggregator-routing=true
wait_until 90 "kube-apiserver on $APISERVER_URL (see $LOGS/kube-apiserver.log)" \
  curl -sf --max-time 2 --cacert "$CLUSTER_PKI/ca.crt" --cert "$CLUSTER_PKI/admin.crt" --key "$CLUSTER_PKI/admin.key" "$APISERVER_URL/readyz"

start kube-controller-manager kube-controller-manager \
  --kubeconfig "$CLUSTER_STATE/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig "$CLUSTER_STATE/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig "$CLUSTER_STATE/kube-controller-manager.kubeconfig" \
  --bind-address "$NODE_IP" --leader-elect=false --use-service-account-credentials \
  --service-account-private-key-file "$CLUSTER_PKI/sa.key" --root-ca-file "$CLUSTER_PKI/ca.crt" \
  --cluster-signing-cert-file "$CLUSTER_PKI/ca.crt" --cluster-signing-key-file "$CLUSTER_PKI/ca.key" \
  --allocate-node-cidrs --cluster-cidr "$CLUSTER_CIDR" --node-cidr-mask-size 24 \
  --service-cluster-ip-range "$SERVICE_CIDR" --profiling=false
start kube-scheduler kube-scheduler \
  --kubeconfig "$CLUSTER_STATE/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig "$CLUSTER_STATE/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig "$CLUSTER_STATE/kube-scheduler.kubeconfig" \
  --bind-address "$NODE_IP" --leader-elect=false --profiling=false

# --- The node: kubelet and kube-proxy ----------------------------------------------------------
write "$CLUSTER_STATE/kubelet.yaml" kubelet <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
healthzBindAddress: $NODE_IP
readOnlyPort: 0
tlsCertFile: $CLUSTER_PKI/kubelet-serving.crt
tlsPrivateKeyFile: $CLUSTER_PKI/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $CLUSTER_PKI/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
imageServiceEndpoint: unix://$CONTAINERD_SOCK
# cgroup v1 here, and no systemd as PID 1.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
podCIDR: $POD_CIDR
clusterDNS: [$CLUSTER_DNS_IP]
clusterDomain: $CLUSTER_DOMAIN
podLogsDir: $CLUSTER_STATE/pod-logs
# A small disk must not evict the lab's pods.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
serializeImagePulls: false
maxPods: 110
YAML
# The kubelet's --hostname-override and the kube-proxy's must match the node name.
start kubelet kubelet --config "$CLUSTER_STATE/kubelet.yaml" --kubeconfig "$CLUSTER_STATE/kubelet.kubeconfig" \
  --root-dir "$KUBELET_ROOT" --cert-dir "$CLUSTER_PKI/kubelet-certs" \
  --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v 1

write "$CLUSTER_STATE/kube-proxy.yaml" kube-proxy <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
bindAddress: $NODE_IP
healthzBindAddress: $NODE_IP:10256
metricsBindAddress: $NODE_IP:10249
nodePortAddresses: ["$NODE_IP/32"]
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $NODE_NAME
clientConnection: {kubeconfig: $CLUSTER_STATE/kube-proxy.kubeconfig}
# Leave the machine's conntrack settings alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
YAML
start kube-proxy kube-proxy --config "$CLUSTER_STATE/kube-proxy.yaml"

wait_until 60 "kube-controller-manager (see $LOGS/kube-controller-manager.log)" healthy "https://$NODE_IP:10257/healthz"
wait_until 60 "kube-scheduler (see $LOGS/kube-scheduler.log)" healthy "https://$NODE_IP:10259/healthz"
wait_until 60 "the kubelet (see $LOGS/kubelet.log)" curl -sf --max-time 2 "http://$NODE_IP:10248/healthz"
wait_until 60 "kube-proxy (see $LOGS/kube-proxy.log)" curl -sf --max-time 2 "http://$NODE_IP:10256/healthz"
log "waiting for node $NODE_NAME to be Ready"
wait_until 90 "node $NODE_NAME Ready (see $LOGS/kubelet.log)" \
  "${KUBECTL[@]}" wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s

# --- CoreDNS -----------------------------------------------------------------------------------
log "deploying CoreDNS $COREDNS_VERSION in kube-system (Service kube-dns at $CLUSTER_DNS_IP)"
upstream=$'template ANY ANY {\n           rcode NXDOMAIN\n        }'
[[ -n "${COREDNS_FORWARD:-}" ]] && upstream="forward . $COREDNS_FORWARD"
manifest=$(<"$REPO_ROOT/hack/cluster/coredns.yaml")
manifest=${manifest//@COREDNS_IMAGE@/$COREDNS_IMAGE}; manifest=${manifest//@CLUSTER_DNS_IP@/$CLUSTER_DNS_IP}
manifest=${manifest//@CLUSTER_DOMAIN@/$CLUSTER_DOMAIN}; manifest=${manifest//@UPSTREAM@/$upstream}
"${KUBECTL[@]}" apply -f - <<<"$manifest" >"$LOGS/coredns-apply.log" 2>&1 \
  || die "applying CoreDNS failed: $(cat "$LOGS/coredns-apply.log")"
log "waiting for CoreDNS to be Ready"
"${KUBECTL[@]}" -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null \
  || die "CoreDNS did not become Ready: kubectl --kubeconfig $ADMIN_KUBECONFIG -n kube-system describe pods -l k8s-app=kube-dns"

# --- The user's kubeconfig, as kind does ---------------------------------------------------------
mkdir -p "$(dirname "$USER_KUBECONFIG")"
ukc=(kubectl --kubeconfig "$USER_KUBECONFIG" config)
"${ukc[@]}" set-cluster "$KUBE_CONTEXT" --server "$APISERVER_URL" --certificate-authority "$CLUSTER_PKI/ca.crt" --embed-certs >/dev/null
"${ukc[@]}" set-credentials "$KUBE_CONTEXT" --client-certificate "$CLUSTER_PKI/admin.crt" --client-key "$CLUSTER_PKI/admin.key" --embed-certs >/dev/null
"${ukc[@]}" set-context "$KUBE_CONTEXT" --cluster "$KUBE_CONTEXT" --user "$KUBE_CONTEXT" >/dev/null
"${ukc[@]}" use-context "$KUBE_CONTEXT" >/dev/null
chmod 600 "$USER_KUBECONFIG"

log "ready in $((SECONDS - T0)) s: node $NODE_NAME ($NODE_IP), API $APISERVER_URL, context $KUBE_CONTEXT in $USER_KUBECONFIG"
log "binaries (kubectl, helm, crictl) in $CLUSTER_BIN; logs in $LOGS; make cluster-down stops it all"
