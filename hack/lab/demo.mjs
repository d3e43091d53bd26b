// The demo's scenario and its live terminal view. Plain Node (no build step): it only talks to the
// lab's HTTP APIs. A terminal gets a redrawn screen every second; a pipe gets one line per tick.
// demo.sh runs it with the lab's ports in LAB_* (hack/lib/lab.sh).
import { pathToFileURL } from 'node:url';

const env = (name) => process.env[name] ?? '';
const PRODUCER = `http://127.0.0.1:${env('LAB_PRODUCER_PORT')}`;
const MONITOR = `http://127.0.0.1:${env('LAB_LAG_MONITOR_PORT')}`;
const OPERATOR = `http://127.0.0.1:${env('LAB_OPERATOR_PORT')}`;
const CONSUMER_PORTS = Array.from({ length: Number(env('LAB_PARTITIONS')) }, (_, i) => Number(env('LAB_CONSUMER_BASE_PORT')) + i);
const tty = process.stdout.isTTY;
const started = Date.now();

const state = { phase: 'starting', caption: '', phaseIndex: 0, lag: null, history: [], consumers: [], operator: null, timeline: [], seenEvents: new Set() };

// --- HTTP -------------------------------------------------------------------------------------
async function get(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(900) });
    return res.ok ? await res.json() : null;
  } catch {
    return null;
  }
}
async function post(url, body) {
  const res = await fetch(url, {
    method: 'POST',
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`POST ${url} -> ${res.status} ${await res.text()}`);
  return res.json();
}
const consumers = () => state.consumers.map((c) => `http://127.0.0.1:${c.port}`);
const allConsumers = (path) => Promise.all(consumers().map((url) => post(`${url}${path}`)));

// --- the scenario -----------------------------------------------------------------------------
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the scenario waited for and did not see: the demo says so and exits non-zero. */
export class NotHappened extends Error {}

/** Polls until `predicate` holds; throws NotHappened naming `what` and `seen()` after timeoutMs. */
export async function until(predicate, timeoutMs, what, seen = () => '') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (predicate()) return;
    if (Date.now() >= deadline) {
      const now = seen();
      throw new NotHappened(`${what} did not happen within ${timeoutMs / 1000} s${now ? ` (${now})` : ''}`);
    }
    await sleep(Math.min(250, timeoutMs));
  }
}
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
    run: async () => {
      const result = await post(`${PRODUCER}/burst`, { count: 300, delay_ms: 5 });
      event(`burst of ${result.sent} orders sent in ${(result.duration_ms / 1000).toFixed(1)} s`);
      await until(() => state.lag && state.lag.total_lag === 0 && state.lag.production_rate === 0, 120_000, 'the burst draining to lag 0', lagNow);
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

function event(text) {
  state.timeline.push({ at: Date.now(), text });
  if (!tty) console.log(`${clock(Date.now())}  ${text}`);
}

// --- polling ----------------------------------------------------------------------------------
async function poll() {
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
    const scaled = /from (\d+) to (\d+): (.*)$/.exec(e.message);
    if (!scaled) continue;
    const [, from, to, reason] = scaled;
    state.peak = Math.max(state.peak ?? 1, Number(to));
    event(`${c(Number(to) > Number(from) ? '32' : '34', `operator scaled ${from} → ${to}`)}  ${dim(reason)}`);
  }
}

