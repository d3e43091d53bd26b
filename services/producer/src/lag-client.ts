import { readJson } from '@bplab/kit';
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
  const read = await readJson(url, lagBody, timeoutMs);
  if (!read.ok) return { result: 'unreachable', error: read.error };
  const lag = read.body;
  // A monitor watching another topic says nothing about the orders this producer sends.
  if (lag.topic !== topic) return { result: 'unreachable', error: `GET ${url}: reports topic ${lag.topic}, this producer sends to ${topic}` };
  const report = { status: lag.status, totalLag: lag.total_lag, consumptionRate: lag.consumption_rate };
  return { result: lag.stale ? 'stale' : 'ok', report };
}
