import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createTopics } from '../support/kafka.js';
import { REPO } from '../support/paths.js';
import { freePort, getJson, startService, stopPidFiles, writeLocalAutoscaler, type RunningService } from '../support/services.js';

/**
 * The metric names README.md's API section lists under one service's heading, e.g. "Producer"
 * for "### Producer (port 8000)", read from the README so that it and this test cannot drift.
 * Label hints (`{reason}`) are dropped.
 */
function readmeMetrics(service: string): string[] {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const api = readme.slice(readme.indexOf('\n## API\n'));
  const start = api.indexOf(`\n### ${service} `);
  if (start < 0) throw new Error(`README.md's API section has no "### ${service}" heading`);
  const section = api.slice(start + 1).split(/\n#{2,3} /)[0]!;
  return [...section.matchAll(/`((?:kafka|lag_autoscaler)_[a-z0-9_]+)(?:\{[^}`]*\})?`/g)].map((m) => m[1]!);
}

/** The names in `expected` that have no sample on the service's /metrics page. */
async function missingMetrics(url: string, expected: string[]): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const lines = text.split('\n');
  const families = new Set(lines.flatMap((line) => /^# TYPE (\S+) /.exec(line)?.[1] ?? []));
  const sampled = new Set<string>();
  for (const line of lines) {
    const name = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{.*\})? \S+$/.exec(line)?.[1];
    if (name === undefined) continue;
    // A histogram's samples are <family>_bucket, _sum and _count.
    const family = [name, name.replace(/_(bucket|sum|count)$/, '')].find((n) => families.has(n));
    if (family) sampled.add(family);
  }
  return expected.filter((name) => !sampled.has(name));
}

async function healthy(url: string, path = '/health'): Promise<void> {
  await vi.waitFor(async () => expect((await fetch(`${url}${path}`)).status).toBe(200), { timeout: 30_000, interval: 100 });
}

/**
 * Issue 6: every metric the README lists exists as soon as a service is healthy, before any
 * order, so Prometheus has a series from the start and a dashboard shows 0, not "No data".
 */
describe('every metric the README lists exists from start-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bplab-metrics-'));
  const runDir = join(dir, 'run');
  mkdirSync(runDir);
  const started: RunningService[] = [];
  let common: { KAFKA_BROKERS: string; TOPIC: string; GROUP_ID: string };
  let sink: string;
  let monitor: RunningService;

  beforeAll(async () => {
    const brokers = inject('kafkaBrokers');
    const topics = await createTopics(brokers, 'metrics-at-startup');
    common = { KAFKA_BROKERS: brokers, TOPIC: topics.topic, GROUP_ID: topics.group };
    sink = topics.sink;
  });

  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
    stopPidFiles(runDir);
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (...args: Parameters<typeof startService>) => {
    const service = await startService(...args);
    started.push(service);
    return service;
  };

  it('the README lists metrics for every service, so no check below passes on an empty list', () => {
    for (const service of ['Producer', 'Consumer', 'Lag monitor', 'Operator']) expect(readmeMetrics(service), service).not.toEqual([]);
  });

  it('on the producer, once connected', async () => {
    const producer = await start('producer', common, 'metrics-producer');
    await healthy(producer.url);
    expect(await missingMetrics(producer.url, readmeMetrics('Producer'))).toEqual([]);
  });

  it('on a consumer, once it has joined its group', async () => {
    const consumer = await start(
      'consumer',
      { ...common, SINK_TOPIC: sink, SESSION_TIMEOUT_MS: '6000', HEARTBEAT_INTERVAL_MS: '1000' },
      'metrics-consumer',
    );
    await healthy(consumer.url);
    expect(await missingMetrics(consumer.url, readmeMetrics('Consumer'))).toEqual([]);
  });

  it('on the lag monitor, once it has polled Kafka', async () => {
    monitor = await start('lag-monitor', common, 'metrics-lag-monitor');
    await healthy(monitor.url);
    expect(await missingMetrics(monitor.url, readmeMetrics('Lag monitor'))).toEqual([]);
  });

  it('on the operator in local mode, once it has reconciled', async () => {
    const file = join(dir, 'autoscaler.yaml');
    writeLocalAutoscaler(file, { metricsSource: { url: monitor.url }, topic: common.TOPIC, consumerGroup: common.GROUP_ID, minReplicas: 1, maxReplicas: 2, lagThreshold: 50 });
    const operator = await start(
      'operator',
      {
        ...common,
        SINK_TOPIC: sink,
        MODE: 'local',
        LOCAL_AUTOSCALER_FILE: file,
        LOCAL_RUN_DIR: runDir,
        LOCAL_LOG_DIR: join(dir, 'logs'),
        CONSUMER_BASE_PORT: String(await freePort()),
      },
      'metrics-operator',
    );
    await healthy(operator.url, '/healthz');
    // Its /healthz answers as soon as it serves; the replica gauges say what the first reconcile
    // read, so for the operator start-up ends there, as the monitor's ends with its first poll.
    await vi.waitFor(
      async () => expect((await getJson(`${operator.url}/status`)).autoscalers[0]?.status).toEqual(expect.objectContaining({ currentReplicas: expect.any(Number) })),
      { timeout: 15_000, interval: 100 },
    );
    expect(await missingMetrics(operator.url, readmeMetrics('Operator'))).toEqual([]);
  });
});
