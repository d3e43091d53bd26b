#!/usr/bin/env bash
# make scale-auto: the autoscaler on the cluster, narrated like make demo. The lab must be up
# (make up); this starts the port-forwards if they are not running, resumes autoscaling if
# scale-manual paused it, then scale-auto.mjs plays the story: a burst against slow consumers,
# the operator patching the Deployment, pods starting and joining the group, the drain, and the
# return to one pod after the scale-down window. BURST (300) sets the burst's size.
# On kind the burst comes from k6: the Job k6-burst (hack/deploy/load.sh) at 1 request/s for 5 s,
# a 5 s ramp to 9/s held for 10 s, a 5 s ramp back and 1/s for 5 s: 150 requests of BURST/150
# orders each (rounded; burst-producer.js has the formula). Elsewhere (the local node cannot pull
# grafana/k6) the producer's POST /burst sends the BURST orders.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/deploy/lib.sh"

use_context "$(lab_context)"
api_up || die "the cluster (context $LAB_CONTEXT) does not answer: make up first"
"${K[@]}" get lagautoscaler consumer >/dev/null 2>&1 || die "no LagAutoscaler consumer in $LAB_NS (context $LAB_CONTEXT): make up first"
bash "$REPO_ROOT/hack/deploy/port-forward.sh" 2>&1 | sed 's/^/  /' >&2
"${K[@]}" patch lagautoscaler consumer --type merge -p '{"spec":{"paused":false}}' >/dev/null

BURST="${BURST:-300}"
[[ "$BURST" =~ ^[1-9][0-9]*$ ]] || die "BURST must be a positive whole number, not '$BURST'"
load=()
if [[ "$(lab_cluster)" == kind ]]; then
  batch=$(( (BURST + 75) / 150 )); (( batch > 0 )) || batch=1
  BURST=$(( batch * 150 ))
  load=(bash "$REPO_ROOT/hack/deploy/load.sh" burst --set "load.burst.batchSize=$batch" --set load.burst.baseRate=1
    --set load.burst.peakRate=9 --set load.burst.baseDuration=5s --set load.burst.peakDuration=10s)
  log "kind: the burst is the k6 Job k6-burst, 150 requests of $batch orders = $BURST orders"
fi

# The story reads the cluster through this kubectl, and runs the k6 burst (if any) with this
# command (one argument per line each).
SCALE_AUTO_KUBECTL=$(printf '%s\n' "${K[@]}") SCALE_AUTO_LOAD=$(printf '%s\n' "${load[@]}") BURST="$BURST" \
  exec node "$REPO_ROOT/hack/deploy/scale-auto.mjs"
