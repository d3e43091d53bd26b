import { HttpError, parse } from '@bplab/kit';
import type { Express } from 'express';
import { z } from 'zod';
import { DASHBOARD_CSP, dashboardHtml } from './dashboard.js';
import type { Thresholds } from './lag.js';
import type { PollState } from './poller.js';
import type { ProducerWatchState } from './producer-watch.js';
import { REBALANCE_EVENTS_KEPT } from './rebalance.js';
import { recommend, type RecommendContext } from './recommend.js';
import type { LagTracker, MonitorSnapshot } from './tracker.js';
import { whatIf } from './whatif.js';

export interface MonitorDeps {
  group: string;
  topic: string;
  tracker: LagTracker;
  poll: PollState;
  thresholds: Thresholds;
  pollIntervalMs: number;
  evaluationWindowMs: number;
  /** RATE_WINDOW_MS: /lag's rates are slopes over it. */
  rateWindowMs: number;
  historySize: number;
  alertsSize: number;
  recommendContext: () => RecommendContext;
  /** The producer's throttle as last read; null when no PRODUCER_URL is set. */
  producer: () => ProducerWatchState | null;
}

export function monitorRoutes(deps: MonitorDeps) {
  const { tracker, poll } = deps;
  const historyQuery = z.object({ limit: z.coerce.number().int().min(1).max(deps.historySize).default(Math.min(100, deps.historySize)) });
  const alertsQuery = z.object({ limit: z.coerce.number().int().min(1).max(deps.alertsSize).default(deps.alertsSize) });
  const rebalancesQuery = z.object({ limit: z.coerce.number().int().min(1).max(REBALANCE_EVENTS_KEPT).default(REBALANCE_EVENTS_KEPT) });
  // The what-if inputs of GET /recommendations; each one left out falls back to a measurement.
  const whatIfQuery = z.object({
    production_rate: z.coerce.number().min(0).max(1_000_000).optional(),
    processing_ms: z.coerce.number().positive().max(3_600_000).optional(),
    drain_seconds: z.coerce.number().int().min(1).max(86_400).optional(),
  });

  /** The latest snapshot, marked stale when the last poll failed; 503 before the first one. */
  const current = (): MonitorSnapshot & { group: string; topic: string; stale: boolean } => {
    if (!tracker.latest) throw new HttpError(503, `no lag sample yet: ${poll.last_error ?? 'first poll pending'}`, { retryable: true });
    return { group: deps.group, topic: deps.topic, ...tracker.latest, stale: !poll.ok };
  };

  return (app: Express) => {
    app.get('/', (_req, res) => {
      res.set('content-security-policy', DASHBOARD_CSP).type('html').send(dashboardHtml);
    });
    // What the dashboard needs to draw thresholds and size its history window.
    app.get('/config', (_req, res) => {
      const t = deps.thresholds;
      res.json({
        group: deps.group,
        topic: deps.topic,
        poll_interval_ms: deps.pollIntervalMs,
        evaluation_window_ms: deps.evaluationWindowMs,
        history_size: deps.historySize,
        alerts_size: deps.alertsSize,
        thresholds: { lag_warning: t.lagWarning, lag_critical: t.lagCritical, rate_warning: t.rateWarning },
      });
    });
    app.get('/lag', (_req, res) => {
      res.json({
        ...current(),
        rate_window_seconds: deps.rateWindowMs / 1000,
        sample_interval_seconds: deps.pollIntervalMs / 1000,
        rebalance_cost: tracker.rebalanceCost(),
      });
    });
    app.get('/lag/history', (req, res) => {
      const { limit } = parse(historyQuery, req.query, 'query');
      const points = tracker.history(limit).map(({ partitions: _partitions, ...point }) => point);
      res.json({ group: deps.group, topic: deps.topic, count: points.length, points });
    });
    app.get('/alerts', (req, res) => {
      const { limit } = parse(alertsQuery, req.query, 'query');
      const alerts = tracker.alerts(limit);
      res.json({ count: alerts.length, alerts });
    });
    app.get('/rebalances', (req, res) => {
      const { limit } = parse(rebalancesQuery, req.query, 'query');
      const events = tracker.rebalanceEvents(limit);
      res.json({ group: deps.group, topic: deps.topic, count: events.length, events });
    });
    app.get('/status', (_req, res) => {
      const s = current();
      res.json({
        status: s.status,
        total_lag: s.total_lag,
        lag_seconds: s.lag_seconds,
        rate_of_change: s.rate_of_change,
        production_rate: s.production_rate,
        consumption_rate: s.consumption_rate,
        members: s.members,
        partitions: s.partition_count,
        evaluation: s.evaluation.status,
        evaluation_reason: s.evaluation.reason,
        drain_seconds: s.drain_seconds,
        drain_status: s.drain_status,
        paused_partitions: s.paused_partitions,
        producer_throttle: deps.producer(),
        stale: s.stale,
        timestamp: s.timestamp,
      });
    });
    // Without what-if parameters, the advice for now; with any of them, the advice plus `what_if`.
    app.get('/recommendations', (req, res) => {
      const query = parse(whatIfQuery, req.query, 'query');
      const s = current();
      const ctx = deps.recommendContext();
      const advice = { status: s.status, total_lag: s.total_lag, per_consumer_rate: ctx.perConsumerRate, recommendations: recommend(s, ctx) };
      if (Object.values(query).every((v) => v === undefined)) {
        res.json(advice);
        return;
      }
      const context = {
        backlog: s.total_lag,
        partitions: s.partition_count,
        measuredProductionRate: s.production_rate,
        measuredPerConsumerRate: ctx.perConsumerRate,
        drainTargetSeconds: ctx.drainTargetSeconds,
      };
      res.json({ ...advice, what_if: whatIf(query, context) });
    });
  };
}
