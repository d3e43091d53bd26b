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
