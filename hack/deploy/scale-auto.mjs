// `make scale-auto`: the story on the cluster (scale-auto.sh checks the lab and the port-forwards
// first). The lag monitor, producer and operator answer on the forwarded ports (LAB_*); the
// Deployment, its pods and the LagAutoscaler's events come from kubectl. The burst is the
// producer's POST /burst, or on kind the k6 Job k6-burst: SCALE_AUTO_LOAD is then the command
// that runs it (hack/deploy/load.sh burst ..., one argument per line), and BURST its order count.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { bold, c, dim, get, lagLines, NotHappened, num, post, runStory, scaleEvent, until } from '../lab/view.mjs';

const run = promisify(execFile);
const env = (name) => process.env[name] ?? '';
const [KUBECTL, ...KUBECTL_ARGS] = env('SCALE_AUTO_KUBECTL').split('\n').filter(Boolean);
const PRODUCER = `http://127.0.0.1:${env('LAB_PRODUCER_PORT')}`;
const CONSUMER = `http://127.0.0.1:${env('LAB_CONSUMER_BASE_PORT')}`;
const MONITOR = `http://127.0.0.1:${env('LAB_LAG_MONITOR_PORT')}`;
const BURST = Number(env('BURST'));
const LOAD = env('SCALE_AUTO_LOAD').split('\n').filter(Boolean);

const state = { lag: null, history: [], deployment: null, pods: [], autoscaler: null, seenEvents: new Set(), processingMs: null, marks: {} };

async function kubectl(...args) {
  try {
    return JSON.parse((await run(KUBECTL, [...KUBECTL_ARGS, ...args, '-o', 'json'], { maxBuffer: 8 * 1024 * 1024 })).stdout);
  } catch {
    return null;
  }
}

const ready = (pod) => pod.status?.conditions?.some((cond) => cond.type === 'Ready' && cond.status === 'True');
const livePods = () => state.pods.filter((p) => !p.metadata.deletionTimestamp);
const wanted = () => state.deployment?.spec?.replicas ?? 0;
const seen = () =>
  `lag ${state.lag?.total_lag ?? '-'}, Deployment wants ${wanted()}, ${livePods().filter(ready).length} pods Ready, ${state.lag?.members ?? '-'} group members`;
const mark = (name) => (state.marks[name] ??= Date.now());

// The k6 Job, through load.sh: its output's last lines, and its exit code once it ends (99: k6
// crossed a threshold, the orders were still sent; anything else non-zero: no burst).
const k6 = { lines: [], exit: null };
function startLoad() {
  const child = spawn(LOAD[0], LOAD.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk) => {
    // eslint-disable-next-line no-control-regex
    const text = String(chunk).replace(/\x1b\[[0-9;]*m/g, '');
    k6.lines = [...k6.lines, ...text.split('\n').map((l) => l.trim()).filter(Boolean)].slice(-6);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('error', (err) => keep(err.message));
  child.on('close', (code) => (k6.exit = code ?? 1));
}
// A predicate that fails the story at once when the k6 Job could not run.
const withLoad = (predicate) => () => {
  if (k6.exit !== null && k6.exit !== 0 && k6.exit !== 99) throw new NotHappened(`the k6 Job k6-burst did not run: ${k6.lines.slice(-3).join(' / ')}`);
  return predicate();
};

async function poll({ event }) {
  const [lag, history, deployment, pods, autoscaler, events] = await Promise.all([
    get(`${MONITOR}/lag`),
    get(`${MONITOR}/lag/history?limit=100`),
    kubectl('get', 'deployment', 'consumer'),
    kubectl('get', 'pods', '-l', 'app.kubernetes.io/component=consumer'),
    kubectl('get', 'lagautoscaler', 'consumer'),
    kubectl('get', 'events', '--field-selector', 'involvedObject.kind=LagAutoscaler,involvedObject.name=consumer'),
  ]);
  if (lag) state.lag = lag;
  if (history) state.history = history.points.map((p) => p.total_lag);
  if (deployment) state.deployment = deployment;
  if (pods) state.pods = pods.items.sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp));
  if (autoscaler) state.autoscaler = autoscaler;
  for (const e of events?.items ?? []) {
    if (state.seenEvents.has(e.metadata.uid)) continue;
    state.seenEvents.add(e.metadata.uid);
    // Events from before this run are history, not this story.
    if (!state.marks.burst || Date.parse(e.lastTimestamp ?? e.eventTime ?? 0) < state.marks.burst - 1000) continue;
    const scaled = scaleEvent(e.message ?? '');
    if (scaled) event(scaled.text);
  }
  if (LOAD.length && state.marks.burst && !state.marks.k6) {
    const k6Pods = await kubectl('get', 'pods', '-l', 'batch.kubernetes.io/job-name=k6-burst');
    const started = k6Pods?.items.find((p) => Date.parse(p.metadata.creationTimestamp) >= state.marks.burst - 1000 && p.status?.containerStatuses?.[0]?.state?.running);
    if (started) {
      mark('k6');
      event('k6 pod running: the requests begin');
    }
  }
  if (state.marks.burst) {
    const live = livePods();
    if (wanted() > 1 && !state.marks.patched) {
      mark('patched');
      state.peak = wanted();
    }
    if (state.marks.patched && live.length >= state.peak && live.every((p) => p.status?.phase === 'Running') && !state.marks.running) {
      mark('running');
      event(`${state.peak} consumer pods Running`);
    }
    if (state.marks.patched && (state.lag?.members ?? 0) >= state.peak && !state.marks.members) {
      mark('members');
      event(`${state.peak} members in the group, consuming`);
    }
  }
}

