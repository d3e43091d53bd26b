#!/usr/bin/env bash
# make scale-auto: the autoscaler on the cluster, narrated like make demo. The lab must be up
# (make up); this starts the port-forwards if they are not running, resumes autoscaling if
# scale-manual paused it, then scale-auto.mjs plays the story: a burst against slow consumers,
# the operator patching the Deployment, pods starting and joining the group, the drain, and the
# return to one pod after the scale-down window. BURST (300) sets the burst's size.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/deploy/lib.sh"

use_context "$(lab_context)"
api_up || die "the cluster (context $LAB_CONTEXT) does not answer: make up first"
"${K[@]}" get lagautoscaler consumer >/dev/null 2>&1 || die "no LagAutoscaler consumer in $LAB_NS (context $LAB_CONTEXT): make up first"
bash "$REPO_ROOT/hack/deploy/port-forward.sh" 2>&1 | sed 's/^/  /' >&2
"${K[@]}" patch lagautoscaler consumer --type merge -p '{"spec":{"paused":false}}' >/dev/null

# The story reads the cluster through this kubectl (one argument per line).
SCALE_AUTO_KUBECTL=$(printf '%s\n' "${K[@]}") BURST="${BURST:-300}" exec node "$REPO_ROOT/hack/deploy/scale-auto.mjs"
