import { z } from 'zod';
import { LAG_STATUSES, type Poll } from './throttle.js';

/** The lag monitor's GET /lag body: only the fields the throttle reads are checked. */
const lagBody = z.object({
  topic: z.string(),
  total_lag: z.number().int().nonnegative(),
  status: z.enum(LAG_STATUSES),
  consumption_rate: z.number().nonnegative().nullable(),
  stale: z.boolean(),
});

/**
 * One read of `<baseUrl>/lag` with a timeout. Never throws: a refused connection, a timeout, an
 * HTTP error, an unexpected body or a monitor that watches another topic all come back as
 * `unreachable` with the reason, which the throttle keeps its mode on and reports.
 */
export async function readLag(baseUrl: string, topic: string, timeoutMs: number): Promise<Poll> {
  const url = `${baseUrl.replace(/\/+$/, '')}/lag`;
  const unreachable = (why: string): Poll => ({ result: 'unreachable', error: `GET ${url}: ${why}` });
  let body: unknown;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (!response.ok) return unreachable(`HTTP ${response.status}`);
    body = await response.json();
  } catch (err) {
    return unreachable(err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err));
  }
  const parsed = lagBody.safeParse(body);
  if (!parsed.success) {
    return unreachable(`unexpected body (${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')})`);
  }
  const lag = parsed.data;
  // A monitor watching another topic says nothing about the orders this producer sends.
  if (lag.topic !== topic) return unreachable(`reports topic ${lag.topic}, this producer sends to ${topic}`);
  const report = { status: lag.status, totalLag: lag.total_lag, consumptionRate: lag.consumption_rate };
  return { result: lag.stale ? 'stale' : 'ok', report };
}
