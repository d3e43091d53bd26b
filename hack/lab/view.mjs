// What the lab's narrated scenarios share (make demo on processes, make scale-auto on a cluster):
// HTTP helpers, waits that say what did not happen, the terminal drawing, and the story runner.
// Plain Node, no build step. A terminal gets a screen redrawn every second; a pipe gets a line
// every 3 s.

// --- HTTP -------------------------------------------------------------------------------------
export async function get(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(900) });
    return res.ok ? await res.json() : null;
  } catch {
    return null;
  }
}

export async function post(url, body) {
  const res = await fetch(url, {
    method: 'POST',
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`POST ${url} -> ${res.status} ${await res.text()}`);
  return res.json();
}

// --- waiting ----------------------------------------------------------------------------------
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the scenario waited for and did not see: the story says so and exits non-zero. */
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

// --- drawing ----------------------------------------------------------------------------------
const tty = process.stdout.isTTY;
export const c = (code, text) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
export const bold = (t) => c('1', t);
export const dim = (t) => c('2', t);
const STATUS_COLOUR = { ok: '32', warning: '33', critical: '31' };
export const num = (v, digits = 1) => (v === null || v === undefined ? '  -  ' : Number(v).toFixed(digits));
const columns = () => process.stdout.columns || 100;

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

/** The lag monitor's view: total, status, trend, rates, a sparkline of history, each partition. */
export function lagLines(lag, history) {
  if (!lag) return ['waiting for the lag monitor...'];
  const trend = lag.rate_of_change === null ? '' : lag.rate_of_change > 0 ? c('31', `↑ +${num(lag.rate_of_change)}/s`) : lag.rate_of_change < 0 ? c('32', `↓ ${num(lag.rate_of_change)}/s`) : '→ 0/s';
  const span = Math.max(20, Math.min(100, columns() - 30));
  const maxLag = Math.max(1, ...lag.partitions.map((p) => p.lag));
  const parts = lag.partitions.map((p) => `p${p.partition} ${bar(p.lag, maxLag, 6)} ${String(p.lag).padStart(4)}`);
  return [
    `${bold('Lag')} ${bold(String(lag.total_lag).padStart(6))}  ${c(STATUS_COLOUR[lag.status], bold(lag.status.toUpperCase().padEnd(8)))} ${trend.padEnd(tty ? 22 : 12)}  oldest ${num(lag.lag_seconds)} s   produced ${num(lag.production_rate)}/s   consumed ${num(lag.consumption_rate)}/s`,
    `${dim('lag')} ${c('33', sparkline(history, span))} ${dim(`max ${Math.max(0, ...history.slice(-span))}`)}`,
    `${dim('partitions')}  ${parts.slice(0, 3).join('   ')}`,
    `            ${parts.slice(3).join('   ')}`,
  ];
}

/** "operator scaled 1 → 6  <reason>" from a ScaledUp/ScaledDown event message, or null. */
export function scaleEvent(message) {
  const scaled = /from (\d+) to (\d+): (.*)$/.exec(message);
  if (!scaled) return null;
  const [, from, to, reason] = scaled;
  return { from: Number(from), to: Number(to), text: `${c(Number(to) > Number(from) ? '32' : '34', `operator scaled ${from} → ${to}`)}  ${dim(reason)}` };
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

// --- the story runner -------------------------------------------------------------------------
/**
 * Plays `phases` ({ name, label, caption, run(story) }) in order while `poll()` refreshes the
 * caller's state every second and `body()` (terminal) or `line()` (pipe) draws it. Returns the
 * story ({ event, clock }) once every phase ran; on a NotHappened it shows what did not happen and
 * exits 1 (`failHint` says where to look). Ctrl-C, SIGHUP and SIGTERM exit at once; the caller's
 * shell script stops what the story started.
 */
export async function runStory({ title, stopHint, phases, poll, body, line, failHint }) {
  const started = Date.now();
  const state = { phase: 'starting', caption: '', phaseIndex: 0, timeline: [] };
  const clock = (t) => {
    const s = Math.max(0, Math.round((t - started) / 1000));
    return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  };
  const story = {
    clock,
    event(text) {
      state.timeline.push({ at: Date.now(), text });
      if (!tty) console.log(`${clock(Date.now())}  ${text}`);
    },
  };
  const screen = () => {
    const lines = [`${bold('backpressure-lab')} ${title}   ${dim('phase')} ${bold(`${state.phaseIndex}/${phases.length} ${state.phase}`)}   ${dim('elapsed')} ${clock(Date.now())}   ${dim(stopHint)}`];
    for (const [i, text] of wrap(state.caption, columns() - 3).entries()) lines.push(c('36', `${i === 0 ? '▶' : ' '} ${text}`));
    lines.push(dim('─'.repeat(96)), ...body(), '', bold('Timeline'));
    for (const e of state.timeline.slice(-9)) lines.push(`  ${dim(clock(e.at))}  ${e.text}`);
    return lines;
  };
  const draw = () => {
    if (tty) process.stdout.write(`\x1b[H\x1b[J${screen().map((l) => fit(l, columns() - 1)).join('\n')}\n`);
    else {
      const text = line();
      if (text) console.log(`${clock(Date.now())}  [${state.phase}] ${text}`);
    }
  };
  const restoreTerminal = () => tty && process.stdout.write('\x1b[?25h');
  for (const [signal, code] of [['SIGINT', 130], ['SIGHUP', 129], ['SIGTERM', 143]]) {
    process.on(signal, () => {
      restoreTerminal();
      process.exit(code);
    });
  }

  if (tty) process.stdout.write('\x1b[?25l\x1b[2J');
  let tick = 0;
  const refresh = setInterval(async () => {
    await poll(story);
    if (tty || tick++ % 3 === 0) draw();
  }, 1000);
  try {
    await poll(story);
    for (const [i, phase] of phases.entries()) {
      Object.assign(state, { phase: phase.name, caption: phase.caption, phaseIndex: i + 1 });
      story.event(`${bold(phase.name)}: ${phase.label}`);
      await phase.run(story);
    }
    clearInterval(refresh);
    await poll(story);
    draw();
    restoreTerminal();
    return story;
  } catch (err) {
    clearInterval(refresh);
    restoreTerminal();
    if (err instanceof NotHappened) {
      story.event(c('31', `not as expected: ${err.message}`));
      if (tty) draw();
      console.error(`\n${c('31', `${title} failed:`)} ${err.message}. ${failHint}`);
    } else {
      console.error(`${title} failed: ${err.message}`);
    }
    process.exit(1);
  }
}
