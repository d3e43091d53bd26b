// env.js: the settings both k6 scripts read from k6's -e variables (__ENV), checked, so that a bad
// value stops the script in its init code, before any request (k6 exits non-zero). k6 resolves
// `import ... from './env.js'` beside the script: the ConfigMap k6-scripts mounts all three files.

/** __ENV[name] as a positive whole number, or the fallback when unset. */
export function positiveInt(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[1-9][0-9]*$/.test(raw)) throw new Error(`${name} must be a positive whole number, not "${raw}"`);
  return Number(raw);
}

/** __ENV[name] as a k6 duration (30s, 3m, 1m30s), or the fallback when unset. */
export function duration(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^([0-9]+(ms|s|m|h))+$/.test(raw)) throw new Error(`${name} must be a k6 duration such as 30s, 3m or 1m30s, not "${raw}"`);
  return raw;
}

/** The producer's base URL (TARGET), without a trailing slash: its Service in the lab's namespace by default. */
export const TARGET = (__ENV.TARGET || 'http://producer:8000').replace(/\/+$/, '');
