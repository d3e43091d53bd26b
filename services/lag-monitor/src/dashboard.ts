import * as helpers from './dashboard-helpers.js';

/**
 * The live lag page at GET /: one self-contained document (inline CSS, inline vanilla JS, charts
 * as inline SVG) that polls this monitor's own JSON endpoints. Nothing is fetched from anywhere
 * else, so it works offline, and the policy below makes the browser enforce that.
 */
export const DASHBOARD_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'";

// The helpers are unit-tested TypeScript; the page gets their compiled source.
const helperSource = Object.values(helpers)
  .map((fn) => fn.toString())
  .join('\n\n');

const style = `
:root {
  --bg: #f1f5f9; --card: #ffffff; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0;
  --ok: #15803d; --warning: #c2410c; --critical: #b91c1c; --unknown: #64748b;
  --lag: #2563eb; --produced: #7c3aed; --consumed: #0d9488; --rebalance: #db2777;
}
* { box-sizing: border-box; }
/* One screen: the page fills the window and the alert and advice lists scroll inside it. */
html, body { height: 100%; }
body { display: flex; flex-direction: column; margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { display: flex; align-items: baseline; gap: 14px; padding: 12px 20px; background: var(--ink); color: #f8fafc; }
header h1 { margin: 0; font-size: 18px; font-weight: 600; }
header .subject { color: #cbd5e1; }
header .updated { margin-left: auto; color: #94a3b8; font-variant-numeric: tabular-nums; }
.banner { margin: 12px 20px 0; padding: 10px 14px; border-radius: 8px; font-weight: 600; }
.banner[data-kind="stale"] { background: #fef3c7; color: #78350f; border: 1px solid #f59e0b; }
.banner[data-kind="disconnected"] { background: #fee2e2; color: #7f1d1d; border: 1px solid #ef4444; }
main { flex: 1; min-height: 0; display: grid; grid-template-rows: auto auto minmax(160px, 1fr); gap: 12px; padding: 12px 20px 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; min-width: 0; }
.card-title { display: flex; align-items: center; gap: 14px; font-weight: 600; margin-bottom: 6px; }
.label, .unit { color: var(--muted); font-size: 12px; }
.label { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; white-space: nowrap; }
.summary { display: grid; grid-template-columns: 210px repeat(5, 1fr); gap: 12px; }
.badge { color: #fff; border: none; background: var(--unknown); display: flex; flex-direction: column; justify-content: center; }
.badge .label, .badge .unit { color: rgba(255, 255, 255, .85); }
.badge .status { font-size: 34px; font-weight: 800; letter-spacing: .04em; text-transform: uppercase; line-height: 1.1; }
body[data-status="ok"] .badge { background: var(--ok); }
body[data-status="warning"] .badge { background: var(--warning); }
body[data-status="critical"] .badge { background: var(--critical); }
body[data-connection="stale"] .badge, body[data-connection="disconnected"] .badge { background: var(--unknown); }
.value { font-size: 26px; font-weight: 700; font-variant-numeric: tabular-nums; white-space: nowrap; margin: 2px 0; }
.value .vs { font-size: 14px; font-weight: 400; color: var(--muted); }
.growing { color: var(--critical); }
.draining { color: var(--ok); }
.middle { display: grid; grid-template-columns: 1fr 380px; gap: 12px; }
.chart { display: block; width: 100%; }
.chart.lag { height: 210px; }
.chart.rates { height: 120px; margin-top: 4px; }
.chart text { font-size: 11px; fill: var(--muted); font-variant-numeric: tabular-nums; }
.chart .grid { stroke: var(--line); }
.chart .line { fill: none; stroke-width: 2; stroke-linejoin: round; }
.chart .area { stroke: none; }
.chart .lag.line { stroke: var(--lag); }
.chart .lag.area { fill: var(--lag); fill-opacity: .12; }
.chart .produced.line { stroke: var(--produced); }
.chart .consumed.line { stroke: var(--consumed); }
.chart .threshold { stroke-width: 1.5; stroke-dasharray: 6 4; }
.chart .threshold.warning { stroke: var(--warning); }
.chart .threshold.critical { stroke: var(--critical); }
.chart text.warning { fill: var(--warning); }
.chart text.critical { fill: var(--critical); }
/* A membership change: a line where it was seen, a band over the stop it caused. */
.chart line.rebalance { stroke: var(--rebalance); stroke-width: 1.5; }
.chart text.rebalance { fill: var(--rebalance); }
.chart rect.rebalance-stop { fill: var(--rebalance); fill-opacity: .12; }
.card-title .window { font-weight: 400; color: var(--muted); }
.legend { margin-left: auto; display: flex; gap: 12px; font-weight: 400; font-size: 12px; color: var(--muted); }
.legend i { display: inline-block; width: 14px; height: 3px; margin-right: 5px; vertical-align: middle; border-radius: 2px; }
.legend i.dashed { height: 0; border-top: 2px dashed; border-radius: 0; }
.partition { display: grid; grid-template-columns: 34px 1fr 56px 70px; align-items: center; column-gap: 10px; margin: 9px 0; }
.partition .name { font-weight: 600; color: var(--muted); }
.partition .bar { height: 14px; background: var(--bg); border-radius: 7px; overflow: hidden; }
.partition .fill { height: 100%; background: var(--lag); border-radius: 7px; transition: width .4s; }
.partition .lag { text-align: right; font-weight: 700; font-variant-numeric: tabular-nums; }
.partition .offsets { grid-column: 2 / 5; color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.partition .pill { justify-self: end; }
/* Burrow-style evaluations: OK, PAUSED (a consumer paused itself and said so), WARN, STALL (a member makes no progress), STOP (nobody consumes). */
.pill[data-evaluation="OK"] { background: var(--ok); }
.pill[data-evaluation="PAUSED"] { background: #2563eb; }
.pill[data-evaluation="WARN"] { background: var(--warning); }
.pill[data-evaluation="STALL"] { background: var(--critical); }
.pill[data-evaluation="STOP"] { background: #450a0a; }
.evaluation-reason { color: var(--muted); font-size: 12px; }
/* What the backpressure strategies are doing now: consumers paused, the producer throttled. */
.strategies { display: flex; flex-wrap: wrap; gap: 4px 18px; color: var(--muted); font-size: 12px; margin: 2px 0 6px; }
.strategies [data-active="true"] { color: inherit; font-weight: 600; }
.bottom { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; min-height: 0; }
.bottom .card { display: flex; flex-direction: column; min-height: 0; }
.bottom ol, .bottom ul { list-style: none; margin: 0; padding: 0; overflow: auto; }
.bottom li { display: grid; grid-template-columns: auto 1fr; column-gap: 10px; padding: 6px 0; border-top: 1px solid var(--line); }
.bottom li:first-child { border-top: none; }
.bottom .detail { grid-column: 2; color: var(--muted); font-size: 12px; }
.bottom .empty { display: block; color: var(--muted); }
.pill { align-self: start; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; color: #fff; background: var(--unknown); white-space: nowrap; }
.pill.ok { background: var(--ok); }
.pill.warning { background: var(--warning); }
.pill.critical { background: var(--critical); }
.pill.info { background: var(--lag); }
`;