const age = (pod) => {
  const s = Math.round((Date.now() - Date.parse(pod.metadata.creationTimestamp)) / 1000);
  return s < 120 ? `${s}s` : `${Math.round(s / 60)}m`;
};

function body() {
  const lines = [...lagLines(state.lag, state.history), ''];
  const status = state.autoscaler?.status;
  const d = state.deployment;
  const live = livePods();
  const partitions = state.lag?.partition_count ?? 6;
  const dots = Array.from({ length: partitions }, (_, i) => (i < live.filter(ready).length ? c('32', '●') : i < wanted() ? c('33', '◐') : dim('○'))).join(' ');
  lines.push(`${bold('Deployment consumer')} ${dots}  replicas ${d?.spec?.replicas ?? '-'}, ready ${d?.status?.readyReplicas ?? 0}   ${dim('group members')} ${state.lag?.members ?? '-'}   ${dim('operator wants')} ${status?.desiredReplicas ?? '-'}`);
  if (status?.lastDecision) lines.push(`  ${dim('last decision:')} ${status.lastDecision.reason}`);
  if (LOAD.length && state.marks.burst) lines.push(`${bold('k6')} ${dim(k6.exit === null ? 'Job k6-burst' : `Job k6-burst ended (${k6.exit})`)}  ${k6.lines.at(-1) ?? ''}`);
  for (const pod of state.pods) {
    const phase = pod.metadata.deletionTimestamp ? c('34', 'Terminating') : ready(pod) ? c('32', 'Ready') : c('33', pod.status?.phase ?? 'Pending');
    lines.push(`  ${pod.metadata.name.padEnd(34)} ${phase.padEnd(tty() ? 20 : 11)} ${age(pod).padStart(4)}   ${dim('restarts')} ${pod.status?.containerStatuses?.[0]?.restartCount ?? 0}`);
  }
  return lines;
}
const tty = () => process.stdout.isTTY;

function line() {
  const l = state.lag;
  return l && `lag ${l.total_lag} ${l.status} ${num(l.rate_of_change)}/s | consumed ${num(l.consumption_rate)}/s | Deployment ${wanted()} replicas, ${livePods().filter(ready).length} pods Ready, ${l.members} members`;
}

