#!/usr/bin/env bash
# make port-forward: forwards the lab's Services to the seed's ports on localhost, in the
# background, so that every README exercise works with the same curl lines:
#   localhost:8000 -> svc/producer   localhost:8001 -> svc/consumer (one of its pods)
#   localhost:8010 -> svc/lag-monitor   localhost:8020 -> svc/lag-autoscaler (the operator)
# and the tools in namespace monitoring: localhost:9090 Prometheus, :16686 Jaeger, and on kind
# :3001 Grafana, :8080 the Kafka UI.
# Each forward is a small supervisor around `kubectl port-forward` that starts it again when it
# ends (its pod went away: a scale-down, a rollout, a deleted pod), so the ports stay usable.
# Pid files and logs in .lab/cluster/port-forward. Safe to run again: running forwards stay.
#   port-forward.sh [start]      start what is not running (STOP=1 means stop)
#   port-forward.sh stop         stop them all
# LAB_PRODUCER_PORT, LAB_CONSUMER_BASE_PORT, LAB_LAG_MONITOR_PORT, LAB_OPERATOR_PORT move a local port.
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/deploy/lib.sh"

# supervise <kubectl> <context> <namespace> <service> <local port> <remote port>: the loop (run
# with setsid).
supervise() {
  local kubectl=$1 ctx=$2 ns=$3 svc=$4 lport=$5 rport=$6 child=""
  trap '[[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null; wait 2>/dev/null; exit 0' TERM INT HUP
  while :; do
    "$kubectl" --context "$ctx" -n "$ns" port-forward "svc/$svc" "$lport:$rport" &
    child=$!
    wait "$child" || true
    child=""
    echo "port-forward.sh: kubectl port-forward svc/$svc ended; starting it again in 1 s" >&2
    sleep 1
  done
}

stop_all() {
  local files=() svc
  for svc in "${PF_SERVICES[@]}" "${PF_TOOLS[@]}" "${PF_KIND_TOOLS[@]}"; do files+=("$PF_DIR/$svc.pid"); done
  stop_pid_files 10 "${files[@]}"
  log "port-forwards stopped"
}

start_all() {
  local svc lport rport pid started=() ctx ns tools=()
  ctx=$(lab_context) || die "no kubectl context (no cluster): make up first"
  use_context "$ctx"
  api_up || die "the cluster (context $LAB_CONTEXT) does not answer: make up first"
  "${K[@]}" get service "${PF_SERVICES[@]}" >/dev/null 2>&1 || die "the lab's Services are not in $LAB_NS (context $LAB_CONTEXT): make up first"
  # The tools make up installed; one missing (an older make up, or removed by hand) is skipped.
  for svc in "${PF_TOOLS[@]}" "${PF_KIND_TOOLS[@]}"; do
    if "${KC[@]}" -n "$MON_NS" get service "$svc" >/dev/null 2>&1; then tools+=("$svc")
    elif [[ " ${PF_TOOLS[*]} " == *" $svc "* || $(lab_cluster) == kind ]]; then log "no Service $svc in $MON_NS: not forwarded (make up installs it)"; fi
  done
  mkdir -p "$PF_DIR"
  for svc in "${PF_SERVICES[@]}" "${tools[@]}"; do
    lport=${PF_LOCAL[$svc]} rport=${PF_REMOTE[$svc]} ns=$LAB_NS
    [[ " ${PF_SERVICES[*]} " == *" $svc "* ]] || ns=$MON_NS
    if pf_alive "$svc"; then
      log "localhost:$lport -> svc/$svc:$rport already forwarded (pid $(cat "$PF_DIR/$svc.pid"))"
      continue
    fi
    port_free "$lport" || die "localhost:$lport is taken by another process (make local-down stops the local lab; or set the LAB_*_PORT variables)"
    setsid bash "$0" --supervise "$(kubectl_path)" "$LAB_CONTEXT" "$ns" "$svc" "$lport" "$rport" >>"$PF_DIR/$svc.log" 2>&1 </dev/null &
    echo $! >"$PF_DIR/$svc.pid"
    started+=("$svc")
  done
  for svc in "${started[@]}"; do
    lport=${PF_LOCAL[$svc]} pid=$(cat "$PF_DIR/$svc.pid")
    wait_until 30 "localhost:$lport -> svc/$svc (log: $PF_DIR/$svc.log)" bash -c "exec 3<>/dev/tcp/127.0.0.1/$lport"
    log "localhost:$lport -> svc/$svc:${PF_REMOTE[$svc]} (pid $pid, log $PF_DIR/$svc.log)"
  done
  if [[ " ${tools[*]} " == *" kube-prometheus-stack-grafana "* ]]; then
    log "Grafana: http://localhost:${PF_LOCAL[kube-prometheus-stack-grafana]} (dashboard \"Kafka Backpressure Lab\"), user admin, password:"
    log "  kubectl --context $LAB_CONTEXT -n $MON_NS get secret kube-prometheus-stack-grafana -o jsonpath='{.data.admin-password}' | base64 -d"
  fi
  log "forwarding in the background (context $LAB_CONTEXT); make port-forward STOP=1 stops it"
}

case "${1:-}" in
  --supervise) shift; supervise "$@" ;;
  stop) stop_all ;;
  start | "") if [[ "${STOP:-0}" == 1 ]]; then stop_all; else start_all; fi ;;
  *) die "usage: port-forward.sh [start|stop]" ;;
esac
