import { fileURLToPath } from 'node:url';
import { env, LAB, loadConfig } from '@bplab/kit';
import { z } from 'zod';
import { LOCAL_LAYOUT, localPaths } from './targets/local-layout.js';

/** operator/dist/config.js -> the repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const local = localPaths(REPO_ROOT);

const schema = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** cluster: LagAutoscalers from the apiserver (KUBECONFIG or in-cluster); local: one from a YAML file. */
  MODE: z.enum(['cluster', 'local']).default('cluster'),
  PORT: env.port(LAB.ports.operator),
  /** The namespace to watch; defaults to the kubeconfig context's (in a Pod: its own). */
  WATCH_NAMESPACE: z.string().min(1).optional(),
  METRICS_TIMEOUT_MS: env.int(2000, 100, 60_000),
  LOCAL_AUTOSCALER_FILE: env.string(`${REPO_ROOT}operator/local-autoscaler.yaml`),
  LOCAL_RUN_DIR: env.string(local.runDir),
  LOCAL_LOG_DIR: env.string(local.logDir),
  CONSUMER_ENTRY: env.string(local.consumerEntry),
  CONSUMER_BASE_PORT: env.port(LOCAL_LAYOUT.basePort),
  CONSUMER_STOP_TIMEOUT_MS: env.int(30_000, 1000, 600_000),
});

export type Config = z.infer<typeof schema>;

export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(schema, source);
}
