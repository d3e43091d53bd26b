// `make demo`: the story on local processes (demo.sh starts the lab and stops it afterwards),
// drawn by view.mjs. demo.sh runs it with the lab's ports in LAB_* (hack/lib/lab.sh).
import { bold, c, dim, get, lagLines, num, post, runStory, scaleEvent, sleep, until } from './view.mjs';

const env = (name) => process.env[name] ?? '';
const PRODUCER = `http://127.0.0.1:${env('LAB_PRODUCER_PORT')}`;
const MONITOR = `http://127.0.0.1:${env('LAB_LAG_MONITOR_PORT')}`;
const OPERATOR = `http://127.0.0.1:${env('LAB_OPERATOR_PORT')}`;
const CONSUMER_PORTS = Array.from({ length: Number(env('LAB_PARTITIONS')) }, (_, i) => Number(env('LAB_CONSUMER_BASE_PORT')) + i);

const state = { lag: null, history: [], consumers: [], operator: null, seenEvents: new Set(), peak: 1, burstSeconds: null };

const consumers = () => state.consumers.map((s) => `http://127.0.0.1:${s.port}`);
const allConsumers = (path) => Promise.all(consumers().map((url) => post(`${url}${path}`)));
const lagNow = () => (state.lag ? `lag ${state.lag.total_lag}, ${state.consumers.length} consumers running, operator wants ${state.operator?.status?.desiredReplicas ?? '-'}` : 'no answer from the lag monitor');
const replicas = () => state.operator?.status?.currentReplicas ?? state.consumers.length;

const phases = [
  {
    name: 'Baseline',
    label: 'producer at 1 msg/s, one consumer (2 msg/s of capacity)',
    caption: 'One consumer at 500 ms per message does 1000/500 = 2 msg/s. The producer sends 1 msg/s: lag stays near 0.',
    run: async () => {
      await post(`${PRODUCER}/config`, { rate_ms: 1000, batch_size: 1, running: true });
      await sleep(20_000);
    },
  },
  {
    name: 'Pause',
    label: 'consumer-1 paused: lag grows, the member stays',
    caption: 'consumer-1 is paused with the client\'s real pause: it stays in the group (no rebalance) while lag grows. Below lagThreshold 50 the operator holds.',
    run: async () => {
      await allConsumers('/pause');
      await sleep(15_000);
    },
  },
  {
    name: 'Resume',
    label: 'consumer-1 resumed: the backlog drains',
    caption: 'Resumed: 2 msg/s of capacity against 1 msg/s of arrivals drains the backlog at about 1 msg/s.',
    run: async () => {
      await allConsumers('/resume');
      await until(() => state.lag && state.lag.total_lag <= 1, 30_000, 'the backlog draining after resume', lagNow);
    },
  },
  {
    name: 'Fast mode',
    label: '100 ms per message (10 msg/s), producer at 5 msg/s',
    caption: 'POST /fast?time_ms=100: 1000/100 = 10 msg/s per consumer. The producer goes to 5 msg/s and one consumer still keeps up.',
    run: async () => {
      await allConsumers('/fast?time_ms=100');
      await post(`${PRODUCER}/config`, { rate_ms: 200, batch_size: 1, running: true });
      await sleep(15_000);
      await post(`${PRODUCER}/stop`);
      await allConsumers('/slow?time_ms=500');
    },
  },
  {
    name: 'Burst',
    label: '300 orders at once at 500 ms per message',
    caption: '300 orders at once, consumers back at 500 ms. Lag jumps past the threshold and the operator scales consumers up to the 6 partitions, never beyond.',
    run: async ({ event }) => {
      const sent = Date.now();
      const result = await post(`${PRODUCER}/burst`, { count: 300, delay_ms: 5 });
      event(`burst of ${result.sent} orders sent in ${(result.duration_ms / 1000).toFixed(1)} s`);
      await until(() => state.lag && state.lag.total_lag === 0 && state.lag.production_rate === 0, 120_000, 'the burst draining to lag 0', lagNow);
      state.burstSeconds = (Date.now() - sent) / 1000;
      event('burst drained: lag is 0');
    },
  },
  {
    name: 'Cool-down',
    label: 'lag is gone; waiting out the scale-down window',
    caption: 'Lag is gone. After the 30 s scale-down window the operator returns to minReplicas, one step, no flapping.',
    run: async () => {
      await until(() => replicas() === 1 && state.consumers.length === 1, 120_000, 'the operator scaling back to 1 consumer', lagNow);
      await sleep(3000);
    },
  },
];


async function poll({ event }) {
  const [lag, history, operator, ...stats] = await Promise.all([
    get(`${MONITOR}/lag`),
    get(`${MONITOR}/lag/history?limit=100`),
    get(`${OPERATOR}/status`),
    ...CONSUMER_PORTS.map((port) => get(`http://127.0.0.1:${port}/stats`).then((s) => s && { ...s, port })),
  ]);
  if (lag) state.lag = lag;
  if (history) state.history = history.points.map((p) => p.total_lag);
  state.consumers = stats.filter(Boolean);
  const autoscaler = operator?.autoscalers?.[0];
  if (autoscaler) state.operator = autoscaler;
  for (const e of operator?.events ?? []) {
    const key = `${e.time}|${e.reason}`;
    if (state.seenEvents.has(key)) continue;
    state.seenEvents.add(key);
    const scaled = scaleEvent(e.message);
    if (!scaled) continue;
    state.peak = Math.max(state.peak, scaled.to);
    event(scaled.text);
  }
}

function body() {
  const lines = [...lagLines(state.lag, state.history), ''];
  const op = state.operator?.status;
  const partitions = state.lag?.partition_count ?? 6;
  const live = state.consumers.length;
  const dots = Array.from({ length: partitions }, (_, i) => (i < live ? c('32', '●') : dim('○'))).join(' ');
  lines.push(`${bold('Consumers')} ${dots}  ${live} running / ${partitions} partitions   ${dim('operator wants')} ${op?.desiredReplicas ?? '-'}`);
  if (op?.lastDecision) lines.push(`  ${dim('last decision:')} ${op.lastDecision.reason}`);
  for (const s of state.consumers) {
    const parts = s.assigned_partitions.length ? `p${s.assigned_partitions.join(',')}` : '-';
    lines.push(`  ${s.consumer_id.padEnd(11)} :${s.port}  ${parts.padEnd(14)} ${String(s.processed).padStart(5)} done  ${num(s.rate_10s)}/s  ${String(s.processing_time_ms).padStart(4)} ms${s.paused ? c('33', '  PAUSED') : ''}`);
  }
  return lines;
}

function line() {
  const l = state.lag;
  return l && `lag ${l.total_lag} ${l.status} ${num(l.rate_of_change)}/s | produced ${num(l.production_rate)}/s consumed ${num(l.consumption_rate)}/s | consumers ${state.consumers.length}/${l.partition_count}`;
}

await runStory({
  title: 'demo',
  stopHint: 'Ctrl-C stops everything',
  phases,
  poll,
  body,
  line,
  failHint: `The lab's logs are in ${env('LAB_LOG_DIR')}/.`,
});
console.log(`\n${bold('Done.')} The burst of 300 drained in ${state.burstSeconds?.toFixed(1)} s with up to ${state.peak} consumers (one consumer alone: 300 x 0.5 s = 150 s).`);
console.log(`Play on your own: ${bold('make local-up AUTOSCALE=1')} and the exercises in the README; the live chart is on http://127.0.0.1:${env('LAB_LAG_MONITOR_PORT')}/ while the lab runs.`);
