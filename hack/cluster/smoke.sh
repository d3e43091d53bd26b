#!/usr/bin/env bash
# Proves the one-node cluster works end to end, by hand (not part of make test): in a namespace of
# its own, under the restricted Pod Security level,
#   1. a Deployment from the local Node base image serves HTTP (`node -e`), behind a ClusterIP Service;
#   2. another pod reaches it by DNS name (short, namespaced, FQDN): CoreDNS and kube-proxy work;
#   3. `kubectl port-forward` + curl from the host reach it;
#   4. the local Kafka image runs as a StatefulSet pod (read-only root, non-root, data on a volume),
#      becomes Ready, and takes a topic, 1000 records and a consumer group.
# Then deletes the namespace. Needs `make cluster-up`; builds the node-base and Kafka images if needed.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/cluster/env.sh"
export PATH="$CLUSTER_BIN:$PATH"
NS="${SMOKE_NAMESPACE:-bplab-smoke}"
K=(kubectl --kubeconfig "$ADMIN_KUBECONFIG" --cache-dir "$CLUSTER_STATE/kube-cache")
"${K[@]}" get --raw /readyz >/dev/null 2>&1 || die "the cluster is not running: make cluster-up"
NODE_IMAGE="localhost/bplab/node-base:$(node -p process.versions.node)"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$REPO_ROOT/hack/kafka/pom.xml")
KAFKA_IMAGE="localhost/bplab/kafka:$KAFKA_VERSION"
bash "$REPO_ROOT/hack/cluster/images.sh" node-base kafka >/dev/null
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
cleanup() { "${K[@]}" delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; [[ -n "${pf:-}" ]] && kill "$pf" 2>/dev/null; return 0; }
trap cleanup EXIT
restricted='securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}'
pod_security='securityContext: {runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: {type: RuntimeDefault}}'

log "1. namespace $NS (restricted), Deployment hello from $NODE_IMAGE and its Service"
"${K[@]}" delete namespace "$NS" --ignore-not-found --wait=true --timeout=60s >/dev/null
t0=$(date +%s%N)
"${K[@]}" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: $NS, labels: {pod-security.kubernetes.io/enforce: restricted}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello, namespace: $NS}
spec:
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      $pod_security
      containers:
      - name: hello
        image: $NODE_IMAGE
        imagePullPolicy: Never
        command: [node, -e, "require('http').createServer((q, s) => s.end('hello from ' + require('os').hostname() + '\\\\n')).listen(8080)"]
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
        $restricted
---
apiVersion: v1
kind: Service
metadata: {name: hello, namespace: $NS}
spec:
  selector: {app: hello}
  ports: [{port: 80, targetPort: 8080}]
YAML
"${K[@]}" -n "$NS" wait --for=jsonpath='{.status.phase}'=Running pod -l app=hello --timeout=60s >/dev/null 2>&1 \
  || wait_until 60 "a hello pod Running" "${K[@]}" -n "$NS" wait --for=jsonpath='{.status.phase}'=Running pod -l app=hello --timeout=1s
log "   pod Running $(ms "$t0") ms after apply"
"${K[@]}" -n "$NS" rollout status deploy/hello --timeout=60s >/dev/null || die "hello did not become Ready"
log "   pod Ready $(ms "$t0") ms after apply"

log "2. another pod fetches http://hello, http://hello.$NS, http://hello.$NS.svc.$CLUSTER_DOMAIN"
"${K[@]}" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: $NS}
spec:
  restartPolicy: Never
  $pod_security
  containers:
  - name: client
    image: $NODE_IMAGE
    imagePullPolicy: Never
    # Retries for up to 10 s: kube-proxy programs a Service's endpoints about 1 s (its
    # minSyncPeriod) after the pod turns Ready; until then the ClusterIP refuses connections.
    command: [node, -e, "const get = async (u, n = 0) => { try { const r = await fetch(u); return [r.status, (await r.text()).trim(), n]; } catch (e) { if (n >= 50) throw e; await new Promise((ok) => setTimeout(ok, 200)); return get(u, n + 1); } }; (async () => { for (const u of ['http://hello', 'http://hello.$NS', 'http://hello.$NS.svc.$CLUSTER_DOMAIN']) { const [status, body, retries] = await get(u); console.log(u, status, body, retries ? '(after ' + retries + ' retries)' : ''); } })().catch((e) => { console.error(e); process.exit(1); })"]
    $restricted
