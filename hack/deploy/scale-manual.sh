#!/usr/bin/env bash
# make scale-manual REPLICAS=n: pauses the autoscaler (the LagAutoscaler's spec.paused=true: the
# operator stops scaling but keeps reporting status) and scales the consumer Deployment to n by
# hand, then waits until n consumer pods are Ready.
# make scale-manual (REPLICAS unset): resumes autoscaling (spec.paused=false); the operator owns
# the replica count again from its next poll.
# Note: a later `helm upgrade` sets spec.paused back to the chart's autoscaler.paused value.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/deploy/lib.sh"
TIMEOUT="${TIMEOUT:-180}"

ctx=$(lab_context) || die "no kubectl context (no cluster): make up first"
use_context "$ctx"
api_up || die "the cluster (context $LAB_CONTEXT) does not answer: make up first"
"${K[@]}" get lagautoscaler consumer >/dev/null 2>&1 || die "no LagAutoscaler consumer in $LAB_NS (context $LAB_CONTEXT): make up first"

# paused_seen <true|false>: the operator has reconciled the current generation and reports it.
paused_seen() {
  local want=$1 las
  las=$("${K[@]}" get lagautoscaler consumer -o json) || return 1
  jq -e --argjson want "$want" '
    (.status.observedGeneration // 0) >= .metadata.generation
    and (any(.status.conditions[]?; .type == "AbleToScale" and .reason == "Paused") == $want)' <<<"$las" >/dev/null
}
# consumer_pods: "<Ready pods>/<pods>", terminating ones counted until they are gone.
consumer_pods() {
  "${K[@]}" get pods -l app.kubernetes.io/component=consumer -o json \
    | jq -r '[.items[] | select(.metadata.deletionTimestamp == null and any(.status.conditions[]?; .type == "Ready" and .status == "True"))] as $r | "\($r | length)/\(.items | length)"'
}

if [[ -z "${REPLICAS:-}" ]]; then
  log "resuming autoscaling: LagAutoscaler consumer spec.paused=false"
  "${K[@]}" patch lagautoscaler consumer --type merge -p '{"spec":{"paused":false}}' >/dev/null
  wait_until 60 "the operator to take the LagAutoscaler back (kubectl -n $LAB_NS logs deploy/lag-autoscaler)" paused_seen false
  log "the operator owns the consumer's replica count again (now $("${K[@]}" get deployment consumer -o jsonpath='{.spec.replicas}'))"
  exit 0
fi

[[ "$REPLICAS" =~ ^[0-9]+$ ]] || die "REPLICAS must be a whole number, not '$REPLICAS'"
log "pausing the autoscaler: LagAutoscaler consumer spec.paused=true"
"${K[@]}" patch lagautoscaler consumer --type merge -p '{"spec":{"paused":true}}' >/dev/null
# Only once the operator has seen the pause can no decision of its own overwrite the count.
wait_until 60 "the operator to report the pause (kubectl -n $LAB_NS logs deploy/lag-autoscaler)" paused_seen true
log "scaling deployment/consumer to $REPLICAS by hand"
"${K[@]}" scale deployment/consumer --replicas="$REPLICAS" >/dev/null
deadline=$((SECONDS + TIMEOUT)) last=""
until [[ "$(consumer_pods)" == "$REPLICAS/$REPLICAS" ]]; do
  now=$(consumer_pods || true)
  [[ "$now" == "$last" ]] || log "  consumer pods Ready/all: ${now:-?} (want $REPLICAS, none terminating)"
  last=$now
  (( SECONDS < deadline )) || die "the consumer Deployment did not reach $REPLICAS Ready pods in ${TIMEOUT}s"
  sleep 1
done
log "consumer at $REPLICAS replica(s), autoscaler paused; make scale-manual (no REPLICAS) resumes it"
