import { collectDefaultMetrics, Registry } from 'prom-client';

/** The process's one metrics registry, with prom-client's default process metrics. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