const body = `
<header>
  <h1>Lag monitor</h1>
  <span class="subject" id="subject"></span>
  <span class="updated" id="updated">connecting…</span>
</header>
<div class="banner" id="banner" role="alert" hidden></div>
<main>
  <section class="summary">
    <div class="card badge">
      <div class="label" id="status-label">Status</div>
      <div class="status" id="status">…</div>
      <div class="unit" id="thresholds"></div>
    </div>
    <div class="card">
      <div class="label">Total lag</div>
      <div class="value" id="total-lag">–</div>
      <div class="unit">messages behind</div>
    </div>
    <div class="card">
      <div class="label">Lag in time</div>
      <div class="value" id="lag-seconds">–</div>
      <div class="unit">oldest waiting message</div>
    </div>
    <div class="card">
      <div class="label">Rate of change</div>
      <div class="value" id="rate-of-change">–</div>
      <div class="unit" id="drain" title="drain estimate">lag per second</div>
    </div>
    <div class="card">
      <div class="label">Produced vs consumed</div>
      <div class="value"><span id="production-rate">–</span> <span class="vs">vs</span> <span id="consumption-rate">–</span></div>
      <div class="unit">messages per second</div>
    </div>
    <div class="card">
      <div class="label">Members / partitions</div>
      <div class="value" id="members">–</div>
      <div class="unit" id="group-state"></div>
    </div>
  </section>
  <section class="middle">
    <div class="card">
      <div class="card-title">Total lag <span class="window" id="lag-window"></span>
        <span class="legend"><span><i style="background: var(--lag)"></i>lag</span><span><i class="dashed" style="color: var(--warning)"></i>warning</span><span><i class="dashed" style="color: var(--critical)"></i>critical</span><span><i style="background: var(--rebalance)"></i>rebalance</span></span>
      </div>
      <svg class="chart lag" id="lag-chart" role="img" aria-label="total lag over the last five minutes"></svg>
      <div class="card-title">Messages per second <span class="window" id="rate-window"></span>
        <span class="legend"><span><i style="background: var(--produced)"></i>produced</span><span><i style="background: var(--consumed)"></i>consumed</span></span>
      </div>
      <svg class="chart rates" id="rate-chart" role="img" aria-label="production and consumption rates over the last five minutes"></svg>
    </div>
    <div class="card">
      <div class="card-title">Lag per partition <span class="pill" id="evaluation" data-evaluation="">…</span></div>
      <div class="evaluation-reason" id="evaluation-reason"></div>
      <div class="strategies" id="strategies"><span id="paused"></span><span id="throttle"></span></div>
      <div id="partitions"></div>
    </div>
  </section>
  <section class="bottom">
    <div class="card">
      <div class="card-title">Recent alerts</div>
      <ol id="alerts"></ol>
    </div>
    <div class="card">
      <div class="card-title">Recommendations</div>
      <ul id="recommendations"></ul>
    </div>
  </section>
</main>
`;