// --- drawing ----------------------------------------------------------------------------------
const c = (code, text) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
const bold = (t) => c('1', t);
const dim = (t) => c('2', t);
const STATUS_COLOUR = { ok: '32', warning: '33', critical: '31' };
const clock = (t) => {
  const s = Math.max(0, Math.round((t - started) / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};
const num = (v, digits = 1) => (v === null || v === undefined ? '  -  ' : Number(v).toFixed(digits));

function sparkline(values, width) {
  const blocks = '▁▂▃▄▅▆▇█';
  const tail = values.slice(-width);
  const max = Math.max(1, ...tail);
  return tail.map((v) => (v === 0 ? ' ' : blocks[Math.min(7, Math.floor((v / max) * 7.999))])).join('');
}

function wrap(text, width) {
  const lines = [''];
  for (const word of text.split(' ')) {
    if (lines.at(-1).length + word.length + 1 > width && lines.at(-1)) lines.push('');
    lines[lines.length - 1] = lines.at(-1) ? `${lines.at(-1)} ${word}` : word;
  }
  return lines;
}

function bar(value, max, width) {
  const n = max > 0 ? Math.round((value / max) * width) : 0;
  return '█'.repeat(n) + dim('·'.repeat(width - n));
}

function screen() {
  const lag = state.lag;
  const lines = [];
  const phase = `${state.phaseIndex}/${phases.length} ${state.phase}`;
  lines.push(`${bold('backpressure-lab')} demo   ${dim('phase')} ${bold(phase)}   ${dim('elapsed')} ${clock(Date.now())}   ${dim('Ctrl-C stops everything')}`);
  for (const [i, line] of wrap(state.caption, (process.stdout.columns || 100) - 3).entries()) lines.push(c('36', `${i === 0 ? '▶' : ' '} ${line}`));
  lines.push(dim('─'.repeat(96)));
  if (lag) {
    const trend = lag.rate_of_change === null ? '' : lag.rate_of_change > 0 ? c('31', `↑ +${num(lag.rate_of_change)}/s`) : lag.rate_of_change < 0 ? c('32', `↓ ${num(lag.rate_of_change)}/s`) : '→ 0/s';
    lines.push(`${bold('Lag')} ${bold(String(lag.total_lag).padStart(6))}  ${c(STATUS_COLOUR[lag.status], bold(lag.status.toUpperCase().padEnd(8)))} ${trend.padEnd(tty ? 22 : 12)}  oldest ${num(lag.lag_seconds)} s   produced ${num(lag.production_rate)}/s   consumed ${num(lag.consumption_rate)}/s`);
    const span = Math.max(20, Math.min(100, (process.stdout.columns || 100) - 30));
    lines.push(`${dim('lag')} ${c('33', sparkline(state.history, span))} ${dim(`max ${Math.max(0, ...state.history.slice(-span))}`)}`);
    const maxLag = Math.max(1, ...lag.partitions.map((p) => p.lag));
    const parts = lag.partitions.map((p) => `p${p.partition} ${bar(p.lag, maxLag, 6)} ${String(p.lag).padStart(4)}`);
    lines.push(`${dim('partitions')}  ${parts.slice(0, 3).join('   ')}`);
    lines.push(`            ${parts.slice(3).join('   ')}`);
  } else {
    lines.push('waiting for the lag monitor...');
  }
  lines.push('');
  const op = state.operator?.status;
  const partitions = lag?.partition_count ?? 6;
  const live = state.consumers.length;
  const dots = Array.from({ length: partitions }, (_, i) => (i < live ? c('32', '●') : dim('○'))).join(' ');
  lines.push(`${bold('Consumers')} ${dots}  ${live} running / ${partitions} partitions   ${dim('operator wants')} ${op?.desiredReplicas ?? '-'}`);
  if (op?.lastDecision) lines.push(`  ${dim('last decision:')} ${op.lastDecision.reason}`);
  for (const s of state.consumers) {
    const parts = s.assigned_partitions.length ? `p${s.assigned_partitions.join(',')}` : '-';
    lines.push(`  ${s.consumer_id.padEnd(11)} :${s.port}  ${parts.padEnd(14)} ${String(s.processed).padStart(5)} done  ${num(s.rate_10s)}/s  ${String(s.processing_time_ms).padStart(4)} ms${s.paused ? c('33', '  PAUSED') : ''}`);
  }
  lines.push('');
  lines.push(bold('Timeline'));
  for (const e of state.timeline.slice(-9)) lines.push(`  ${dim(clock(e.at))}  ${e.text}`);
  return lines.join('\n');
}

const ESC = String.fromCharCode(27);
const ANSI_CODE = new RegExp(`(${ESC}\\[[0-9;]*m)`);

/** Cuts a line to the terminal's width, counting only visible characters (not colour codes). */
function fit(line, width) {
  let visible = 0;
  let out = '';
  for (const part of line.split(ANSI_CODE)) {
    if (part.startsWith(`${ESC}[`)) {
      out += part;
      continue;
    }
    const chars = [...part].slice(0, Math.max(0, width - visible));
    out += chars.join('');
    visible += chars.length;
  }
  return out;
}

function draw() {
  if (tty) {
    const width = process.stdout.columns || 100;
    const lines = screen().split('\n').map((line) => fit(line, width - 1));
    process.stdout.write(`\x1b[H\x1b[J${lines.join('\n')}\n`);
  } else if (state.lag) {
    const l = state.lag;
    console.log(`${clock(Date.now())}  [${state.phase}] lag ${l.total_lag} ${l.status} ${num(l.rate_of_change)}/s | produced ${num(l.production_rate)}/s consumed ${num(l.consumption_rate)}/s | consumers ${state.consumers.length}/${l.partition_count}`);
  }
}

// --- main -------------------------------------------------------------------------------------
function restoreTerminal() {
  if (tty) process.stdout.write('\x1b[?25h');
}

async function main() {
  // Ctrl-C, a closed terminal (SIGHUP) and kill (SIGTERM) all end the demo; demo.sh then stops the lab.
  for (const [signal, code] of [['SIGINT', 130], ['SIGHUP', 129], ['SIGTERM', 143]]) {
    process.on(signal, () => {
      restoreTerminal();
      process.exit(code);
    });
  }
  if (tty) process.stdout.write('\x1b[?25l\x1b[2J');
  let tick = 0;
  const refresh = setInterval(async () => {
    await poll();
    if (tty || tick++ % 3 === 0) draw();
  }, 1000);
  await poll();
  const burstFrom = { at: 0 };
  for (const [i, phase] of phases.entries()) {
    state.phase = phase.name;
    state.caption = phase.caption;
    state.phaseIndex = i + 1;
    event(`${bold(phase.name)}: ${phase.label}`);
    if (phase.name === 'Burst') burstFrom.at = Date.now();
    await phase.run();
    if (phase.name === 'Burst') state.burstSeconds = (Date.now() - burstFrom.at) / 1000;
  }
  clearInterval(refresh);
  await poll();
  draw();
  restoreTerminal();
  console.log(`\n${bold('Done.')} The burst of 300 drained in ${state.burstSeconds?.toFixed(1)} s with up to ${state.peak ?? 1} consumers (one consumer alone: 300 x 0.5 s = 150 s).`);
  console.log(`Play on your own: ${bold('make local-up AUTOSCALE=1')} and the exercises in the README; the live chart is on http://127.0.0.1:8010/ while the lab runs.`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    restoreTerminal();
    if (err instanceof NotHappened) {
      event(c('31', `not as expected: ${err.message}`));
      if (tty) draw();
      console.error(`\n${c('31', 'demo failed:')} ${err.message}. The lab's logs are in ${env('LAB_LOG_DIR')}/.`);
    } else {
      console.error(`demo failed: ${err.message}`);
    }
    process.exit(1);
  });
}
