// How the benchmark writes its numbers, in the terminal table (main.mjs) and in latest.md (markdown.mjs).

export const fmt = (n, digits = 0) =>
  n === null || n === undefined || Number.isNaN(n) ? 'n/a' : Number(n).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const mib = (n) => (n === null || n === undefined ? 'n/a' : `${fmt(n)} MB`);
export const secs = (n) => (n === null || n === undefined ? 'n/a' : `${fmt(n, 1)} s`);

/** "p50 x, max y" of a spread. */
export const pm = (x, digits, unit) => (!x || x.median === null ? 'n/a' : `p50 ${fmt(x.median, digits)}${unit}, max ${fmt(x.max, digits)}${unit}`);

/** "median (min-max)" of a spread, or the single value when there was one run. */
export function sp(x, digits = 0, unit = '') {
  if (!x || x.median === null) return 'n/a';
  const one = (v) => `${fmt(v, digits)}${unit}`;
  return x.min !== x.max ? `${one(x.median)} (${fmt(x.min, digits)}-${one(x.max)})` : one(x.median);
}