YAML
wait_until 60 "the client pod to finish" bash -c "[[ \$(${K[*]} -n $NS get pod client -o jsonpath='{.status.phase}') =~ Succeeded|Failed ]]"
"${K[@]}" -n "$NS" logs client | sed 's/^/   /' >&2
[[ $("${K[@]}" -n "$NS" get pod client -o jsonpath='{.status.phase}') == Succeeded ]] || die "the client pod failed"

log "3. kubectl port-forward svc/hello + curl from the host"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${K[@]}" -n "$NS" port-forward svc/hello "$port:80" >/dev/null 2>&1 & pf=$!
wait_until 20 "port-forward on 127.0.0.1:$port" curl -sf "http://127.0.0.1:$port/"
log "   $(curl -s "http://127.0.0.1:$port/")"
kill "$pf"; wait "$pf" 2>/dev/null || true; pf=

log "4. Kafka from $KAFKA_IMAGE as a StatefulSet pod"
t0=$(date +%s%N)
"${K[@]}" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: kafka, namespace: $NS}
spec:
  clusterIP: None
  selector: {app: kafka}
  ports: [{name: kafka, port: 9092}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: kafka, namespace: $NS}
spec:
  serviceName: kafka
  selector: {matchLabels: {app: kafka}}
  template:
    metadata: {labels: {app: kafka}}
    spec:
      $pod_security
      containers:
      - name: kafka
        image: $KAFKA_IMAGE
        imagePullPolicy: Never
        env: [{name: KAFKA_ADVERTISED_LISTENERS, value: "PLAINTEXT://kafka-0.kafka.$NS.svc.$CLUSTER_DOMAIN:9092"}]
        ports: [{containerPort: 9092, name: kafka}]
        readinessProbe: {tcpSocket: {port: 9092}, periodSeconds: 1}
        resources: {limits: {memory: 1Gi}, requests: {memory: 512Mi, cpu: 100m}}
        $restricted
        volumeMounts: [{name: data, mountPath: /var/lib/kafka}, {name: tmp, mountPath: /tmp}]
      volumes: [{name: data, emptyDir: {}}, {name: tmp, emptyDir: {medium: Memory, sizeLimit: 64Mi}}]
YAML
wait_until 120 "kafka-0 Ready" "${K[@]}" -n "$NS" wait --for=condition=Ready pod/kafka-0 --timeout=1s
log "   kafka-0 Ready $(ms "$t0") ms after apply"
B="kafka-0.kafka.$NS.svc.$CLUSTER_DOMAIN:9092"
kx() { "${K[@]}" -n "$NS" exec kafka-0 -- "$@"; }
kx kafka-topics.sh --bootstrap-server "$B" --create --topic smoke --partitions 6 --replication-factor 1 >/dev/null
kx kafka-producer-perf-test.sh --topic smoke --num-records 1000 --record-size 100 --throughput -1 --producer-props "bootstrap.servers=$B" | tail -1 | sed 's/^/   /' >&2
kx kafka-consumer-perf-test.sh --bootstrap-server "$B" --topic smoke --messages 1000 --group smoke --timeout 30000 >/dev/null
lag=$(kx kafka-consumer-groups.sh --bootstrap-server "$B" --describe --group smoke 2>/dev/null | awk '$1 == "smoke" {s += $6} END {print s + 0}')
[[ "$lag" == 0 ]] || die "consumer group smoke has lag $lag"
uid=$("${K[@]}" -n "$NS" get pod kafka-0 -o jsonpath='{.metadata.uid}')
cg=$(ls -d /sys/fs/cgroup/memory/kubepods/*/"pod$uid" /sys/fs/cgroup/memory/kubepods/"pod$uid" 2>/dev/null | head -1 || true)
mem="?"; [[ -n "$cg" ]] && mem=$(( $(awk '$1 == "total_rss" {print $2}' "$cg/memory.stat") / 1048576 ))
log "   topic smoke: 1000 records produced and consumed, group lag 0; kafka-0 RSS ${mem} MiB (cgroup v1 memory.stat)"
log "all checks passed; deleting namespace $NS"
