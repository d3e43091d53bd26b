/**
 * Pure helpers the dashboard page runs in the browser. dashboard.ts embeds each one's compiled
 * source in the page, so every helper must stand alone: no imports, no module state, and calls
 * only to other helpers of this file, by name.
 */

/** 1234567 -> "1,234,567": lag is read at a glance, and digit groups make that possible. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Messages per second: one decimal under 10, where it still matters; "–" before there is a rate. */
export function formatRate(rate: number | null): string {
  if (rate === null) return '–';
  if (Math.abs(rate) >= 10) return formatCount(rate);
  // `+ 0` turns -0 into 0: a rate that rounds to nothing has no sign.
  return String(Math.round(rate * 10) / 10 + 0);
}

/** Lag change per second with its direction: "↑ 120/s" growing, "↓ 80/s" draining. */
export function formatTrend(rate: number | null): string {
  if (rate === null) return '–';
  const arrow = rate > 0 ? '↑' : rate < 0 ? '↓' : '→';
  return `${arrow} ${formatRate(Math.abs(rate))}/s`;
}

/** 4.25 -> "4.3 s", 75 -> "1 m 15 s", 7380 -> "2 h 03 m": precision where a person cares. */
export function formatDuration(seconds: number): string {
  if (seconds < 10) return `${Math.round(seconds * 10) / 10} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} m ${String(whole % 60).padStart(2, '0')} s`;
  return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')} m`;
}

/**
 * Round axis ticks from 0 that cover `max`: steps of 1, 2 or 5 times a power of ten, about
 * `target` of them, so gridlines land on numbers people read without effort.
 */
export function axisTicks(max: number, target = 4): number[] {
  const top = max > 0 ? max : 1;
  const raw = top / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * magnitude;
  const count = Math.ceil(top / step - 1e-9);
  // toPrecision trims float noise such as 0.30000000000000004 from fractional steps.
  return Array.from({ length: count + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}

/** An SVG path through points already in pixels: "M10,20L30,40"; empty with no points. */
export function linePath(points: [number, number][]): string {
  return points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${Math.round(x * 10) / 10},${Math.round(y * 10) / 10}`).join('');
}

/** Gridline spacing on the time axis: the smallest of 5 s to 1 min that keeps to six lines. */
export function timeStep(windowMs: number): number {
  return [5_000, 10_000, 15_000, 30_000, 60_000].find((step) => windowMs / step <= 6) ?? 60_000;
}

/**
 * How much time the charts span: what the data covers, rounded up to a gridline, between one
 * minute and `maxMs`. A monitor that started a minute ago fills its chart instead of a sliver.
 */
export function chartWindow(dataSpanMs: number, maxMs: number): number {
  const span = Math.min(maxMs, Math.max(60_000, dataSpanMs));
  const step = timeStep(span);
  return Math.min(maxMs, Math.ceil(span / step) * step);
}

/** 90 -> "90 s", 120 -> "2 min": axis labels and window titles in whole units. */
export function formatSpan(seconds: number): string {
  return seconds >= 60 && seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

/**
 * The drain estimate in a few words, for the rate-of-change card: "empty in 1 m 15 s", "not
 * draining: short by 3 msg/s". `status` is /lag's drain_status.
 */
export function formatDrain(status: string, seconds: number | null, production: number | null, consumption: number | null): string {
  if (status === 'caught_up') return 'caught up';
  if (status === 'draining' && seconds !== null) return `empty in ${formatDuration(seconds)}`;
  if (status === 'not_draining') {
    if (consumption === 0) return 'not draining: nothing consumed';
    if (production !== null && consumption !== null && production > consumption) return `not draining: short by ${formatRate(production - consumption)} msg/s`;
    return 'not draining';
  }
  return 'lag per second';
}

/**
 * The label of a rebalance marker on the lag chart: "rebalance 3.2 s", how long consumption
 * stopped; "rebalancing" while the stop has not ended. `stopSeconds` is the event's stop_seconds.
 */
export function rebalanceLabel(stopSeconds: number | null): string {
  return stopSeconds === null ? 'rebalancing' : `rebalance ${formatDuration(stopSeconds)}`;
}

/** [0, 1, 2, 4] -> "P0–P2, P4": partitions as a person lists them. */
export function formatPartitions(partitions: number[]): string {
  const sorted = [...partitions].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    runs.push(j === i ? `P${sorted[i]}` : `P${sorted[i]}–P${sorted[j]}`);
    i = j + 1;
  }
  return runs.join(', ');
}

/**
 * Who paused what, from /lag's paused_partitions: "paused by the downstream: P0–P5", or "no
 * consumer paused".
 */
export function formatPaused(paused: { manual: number[]; downstream: number[] }): string {
  const parts: string[] = [];
  if (paused.downstream.length > 0) parts.push(`paused by the downstream: ${formatPartitions(paused.downstream)}`);
  if (paused.manual.length > 0) parts.push(`paused by hand: ${formatPartitions(paused.manual)}`);
  return parts.length > 0 ? parts.join(' · ') : 'no consumer paused';
}

/**
 * The producer's throttle from /status's producer_throttle: null when the monitor does not watch
 * a producer (no PRODUCER_URL), so the page shows nothing.
 */
export function formatThrottle(
  watch: { throttle: { mode: string; limit_per_sec: number | null; reason: string } | null; last_error: string | null } | null,
): string | null {
  if (watch === null) return null;
  if (watch.throttle === null) return watch.last_error === null ? 'producer throttle: not read yet' : 'producer throttle: unknown (cannot read the producer)';
  const { mode, limit_per_sec: limit } = watch.throttle;
  if (mode === 'throttled' && limit !== null) return `producer throttled to ${formatRate(limit)} msg/s`;
  if (mode === 'holding') return 'producer holding: sends nothing until the consumers commit again';
  if (mode === 'open') return 'producer throttle on, open';
  return 'producer throttle off';
}
