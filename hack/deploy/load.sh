#!/usr/bin/env bash
# make load-steady / make load-burst: a k6 script of k8s/k6/ as the Job k6-<name> in the lab's
# namespace. The Job comes from the chart (templates/k6.yaml) rendered with the release's values
# and load.run=<name>; it runs the script from the release's ConfigMap k6-scripts (as of the last
# make up) against the producer's Service. This deletes a previous Job of that name (safe to
# rerun), creates the Job, waits for its pod to start, follows its logs and exits with its outcome:
# 0 when k6 ends with every threshold held, 99 when it crossed one, 107 when the script threw,
# 1 for anything else. Ctrl-C stops following; the Job runs on.
#   load.sh steady|burst [--set load.<key>=<value>]...   more values, e.g. the burst's size
# The pod pulls grafana/k6, so this needs a node that can pull (kind); the local node cannot.
# TIMEOUT (300) bounds the wait for the pod to start, the pull included.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/deploy/lib.sh"
TIMEOUT="${TIMEOUT:-300}"

run=${1:-}
[[ "$run" == steady || "$run" == burst ]] || die "usage: load.sh steady|burst [--set load.<key>=<value>]..."
shift
job="k6-$run"
script="k8s/k6/$run-producer.js"

if [[ "$(lab_cluster)" == local ]]; then
  die "the lab runs on the local node, which has no Docker and cannot pull grafana/k6 (k6 is AGPL: the lab neither builds nor ships it). Load it without k6: make scale-auto (a burst against slow consumers), or the producer's POST /burst through make port-forward (README, exercise 7). With k6 installed on this host: make port-forward, then k6 run -e TARGET=http://localhost:${PF_LOCAL[producer]} $script"
fi

ctx=$(lab_context) || die "no kubectl context (no cluster): make up first"
use_context "$ctx"
api_up || die "the cluster (context $LAB_CONTEXT) does not answer: make up first"
lab_installed || die "no release $LAB_RELEASE in namespace $LAB_NS (context $LAB_CONTEXT): make up first"
"${K[@]}" get configmap k6-scripts >/dev/null 2>&1 \
  || die "no ConfigMap k6-scripts in $LAB_NS: the release has load.enabled=false (make up HELM_ARGS='--set load.enabled=true')"

# job_doc: the document of helm template's output (stdin) that holds the Job.
job_doc() {
  awk '/^---$/ { if (found) exit; doc = ""; next } { doc = doc $0 "\n" } /^kind: Job$/ { found = 1 } END { if (found) printf "%s", doc }'
}

# The Job as the release's values make it: its computed values, load.run=<name>, then the caller's.
values=$(mktemp)
trap 'rm -f "$values"' EXIT
helm_ get values "$LAB_RELEASE" -a -o yaml >"$values" || die "helm get values $LAB_RELEASE failed"
manifest=$(helm_ template "$LAB_RELEASE" "$LAB_CHART" -f "$values" --set "load.run=$run" "$@" --show-only templates/k6.yaml) \
  || die "rendering templates/k6.yaml failed (see above)"
job_yaml=$(job_doc <<<"$manifest")
[[ -n "$job_yaml" ]] || die "templates/k6.yaml rendered no Job for load.run=$run"

# Foreground: the old pod goes with the old Job, so the pod found below is the new one.
"${K[@]}" delete job "$job" --ignore-not-found --cascade=foreground --wait >/dev/null
"${K[@]}" create -f - <<<"$job_yaml" >/dev/null || die "creating job/$job failed (see above)"
uid=$("${K[@]}" get job "$job" -o jsonpath='{.metadata.uid}')
image=$("${K[@]}" get job "$job" -o jsonpath='{.spec.template.spec.containers[0].image}')
log "created job/$job: $script with $("${K[@]}" get job "$job" -o json \
  | jq -r '[.spec.template.spec.containers[0].env[] | select(.name | test("^(HOME|K6_)") | not) | "\(.name)=\(.value)"] | join(" ")')"

