#!/usr/bin/env bash
# Settings of the one-node cluster, shared by build/up/down/images/down-check. Needs
# hack/lib/common.sh first. Every setting can be overridden by the environment.
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CRICTL_VERSION="${CRICTL_VERSION:-v1.34.0}"
PAUSE_VERSION="${PAUSE_VERSION:-3.10.1}"        # build/pause/Makefile's TAG in k8s.io/kubernetes
# Monitoring and tracing on the local node (kind uses kube-prometheus-stack and Jaeger's image).
PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.93.0}"
# Prometheus and Jaeger publish Go module versions apart from their release numbers: the module
# v0.316.0 is Prometheus 3.16.0, v1.76.0 is Jaeger v2.13.0 (its CHANGELOG pairs them).
PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}" PROMETHEUS_RELEASE="${PROMETHEUS_RELEASE:-3.16.0}"
JAEGER_VERSION="${JAEGER_VERSION:-v1.76.0}" JAEGER_RELEASE="${JAEGER_RELEASE:-2.13.0}"

# Binaries: etcd, kube-apiserver, kube-controller-manager and kubectl come from hack/testenv (same
# module, same version); the node's own binaries and tools land next to them in the cluster's cache.
TESTENV_BIN="${TESTENV_BIN:-$CACHE_DIR/testenv/$K8S_VERSION/bin}"
CLUSTER_BIN="${CLUSTER_BIN:-$CACHE_DIR/cluster/$K8S_VERSION/bin}"
TOOLS_BIN="${TOOLS_BIN:-$CACHE_DIR/cluster/tools}"
COREDNS_BIN="$TOOLS_BIN/coredns-$COREDNS_VERSION"
HELM_BIN="$TOOLS_BIN/helm-$HELM_VERSION"
CRICTL_BIN="$TOOLS_BIN/crictl-$CRICTL_VERSION"
PROMETHEUS_OPERATOR_BIN="$TOOLS_BIN/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION"
CONFIG_RELOADER_BIN="$TOOLS_BIN/prometheus-config-reloader-$PROMETHEUS_OPERATOR_VERSION"
# "-k8s": built with Kubernetes service discovery only (hack/cluster/build.sh's build tags).
PROMETHEUS_BIN="$TOOLS_BIN/prometheus-$PROMETHEUS_VERSION-k8s"
PROMTOOL_BIN="$TOOLS_BIN/promtool-$PROMETHEUS_VERSION-k8s"
JAEGER_BIN="$TOOLS_BIN/jaeger-$JAEGER_VERSION"

# State: certificates, etcd data, logs and pids persist in the cache between up and down (a warm
# up reuses them); containerd's image store too, so imported images survive cluster-down.
# Runtime state (sockets, task dirs) lives under /run, which a reboot clears.
CLUSTER_STATE="${CLUSTER_STATE:-$CACHE_DIR/cluster/state}"
CLUSTER_PKI="$CLUSTER_STATE/pki"
CLUSTER_RUN="${CLUSTER_RUN:-/run/bplab}"
CONTAINERD_ROOT="${CONTAINERD_ROOT:-$CACHE_DIR/cluster/containerd}"
CONTAINERD_STATE="$CLUSTER_RUN/containerd"
CONTAINERD_SOCK="$CLUSTER_RUN/containerd.sock"
KUBELET_ROOT="$CLUSTER_STATE/kubelet"
CNI_CONF_DIR="$CLUSTER_STATE/cni/net.d"
CNI_DATA_DIR="$CLUSTER_STATE/cni/ipam"
CNI_BIN_DIR="${CNI_BIN_DIR:-/usr/lib/cni}"
ADMIN_KUBECONFIG="$CLUSTER_STATE/admin.kubeconfig"

# Network. The node address is a /32 on lo: the kubelet refuses loopback node IPs, and this VM has
# no dummy interfaces. Every component binds it, never eth0's address, and none of the ports below
# collide with hack/testenv's (which binds 127.0.0.1).
NODE_IP="${NODE_IP:-10.250.0.1}"
NODE_NAME="${NODE_NAME:-bplab-node}"
POD_CIDR="${POD_CIDR:-10.244.0.0/24}"
CLUSTER_CIDR="${CLUSTER_CIDR:-10.244.0.0/16}"
SERVICE_CIDR="${SERVICE_CIDR:-10.96.0.0/16}"
KUBERNETES_SVC_IP="${KUBERNETES_SVC_IP:-10.96.0.1}"
CLUSTER_DNS_IP="${CLUSTER_DNS_IP:-10.96.0.10}"
CLUSTER_DOMAIN="${CLUSTER_DOMAIN:-cluster.local}"
CNI_BRIDGE="${CNI_BRIDGE:-bplab0}"
ETCD_PORT="${ETCD_PORT:-12379}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-12380}"
APISERVER_PORT="${APISERVER_PORT:-6443}"
KUBE_CONTEXT="${KUBE_CONTEXT:-backpressure-lab-local}"
APISERVER_URL="https://$NODE_IP:$APISERVER_PORT"

# The user's kubeconfig, as kubectl picks it (first file of KUBECONFIG, else ~/.kube/config).
USER_KUBECONFIG="${KUBECONFIG:-$HOME/.kube/config}"
USER_KUBECONFIG="${USER_KUBECONFIG%%:*}"

# Images: built rootfs/OCI layouts and exported archives are cached by content hash.
IMAGES_DIR="${IMAGES_DIR:-$CACHE_DIR/images}"
PAUSE_IMAGE="localhost/bplab/pause:$PAUSE_VERSION"
COREDNS_IMAGE="localhost/bplab/coredns:${COREDNS_VERSION#v}"
PROMETHEUS_OPERATOR_IMAGE="localhost/bplab/prometheus-operator:${PROMETHEUS_OPERATOR_VERSION#v}"
CONFIG_RELOADER_IMAGE="localhost/bplab/prometheus-config-reloader:${PROMETHEUS_OPERATOR_VERSION#v}"
PROMETHEUS_IMAGE="localhost/bplab/prometheus:$PROMETHEUS_RELEASE"
JAEGER_IMAGE="localhost/bplab/jaeger:$JAEGER_RELEASE"

kubectl_bin() { echo "$TESTENV_BIN/kubectl"; }