const phases = [
  {
    name: 'Ready',
    label: 'one consumer, no lag',
    caption: 'The lab in the cluster: one consumer pod. The operator watches the lag monitor and owns the consumer Deployment\'s replica count, never above the partition count.',
    run: async ({ event }) => {
      state.processingMs = (await get(`${CONSUMER}/config`))?.processing_time_ms ?? null;
      await until(() => state.lag && state.lag.total_lag === 0 && wanted() === (state.autoscaler?.spec?.minReplicas ?? 1) && livePods().length === wanted(), 180_000, 'the lab settling at minReplicas with no lag', seen);
      event(`${wanted()} consumer pod, ${state.processingMs ?? '?'} ms per message (${state.processingMs ? num(1000 / state.processingMs) : '?'} msg/s)`);
    },
  },
  {
    name: 'Burst',
    label: LOAD.length ? `${BURST} orders from the k6 Job k6-burst` : `${BURST} orders at once`,
    caption: `${LOAD.length ? `${BURST} orders from k6: the Job k6-burst ramps POST /produce/batch from 1 to 9 requests/s and back within 30 s.` : `${BURST} orders at once.`} Lag jumps past the threshold; the operator patches the Deployment's scale subresource; the kubelet starts the pods; each joins the consumer group and takes partitions.`,
    run: async ({ event }) => {
      mark('burst');
      if (LOAD.length) {
        startLoad();
        event('k6 Job k6-burst created (its pod pulls grafana/k6 the first time)');
      } else {
        const result = await post(`${PRODUCER}/burst`, { count: BURST, delay_ms: 5 });
        event(`burst of ${result.sent} orders sent in ${(result.duration_ms / 1000).toFixed(1)} s`);
      }
      // With k6, the pull of its image comes first (load.sh gives up after 300 s).
      await until(withLoad(() => state.marks.patched), LOAD.length ? 360_000 : 60_000, 'the operator scaling the Deployment up', seen);
      await until(withLoad(() => state.marks.members), 120_000, `${state.peak} consumers joining the group`, seen);
      if (LOAD.length) {
        await until(withLoad(() => k6.exit !== null), 300_000, 'the k6 Job k6-burst finishing', seen);
        event(k6.exit === 0 ? 'k6 Job k6-burst done: every threshold held' : 'k6 Job k6-burst done, a threshold crossed (kubectl logs job/k6-burst)');
      }
      // The drain is over when the monitor has seen every order of the burst and lag is 0.
      await until(() => state.lag && state.lag.total_lag === 0 && state.lag.production_rate === 0, 300_000, 'the burst draining to lag 0', seen);
      mark('drained');
      event('burst drained: lag is 0');
    },
  },
  {
    name: 'Cool-down',
    label: 'waiting out the scale-down window',
    get caption() {
      return `Lag is gone. After the ${state.autoscaler?.spec?.scaleDown?.stabilizationWindowSeconds ?? 30} s scale-down window the operator returns to minReplicas in one step; the extra pods finish their message and leave the group.`;
    },
    run: async () => {
      await until(() => wanted() === (state.autoscaler?.spec?.minReplicas ?? 1) && livePods().length === wanted(), 240_000, 'the operator scaling back to minReplicas', seen);
      mark('back');
    },
  },
];

await runStory({
  title: 'scale-auto',
  stopHint: 'Ctrl-C stops the story (the lab keeps running)',
  phases,
  poll,
  body,
  line,
  failHint: 'make status shows the pods, the lag and the LagAutoscaler\'s conditions.',
});

// Times from the first request: k6's pod start with the Job, else the POST /burst.
const at = (name) => (state.marks[name] ? `+${((state.marks[name] - (state.marks.k6 ?? state.marks.burst)) / 1000).toFixed(1)} s` : 'not seen');
const ideal = state.processingMs ? (BURST * state.processingMs) / 1000 / (state.peak ?? 1) : null;
const row = (label, name, extra = '') => console.log(`  ${label.padEnd(30)}${at(name)}${extra}`);
console.log(`\n${bold('Done.')} From the burst of ${BURST}:`);
row(`Deployment scaled to ${state.peak}`, 'patched');
row(`${state.peak} pods Running`, 'running');
row(`${state.peak} members consuming`, 'members');
row('lag 0', 'drained', `   (even split over ${state.peak}: ${ideal ? `${ideal.toFixed(1)} s` : '?'}; one consumer: ${state.processingMs ? `${((BURST * state.processingMs) / 1000).toFixed(0)} s` : '?'})`);
row(`back to ${wanted()} pod${wanted() === 1 ? '' : 's'}`, 'back');
console.log(`Play on your own: the README's exercises work through the port-forwards; ${bold('make status')} shows the lab, ${bold('make scale-manual REPLICAS=3')} scales by hand.`);
