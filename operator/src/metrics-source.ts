import { DEFAULT_RATE_WINDOW_MS, readJson } from '@bplab/kit';
import { z } from 'zod';
import type { MetricsSnapshot } from './decide.js';

/** The lag monitor's GET /lag body: only the fields the decision needs are checked and mapped. */
const rate = z.number().nonnegative().nullable();
export const lagReportSchema = z.object({
  group: z.string(),
  topic: z.string(),
  total_lag: z.number().int().nonnegative(),
  partitions: z.array(
    z.object({ partition: z.number().int(), end_offset: z.number(), committed_offset: z.number().nullable(), lag: z.number() }),
  ),
  partition_count: z.number().int().nonnegative(),
  status: z.enum(['ok', 'warning', 'critical']),
  rate_of_change: z.number().nullable(),
  production_rate: rate,
  consumption_rate: rate,
  members: z.number().int().nonnegative(),
  timestamp: z.iso.datetime({ offset: true }),
  stale: z.boolean(),
  // Newer lag monitors only: optional, so that an older one still drives the decision.
  rebalance_cost: z.object({ typical_stop_seconds: z.number().nonnegative().nullable() }).optional(),
  paused_partitions: z.object({ manual: z.array(z.number().int()), downstream: z.array(z.number().int()) }).optional(),
  batch_size: z.number().int().min(1).optional(),
  rate_window_seconds: z.number().positive().optional(),
  sample_interval_seconds: z.number().positive().optional(),
});
export type LagReport = z.infer<typeof lagReportSchema>;

export function toSnapshot(report: LagReport): MetricsSnapshot {
  return {
    group: report.group,
    topic: report.topic,
    totalLag: report.total_lag,
    partitionCount: report.partition_count,
    productionRate: report.production_rate,
    consumptionRate: report.consumption_rate,
    members: report.members,
    sampledAt: Date.parse(report.timestamp),
    stale: report.stale,
    typicalRebalanceStopSeconds: report.rebalance_cost?.typical_stop_seconds ?? null,
    pausedPartitions: report.paused_partitions ?? { manual: [], downstream: [] },
    batchSize: report.batch_size ?? 1,
    rateWindowMs: report.rate_window_seconds === undefined ? DEFAULT_RATE_WINDOW_MS : report.rate_window_seconds * 1000,
    partitionLags: [...report.partitions].sort((a, b) => a.partition - b.partition).map((p) => p.lag),
    ...(report.sample_interval_seconds === undefined ? {} : { sampleIntervalMs: report.sample_interval_seconds * 1000 }),
  };
}

/** A failed read names what went wrong, so it can go into a condition message as is. */
export class MetricsUnavailableError extends Error {}

/**
 * Reads `<baseUrl>/lag` with a timeout and checks that it reports the expected topic and group
 * (a lag monitor watching another group must not drive this target).
 */
export async function readLag(
  baseUrl: string,
  expected: { topic: string; consumerGroup: string },
  timeoutMs: number,
): Promise<MetricsSnapshot> {
  const url = `${baseUrl.replace(/\/+$/, '')}/lag`;
  const read = await readJson(url, lagReportSchema, timeoutMs);
  if (!read.ok) throw new MetricsUnavailableError(read.error);
  const report = read.body;
  if (report.topic !== expected.topic || report.group !== expected.consumerGroup) {
    throw new MetricsUnavailableError(
      `GET ${url}: reports group ${report.group} on topic ${report.topic}, expected group ${expected.consumerGroup} on topic ${expected.topic}`,
    );
  }
  return toSnapshot(report);
}
