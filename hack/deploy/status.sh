#!/usr/bin/env bash
# make status: what runs in the lab's namespace (workloads, pods and their images), the consumer
# group's lag as the lag monitor sees it, and the LagAutoscaler's status with its conditions.
# Lag comes through `make port-forward` when it runs, else from inside the lag monitor's pod.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/deploy/lib.sh"

ctx=$(lab_context) || die "no kubectl context (no cluster): make up first"
use_context "$ctx"
api_up || die "the cluster (context $LAB_CONTEXT) does not answer: make cluster-up / make up"
"${KC[@]}" get namespace "$LAB_NS" >/dev/null 2>&1 || die "no namespace $LAB_NS in context $LAB_CONTEXT: make up"

section() { printf '\n\033[1m%s\033[0m\n' "$*"; }

cluster=$(lab_cluster)
section "Lab in namespace $LAB_NS (context $LAB_CONTEXT${cluster:+, cluster $cluster})"
"${K[@]}" get deployments,statefulsets
section "Pods"
"${K[@]}" get pods -o custom-columns='NAME:.metadata.name,READY:.status.containerStatuses[*].ready,STATUS:.status.phase,RESTARTS:.status.containerStatuses[*].restartCount,STARTED:.status.startTime,IMAGE:.spec.containers[*].image'

section "Lag (lag monitor /lag)"
lag=""
if pf_alive lag-monitor; then
  lag=$(curl -sf --max-time 5 "http://localhost:${PF_LOCAL[lag-monitor]}/lag" || true)
  [[ -n "$lag" ]] && echo "(through the port-forward on localhost:${PF_LOCAL[lag-monitor]})"
fi
if [[ -z "$lag" ]]; then
  lag=$("${K[@]}" exec deploy/lag-monitor -- node -e \
    'fetch("http://127.0.0.1:8010/lag").then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(String(e)); process.exit(1); })' 2>/dev/null || true)
  [[ -n "$lag" ]] && echo "(from inside the lag monitor's pod; make port-forward for localhost:${PF_LOCAL[lag-monitor]})"
fi
if [[ -n "$lag" ]]; then
  jq -r '"total lag \(.total_lag) (\(.status)), members \(.members), rate of change \(.rate_of_change // "n/a") msg/s, production \(.production_rate // "n/a") msg/s, consumption \(.consumption_rate // "n/a") msg/s",
    "per partition: " + ([.partitions[] | "p\(.partition)=\(.lag)"] | join(" "))' <<<"$lag" 2>/dev/null || echo "$lag"
else
  echo "the lag monitor does not answer (kubectl -n $LAB_NS logs deploy/lag-monitor)"
fi

section "LagAutoscaler consumer"
if "${K[@]}" get lagautoscaler consumer >/dev/null 2>&1; then
  "${K[@]}" get lagautoscaler consumer -o wide
  "${K[@]}" get lagautoscaler consumer -o json | jq -r '
    "paused: \(.spec.paused // false); replicas \(.spec.minReplicas)..\(.spec.maxReplicas), lag threshold \(.spec.lagThreshold), target drain \(.spec.targetDrainSeconds) s, scale-down window \(.spec.scaleDown.stabilizationWindowSeconds) s",
    "last scale: \(.status.lastScaleTime // "never"); last decision: \(.status.lastDecision.reason // "none yet")\(if .status.lastDecision.heldBy then " (held by \(.status.lastDecision.heldBy))" else "" end)",
    "conditions:",
    (.status.conditions // [] | .[] | "  \(.type)=\(.status) \(.reason): \(.message // "")")'
else
  echo "no LagAutoscaler consumer in $LAB_NS"
fi
