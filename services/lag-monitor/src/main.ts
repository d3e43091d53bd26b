import { close, createApp, createKafka, createLogger, createRegistry, listen, onShutdown, run } from '@bplab/kit';
import { readConfig } from './config.js';
import { lagMetrics } from './metrics.js';
import { Poller, readOffsets } from './poller.js';
import { ProducerWatch } from './producer-watch.js';
import { monitorRoutes } from './routes.js';
import { LagTracker } from './tracker.js';

run(async () => {
  const config = readConfig();
  const service = config.SERVICE_NAME ?? 'lag-monitor';
  const logger = createLogger(service, config.LOG_LEVEL);
  const registry = createRegistry(service);
  const metrics = lagMetrics(registry, config.GROUP_ID, config.TOPIC);
  const thresholds = { lagWarning: config.LAG_WARNING, lagCritical: config.LAG_CRITICAL, rateWarning: config.RATE_WARNING };

  const tracker = new LagTracker({
    thresholds,
    rateWindowMs: config.RATE_WINDOW_MS,
    // Ten minutes of samples bound how far back the time-lag estimate can see.
    sampleWindowMs: 600_000,
    evaluationWindowMs: config.EVALUATION_WINDOW_MS,
    historySize: config.HISTORY_SIZE,
    alertsSize: config.ALERTS_SIZE,
    pollIntervalMs: config.POLL_INTERVAL_MS,
  });
  const kafka = createKafka(service, config.KAFKA_BROKERS, logger);
  const admin = kafka.admin({ retry: { retries: 1 } });
  const poller = new Poller(
    admin,
    () => readOffsets(admin, config.TOPIC, config.GROUP_ID),
    (sample) => {
      const { snapshot, alert, rebalances } = tracker.record(sample);
      metrics.update(snapshot);
      metrics.rebalances(rebalances);
      if (alert) logger.info({ from: alert.from, to: alert.to, lag: alert.total_lag }, alert.message);
      for (const e of rebalances.closed) logger.info({ joined: e.joined, left: e.left, lag_added: e.lag_added }, `rebalance to ${e.members_after.length} members stopped consumption for ${e.stop_seconds} s`);
    },
    () => metrics.polls.inc({ ...metrics.labels, result: 'error' }),
    config.POLL_INTERVAL_MS,
    logger,
  );

  const producerWatch = config.PRODUCER_URL === undefined ? undefined : new ProducerWatch(config.PRODUCER_URL, config.POLL_INTERVAL_MS);

  const app = createApp({
    logger,
    registry,
    health: () => ({ healthy: poller.state.ok, kafka: poller.state, group: config.GROUP_ID, topic: config.TOPIC }),
    routes: monitorRoutes({
      group: config.GROUP_ID,
      topic: config.TOPIC,
      tracker,
      poll: poller.state,
      thresholds,
      pollIntervalMs: config.POLL_INTERVAL_MS,
      evaluationWindowMs: config.EVALUATION_WINDOW_MS,
      rateWindowMs: config.RATE_WINDOW_MS,
      historySize: config.HISTORY_SIZE,
      alertsSize: config.ALERTS_SIZE,
      producer: () => producerWatch?.state ?? null,
      recommendContext: () => ({ thresholds, drainTargetSeconds: config.DRAIN_TARGET_SECONDS, perConsumerRate: tracker.perConsumerRate }),
    }),
  });
  const server = await listen(app, config.PORT, logger);
  poller.start();
  producerWatch?.start();

  onShutdown(logger, async () => {
    producerWatch?.stop();
    await poller.stop();
    await close(server);
  });
});
