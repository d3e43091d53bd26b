import { join } from 'node:path';
import { LAB } from '@bplab/kit';

/**
 * Where local consumer processes keep their pid files and logs, shared by the operator's local
 * mode and the lab's scripts (both read kit's lab.json; the scripts through hack/lib/lab.sh):
 * consumer <n> (1-based) listens on basePort + n - 1, is named consumer-<n>, writes its pid to
 * <runDir>/consumer-<n>.pid and logs to <logDir>/consumer-<n>.log. A process counts as a replica
 * while its pid file names a live process, whoever started it.
 */
export const LOCAL_LAYOUT = {
  runDir: LAB.paths.runDir,
  logDir: LAB.paths.logDir,
  basePort: LAB.ports.consumerBase,
  consumerEntry: LAB.paths.consumerEntry,
} as const;

export const consumerId = (n: number) => `consumer-${n}`;
export const consumerPort = (basePort: number, n: number) => basePort + n - 1;
export const consumerPidFile = (runDir: string, n: number) => join(runDir, `${consumerId(n)}.pid`);
export const consumerLogFile = (logDir: string, n: number) => join(logDir, `${consumerId(n)}.log`);
export const PID_FILE_PATTERN = /^consumer-(\d+)\.pid$/;

/** The environment a local consumer inherits from the operator (PORT and CONSUMER_ID are set per process). */
export const PASSTHROUGH_ENV = [
  'PATH',
  'HOME',
  'KAFKA_BROKERS',
  'TOPIC',
  'GROUP_ID',
  'SINK_TOPIC',
  'DLQ_TOPIC',
  'DLQ_MAX_RETRIES',
  'DLQ_RETRY_BACKOFF_MS',
  'PROCESSING_TIME_MS',
  'BATCH_SIZE',
  'DOWNSTREAM_LATENCY_MS',
  'DOWNSTREAM_ERROR_RATE',
  'DOWNSTREAM_WINDOW_MS',
  'DOWNSTREAM_MIN_SAMPLES',
  'DOWNSTREAM_PROBE_MS',
  'AUTO_PAUSE',
  'AUTO_PAUSE_P50_MS',
  'AUTO_RESUME_P50_MS',
  'AUTO_PAUSE_ERROR_RATE',
  'AUTO_RESUME_ERROR_RATE',
  'AUTO_RESUME_HOLD_MS',
  'SESSION_TIMEOUT_MS',
  'HEARTBEAT_INTERVAL_MS',
  'LOG_LEVEL',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  // The V8 flags (heap sizing) and malloc arenas the operator itself runs with.
  'NODE_OPTIONS',
  'MALLOC_ARENA_MAX',
] as const;

/** Paths of the layout under a repository root. */
export function localPaths(repoRoot: string) {
  return {
    runDir: join(repoRoot, LOCAL_LAYOUT.runDir),
    logDir: join(repoRoot, LOCAL_LAYOUT.logDir),
    consumerEntry: join(repoRoot, LOCAL_LAYOUT.consumerEntry),
  };
}
