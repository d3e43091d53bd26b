#!/usr/bin/env bash
# Starts etcd, kube-apiserver and kube-controller-manager on loopback (no nodes: Pods stay Pending,
# but Deployments get ReplicaSets and ServiceAccounts get tokens). Idempotent: a component whose
# pid is alive is left alone, so this also restarts only what was stopped. Prints the admin
# kubeconfig's path. Binaries come from hack/testenv/build.sh.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/testenv/env.sh"

for bin in etcd kube-apiserver kube-controller-manager; do
  [[ -x "$TESTENV_BIN/$bin" ]] || die "$TESTENV_BIN/$bin is missing: run hack/testenv/build.sh first"
done
command -v openssl >/dev/null || die "openssl is needed to make the certificates"

STATE="$TESTENV_STATE"
PKI="$STATE/pki"
mkdir -p "$PKI"

alive() { [[ -f "$STATE/$1.pid" ]] && pid_alive "$(cat "$STATE/$1.pid")"; }

# start <name> <command...>: runs it in its own session (a Ctrl-C in the caller's terminal or a test
# runner's process group does not reach it), output to <state>/<name>.log.
start() {
  local name=$1; shift
  if alive "$name"; then
    log "$name already running (pid $(cat "$STATE/$name.pid"))"
    return
  fi
  log "starting $name (log: $STATE/$name.log)"
  setsid "$@" >>"$STATE/$name.log" 2>&1 < /dev/null &
  echo $! > "$STATE/$name.pid"
}

if [[ ! -f "$PKI/ca.crt" ]]; then
  log "making a CA, a serving certificate for 127.0.0.1 and a service-account key pair in $PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=backpressure-lab-testenv-ca" \
    -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$PKI/apiserver.key" -out "$PKI/apiserver.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' > "$PKI/apiserver.ext"
  openssl x509 -req -in "$PKI/apiserver.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 3650 \
    -extfile "$PKI/apiserver.ext" -out "$PKI/apiserver.crt" 2>/dev/null
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  echo "$(openssl rand -hex 24),admin,admin,system:masters" > "$PKI/tokens.csv"
fi
ADMIN_TOKEN=$(cut -d, -f1 "$PKI/tokens.csv")
SERVER="https://127.0.0.1:$TESTENV_APISERVER_PORT"

if ! alive etcd; then
  require_free_port "$TESTENV_ETCD_PORT" "set TESTENV_ETCD_PORT"
  require_free_port "$TESTENV_ETCD_PEER_PORT" "set TESTENV_ETCD_PEER_PORT"
fi
start etcd "$TESTENV_BIN/etcd" \
  --name testenv --data-dir "$STATE/etcd" --unsafe-no-fsync \
  --listen-client-urls "http://127.0.0.1:$TESTENV_ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$TESTENV_ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$TESTENV_ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$TESTENV_ETCD_PEER_PORT" \
  --initial-cluster "testenv=http://127.0.0.1:$TESTENV_ETCD_PEER_PORT" --listen-metrics-urls ""
wait_until 30 "etcd on 127.0.0.1:$TESTENV_ETCD_PORT (see $STATE/etcd.log)" \
  curl -sf "http://127.0.0.1:$TESTENV_ETCD_PORT/health"

if ! alive kube-apiserver; then
  require_free_port "$TESTENV_APISERVER_PORT" "set TESTENV_APISERVER_PORT"
fi
start kube-apiserver "$TESTENV_BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$TESTENV_ETCD_PORT" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$TESTENV_APISERVER_PORT" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" --client-ca-file "$PKI/ca.crt" \
  --service-cluster-ip-range 10.0.0.0/24 \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --token-auth-file "$PKI/tokens.csv" --authorization-mode RBAC
readyz() { curl -sf --cacert "$PKI/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" "$SERVER/readyz"; }
wait_until 90 "kube-apiserver on $SERVER (see $STATE/kube-apiserver.log)" readyz

cat > "$TESTENV_KUBECONFIG" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster:
    server: $SERVER
    certificate-authority-data: $(base64 -w0 < "$PKI/ca.crt")
users:
- name: admin
  user:
    token: $ADMIN_TOKEN
contexts:
- name: testenv
  context: {cluster: testenv, user: admin, namespace: default}
current-context: testenv
KUBECONFIG

if ! alive kube-controller-manager; then
  require_free_port "$TESTENV_KCM_PORT" "set TESTENV_KCM_PORT"
fi
start kube-controller-manager "$TESTENV_BIN/kube-controller-manager" \
  --kubeconfig "$TESTENV_KUBECONFIG" --leader-elect=false \
  --bind-address 127.0.0.1 --secure-port "$TESTENV_KCM_PORT" \
  --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
  --service-cluster-ip-range 10.0.0.0/24
wait_until 60 "kube-controller-manager on 127.0.0.1:$TESTENV_KCM_PORT (see $STATE/kube-controller-manager.log)" \
  curl -skf "https://127.0.0.1:$TESTENV_KCM_PORT/healthz"

log "ready: $SERVER (KUBECONFIG=$TESTENV_KUBECONFIG)"
echo "$TESTENV_KUBECONFIG"