# pod_state: "<pod> <state> <detail>" of the Job's pod: none, pending, waiting (with the
# container's reason), running or terminated.
pod_state() {
  "${K[@]}" get pods -l "batch.kubernetes.io/controller-uid=$uid" -o json | jq -r '
    .items[0] as $p
    | if $p == null then "- none"
      else ($p.status.containerStatuses[0].state // {}) as $s
        | if $s.running then "\($p.metadata.name) running"
          elif $s.terminated then "\($p.metadata.name) terminated"
          elif $s.waiting then "\($p.metadata.name) waiting \($s.waiting.reason // "") \($s.waiting.message // "")"
          else "\($p.metadata.name) pending \([$p.status.conditions[]? | select(.status == "False") | "\(.reason // ""): \(.message // "")"][0] // "")"
          end
      end'
}

deadline=$((SECONDS + TIMEOUT)) last=""
while :; do
  read -r pod state detail < <(pod_state || echo "- none")
  case "$state" in
    running | terminated) break ;;
    waiting)
      read -r reason message <<<"$detail"
      case "$reason" in
        ErrImagePull | ImagePullBackOff | InvalidImageName)
          die "the k6 pod cannot pull $image ($reason: ${message:-no message}). The node must reach Docker Hub; on kind you can pull it on the host instead: docker pull $image && kind load docker-image $image --name $KIND_CLUSTER, then run this again" ;;
        CreateContainerConfigError | CreateContainerError | RunContainerError)
          die "the k6 pod cannot start ($reason: ${message:-no message}); kubectl -n $LAB_NS describe pod $pod" ;;
      esac ;;
    none)
      # No pod at all: the Job controller may be refused one (Pod Security, a quota).
      refused=$("${K[@]}" get events --field-selector "involvedObject.uid=$uid,reason=FailedCreate" -o jsonpath='{.items[-1:].message}' 2>/dev/null || true)
      [[ -z "$refused" ]] || die "job/$job cannot create its pod: $refused" ;;
  esac
  now="$state${detail:+ ($detail)}"
  [[ "$now" == "$last" ]] || log "  k6 pod: $now"
  last=$now
  (( SECONDS < deadline )) || die "the k6 pod did not start within ${TIMEOUT}s (last seen: $now); kubectl -n $LAB_NS describe job $job"
  sleep 1
done

log "pod $pod started ($image); its logs follow (Ctrl-C stops following, the Job runs on)"
"${K[@]}" logs -f "$pod" || true
# kubectl logs -f can end before k6 does (a dropped stream): follow again while the pod runs.
while [[ "$(pod_state 2>/dev/null | cut -d' ' -f2)" == running ]]; do
  log "the log stream ended while k6 runs; following again"
  "${K[@]}" logs -f --since=2s "$pod" || true
done

# The logs end with k6; the Job's condition is its outcome (kubectl logs may also end early).
outcome() {
  "${K[@]}" get job "$job" -o json \
    | jq -er '[.status.conditions[]? | select(.status == "True" and (.type == "Complete" or .type == "Failed")) | .type][0]'
}
wait_until 60 "job/$job to finish (kubectl -n $LAB_NS get job $job)" outcome
if [[ "$(outcome)" == Complete ]]; then
  log "job/$job passed: k6 held every threshold"
  exit 0
fi
code=$("${K[@]}" get pod "$pod" -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}' 2>/dev/null || true)
case "$code" in
  99) why="thresholds crossed (k6 exit code 99): see the summary above" ;;
  107) why="the script threw (k6 exit code 107): see the error above" ;;
  *) why="k6 exit code ${code:-unknown}: see its logs above"; code=1 ;;
esac
# die's message with k6's exit code (scale-auto.mjs tells crossed thresholds from a failed run).
( die "job/$job failed: $why" ) || exit "$code"