// Plain JS for the browser. It sits in a template literal, so it uses string concatenation
// rather than template literals of its own.
const script = `
'use strict';
// The charts show at most this much time, and less while the data covers less.
const WINDOW_MS = 5 * 60 * 1000;
const REFRESH_MS = 1000;
// The chart's points come from /lag between full reloads of /lag/history, which are costlier.
const HISTORY_RELOAD_MS = 5000;
const ALERTS_SHOWN = 8;
const SVG_NS = 'http://www.w3.org/2000/svg';

const state = { config: null, points: [], latest: null, historyDueAt: 0, rebalances: [], producerThrottle: null };
const byId = (id) => document.getElementById(id);

/** One element, with a class and text when given; text never goes through innerHTML. */
function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

const clock = (t) => new Date(t).toLocaleTimeString('en-GB');

async function getJson(path) {
  let res;
  try {
    res = await fetch(path, { cache: 'no-store' });
  } catch {
    throw new Error('cannot reach the lag monitor');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error('GET /' + path + ' answered ' + res.status + (body.error ? ': ' + body.error : ''));
  return body;
}

function toPoint(s) {
  return { t: Date.parse(s.timestamp), lag: s.total_lag, produced: s.production_rate, consumed: s.consumption_rate };
}

/** Keeps points the page saw before the reloaded history starts, so the chart outlives a short history. */
function mergeHistory(history) {
  const fresh = history.points.map(toPoint);
  const firstFresh = fresh.length ? fresh[0].t : Infinity;
  state.points = state.points.filter((p) => p.t < firstFresh).concat(fresh);
}

function addPoint(snapshot) {
  const point = toPoint(snapshot);
  const last = state.points[state.points.length - 1];
  if (!last || point.t > last.t) state.points.push(point);
  state.points = state.points.filter((p) => p.t >= point.t - WINDOW_MS);
}

async function refresh() {
  try {
    if (!state.config) state.config = await getJson('config');
    const historyDue = Date.now() >= state.historyDueAt;
    const limit = Math.min(state.config.history_size, Math.ceil(WINDOW_MS / state.config.poll_interval_ms));
    const [lag, alerts, advice, history, rebalances, status] = await Promise.all([
      getJson('lag'),
      getJson('alerts?limit=' + Math.min(ALERTS_SHOWN, state.config.alerts_size)),
      getJson('recommendations'),
      historyDue ? getJson('lag/history?limit=' + limit) : null,
      getJson('rebalances'),
      getJson('status'),
    ]);
    state.producerThrottle = status.producer_throttle;
    state.rebalances = rebalances.events;
    if (history) {
      mergeHistory(history);
      state.historyDueAt = Date.now() + HISTORY_RELOAD_MS;
    }
    addPoint(lag);
    state.latest = lag;
    render(lag, alerts.alerts, advice.recommendations);
    showConnection(lag.stale ? 'stale' : 'live', lag);
  } catch (err) {
    // After an outage the monitor may have restarted with new settings and history: reload both.
    state.config = null;
    state.historyDueAt = 0;
    showConnection('disconnected', state.latest, err.message);
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

function showConnection(kind, lag, error) {
  document.body.dataset.connection = kind;
  byId('status-label').textContent = kind === 'live' ? 'Status' : 'Last known status';
  const banner = byId('banner');
  banner.hidden = kind === 'live';
  banner.dataset.kind = kind;
  const since = lag ? ' Showing the sample from ' + clock(lag.timestamp) + '.' : '';
  if (kind === 'stale') banner.textContent = 'Stale: the monitor\\'s last poll of Kafka failed.' + since;
  if (kind === 'disconnected') banner.textContent = 'Disconnected: ' + error + '. Retrying every second.' + since;
}

function render(lag, alerts, recommendations) {
  const t = state.config.thresholds;
  document.body.dataset.status = lag.status;
  document.title = lag.status.toUpperCase() + ' · lag ' + formatCount(lag.total_lag) + ' · lag monitor';
  setFavicon(lag.status);
  byId('subject').textContent = 'group ' + lag.group + ' on topic ' + lag.topic;
  byId('updated').textContent = 'sample at ' + clock(lag.timestamp);
  byId('status').textContent = lag.status;
  byId('thresholds').textContent = 'warn ≥ ' + formatCount(t.lag_warning) + ' · crit ≥ ' + formatCount(t.lag_critical);
  byId('total-lag').textContent = formatCount(lag.total_lag);
  byId('lag-seconds').textContent = formatDuration(lag.lag_seconds);
  const trend = byId('rate-of-change');
  trend.textContent = formatTrend(lag.rate_of_change);
  trend.className = 'value' + (lag.rate_of_change > 0 ? ' growing' : lag.rate_of_change < 0 ? ' draining' : '');
  const drain = byId('drain');
  drain.textContent = formatDrain(lag.drain_status, lag.drain_seconds, lag.production_rate, lag.consumption_rate);
  drain.title = lag.drain_reason;
  // Until a whole window has been watched an OK means "not judged yet": the pill says so in grey.
  const judged = lag.evaluation.complete || lag.evaluation.status !== 'OK';
  const evaluation = byId('evaluation');
  evaluation.textContent = judged ? lag.evaluation.status : '–';
  evaluation.dataset.evaluation = judged ? lag.evaluation.status : '';
  evaluation.title = 'evaluated over the last ' + formatSpan(lag.evaluation.window_ms / 1000);
  byId('evaluation-reason').textContent = lag.evaluation.reason;
  const paused = byId('paused');
  paused.textContent = formatPaused(lag.paused_partitions);
  paused.dataset.active = String(lag.paused_partitions.manual.length + lag.paused_partitions.downstream.length > 0);
  const throttle = byId('throttle');
  const throttleText = formatThrottle(state.producerThrottle);
  throttle.hidden = throttleText === null;
  throttle.textContent = throttleText ?? '';
  throttle.dataset.active = String(state.producerThrottle?.throttle?.mode === 'throttled' || state.producerThrottle?.throttle?.mode === 'holding');
  byId('production-rate').textContent = formatRate(lag.production_rate);
  byId('consumption-rate').textContent = formatRate(lag.consumption_rate);
  byId('members').textContent = lag.members + ' / ' + lag.partition_count;
  const idle = lag.members - lag.partition_count;
  byId('group-state').textContent = 'group ' + lag.group_state + (idle > 0 ? ' · ' + idle + ' idle' : '');

  const end = Date.parse(lag.timestamp);
  const windowMs = chartWindow(end - state.points[0].t, WINDOW_MS);
  byId('lag-window').textContent = byId('rate-window').textContent = 'last ' + formatSpan(windowMs / 1000);
  drawChart(byId('lag-chart'), end, windowMs, [{ name: 'lag', key: 'lag', area: true }], [
    { name: 'warning', value: t.lag_warning },
    { name: 'critical', value: t.lag_critical },
  ], formatCount, state.rebalances);
  drawChart(byId('rate-chart'), end, windowMs, [{ name: 'produced', key: 'produced' }, { name: 'consumed', key: 'consumed' }], [], formatRate);
  renderPartitions(lag.partitions);
  renderAlerts(alerts);
  renderRecommendations(recommendations);
}

/** A tab in the background still tells its status by the colour of its icon. */
function setFavicon(status) {
  const colour = getComputedStyle(document.documentElement).getPropertyValue('--' + status).trim();
  const icon = '<svg xmlns="' + SVG_NS + '" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="' + colour + '"/></svg>';
  byId('favicon').href = 'data:image/svg+xml,' + encodeURIComponent(icon);
}

/**
 * Lines of state.points over the \`windowMs\` up to \`end\`, with dashed threshold lines and a
 * marker for each rebalance event (GET /rebalances) inside the window.
 */
function drawChart(chart, end, windowMs, series, thresholds, formatTick, rebalances = []) {
  const width = chart.clientWidth;
  const height = chart.clientHeight;
  const pad = { left: 52, right: 64, top: 8, bottom: 20 };
  const plotWidth = width - pad.left - pad.right;
  const plotHeight = height - pad.top - pad.bottom;
  const start = end - windowMs;
  const visible = state.points.filter((p) => p.t >= start);
  const values = visible.flatMap((p) => series.map((s) => p[s.key])).filter((v) => v !== null);
  const ticks = axisTicks(Math.max(0, ...values, ...thresholds.map((l) => l.value)));
  const top = ticks[ticks.length - 1];
  const x = (t) => pad.left + ((t - start) / windowMs) * plotWidth;
  const y = (v) => pad.top + plotHeight - (v / top) * plotHeight;

  chart.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  chart.replaceChildren();
  for (const tick of ticks) {
    chart.append(svg('line', { class: 'grid', x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick) }));
    chart.append(svg('text', { x: pad.left - 8, y: y(tick) + 4, 'text-anchor': 'end' }, formatTick(tick)));
  }
  const step = timeStep(windowMs);
  for (let ago = 0; ago <= windowMs; ago += step) {
    const anchor = ago === 0 ? 'end' : ago + step > windowMs ? 'start' : 'middle';
    chart.append(svg('text', { x: x(end - ago), y: height - 4, 'text-anchor': anchor }, ago === 0 ? 'now' : '−' + formatSpan(ago / 1000)));
  }
  for (const line of thresholds) {
    chart.append(svg('line', { class: 'threshold ' + line.name, x1: pad.left, x2: width - pad.right, y1: y(line.value), y2: y(line.value) }));
    chart.append(svg('text', { class: line.name, x: width - pad.right + 6, y: y(line.value) + 4 }, line.name));
  }
  for (const s of series) {
    const points = visible.filter((p) => p[s.key] !== null).map((p) => [x(p.t), y(p[s.key])]);
    if (points.length === 0) continue;
    if (s.area) {
      const floor = y(0);
      const outline = [[points[0][0], floor]].concat(points, [[points[points.length - 1][0], floor]]);
      chart.append(svg('path', { class: s.name + ' area', d: linePath(outline) + 'Z' }));
    }
    chart.append(svg('path', { class: s.name + ' line', d: linePath(points) }));
  }
  // Oldest first, labels on alternate rows, so that changes close together stay readable.
  rebalances.filter((e) => Date.parse(e.at) >= start).reverse().forEach((e, i) => {
    const seen = x(Date.parse(e.at));
    const stopStart = x(Math.max(start, Date.parse(e.stop_started_at)));
    const stopEnd = x(e.stop_ended_at === null ? end : Date.parse(e.stop_ended_at));
    if (stopEnd > stopStart) chart.append(svg('rect', { class: 'rebalance-stop', x: stopStart, y: pad.top, width: stopEnd - stopStart, height: plotHeight }));
    const line = svg('line', { class: 'rebalance', x1: seen, x2: seen, y1: pad.top, y2: pad.top + plotHeight });
    line.append(svg('title', {}, e.members_before.length + ' → ' + e.members_after.length + ' members' + (e.joined.length ? '; joined ' + e.joined.join(', ') : '') + (e.left.length ? '; left ' + e.left.join(', ') : '')));
    chart.append(line, svg('text', { class: 'rebalance', x: seen + 4, y: pad.top + 12 + (i % 2) * 14 }, rebalanceLabel(e.stop_seconds)));
  });
}

function renderPartitions(partitions) {
  const widest = Math.max(1, ...partitions.map((p) => p.lag));
  byId('partitions').replaceChildren(...partitions.map((p) => {
    const row = make('div', 'partition');
    row.dataset.partition = p.partition;
    const bar = make('div', 'bar');
    const fill = make('div', 'fill');
    fill.style.width = (100 * p.lag) / widest + '%';
    bar.append(fill);
    const committed = p.committed_offset === null ? 'none' : formatCount(p.committed_offset);
    const judged = p.evaluation.rule !== 'window_incomplete';
    const evaluation = make('span', 'pill evaluation', judged ? p.evaluation.status : '–');
    evaluation.dataset.evaluation = judged ? p.evaluation.status : '';
    evaluation.title = p.evaluation.reason;
    row.append(make('span', 'name', 'P' + p.partition), bar, make('span', 'lag', formatCount(p.lag)), evaluation,
      make('span', 'offsets', 'committed ' + committed + ' · end ' + formatCount(p.end_offset)));
    return row;
  }));
}

function renderAlerts(alerts) {
  if (alerts.length === 0) {
    byId('alerts').replaceChildren(make('li', 'empty', 'No alerts: status has not changed.'));
    return;
  }
  byId('alerts').replaceChildren(...alerts.map((a) => {
    const item = make('li', 'alert');
    item.append(make('span', 'pill ' + a.to, a.from + ' → ' + a.to), make('span', 'message', a.message), make('span', 'detail', clock(a.timestamp)));
    return item;
  }));
}

function renderRecommendations(recommendations) {
  byId('recommendations').replaceChildren(...recommendations.map((r) => {
    const item = make('li', 'recommendation');
    item.append(make('span', 'pill ' + r.severity, r.severity), make('strong', 'action', r.action), make('span', 'detail', r.reason));
    return item;
  }));
}

${helperSource}

refresh();
`;

export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lag monitor</title>
<link rel="icon" id="favicon" href="data:,">
<style>${style}</style>
</head>
<body data-status="unknown" data-connection="connecting">
${body}
<script>${script}</script>
</body>
</html>
`;
