import { close, createApp, createLogger, createRegistry, listen, onShutdown, run } from '@bplab/kit';
import { readConfig } from './config.js';
import { MemorySink, readAutoscalerFile } from './local.js';
import { AutoscalerLoop, freshMemory } from './loop.js';
import { readLag } from './metrics-source.js';
import { OperatorMetrics } from './metrics.js';
import { operatorRoutes } from './routes.js';
import type { AutoscalerSpec } from './spec.js';
import { ProcessTarget } from './targets/processes.js';

run(async () => {
  const config = readConfig();
  const logger = createLogger('lag-autoscaler', config.LOG_LEVEL);
  const registry = createRegistry('lag-autoscaler');
  const metrics = new OperatorMetrics(registry);
  const readMetrics = (spec: AutoscalerSpec) =>
    readLag(spec.metricsSource.url, spec, config.METRICS_TIMEOUT_MS);

  let stopWork: () => Promise<void>;
  let status: () => unknown;

  if (config.MODE === 'cluster') {
    // Imported here, not at the top: the Kubernetes client holds about 60 MB of the process once
    // loaded, and the local mode, which scales processes, never needs it.
    const [{ KubeConfig }, { Controller }] = await Promise.all([import('@kubernetes/client-node'), import('./controller.js')]);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
    const namespace = config.WATCH_NAMESPACE ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default';
    const controller = new Controller({ kubeConfig, namespace, readMetrics, metrics, logger });
    await controller.start();
    stopWork = () => controller.stop();
    status = () => ({ mode: 'cluster', namespace, watching: controller.watching, autoscalers: controller.views() });
  } else {
    const autoscaler = await readAutoscalerFile(config.LOCAL_AUTOSCALER_FILE);
    const sink = new MemorySink(logger);
    const target = new ProcessTarget({
      entry: config.CONSUMER_ENTRY,
      runDir: config.LOCAL_RUN_DIR,
      logDir: config.LOCAL_LOG_DIR,
      basePort: config.CONSUMER_BASE_PORT,
      env: process.env,
      logger,
      stopTimeoutMs: config.CONSUMER_STOP_TIMEOUT_MS,
    });
    const loop = new AutoscalerLoop({ ...autoscaler, generation: 1, target, readMetrics, sink, metrics, logger, memory: freshMemory() });
    loop.start();
    logger.info({ file: config.LOCAL_AUTOSCALER_FILE, runDir: config.LOCAL_RUN_DIR }, 'local mode: scaling consumer processes');
    stopWork = () => loop.stop();
    status = () => ({ mode: 'local', file: config.LOCAL_AUTOSCALER_FILE, autoscalers: [loop.view()], events: sink.events });
  }

  // Alive means serving; a lost watch is reported (status.watching) but a restart would not fix it.
  const health = () => ({ healthy: true, mode: config.MODE });
  const app = createApp({ logger, registry, health, routes: operatorRoutes(health, status) });
  const server = await listen(app, config.PORT, logger);
  onShutdown(logger, async () => {
    await close(server);
    await stopWork();
  });
});
