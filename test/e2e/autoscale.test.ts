import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { createTopics, readTopic } from '../support/kafka.js';
import { freePort, freePortRange, getJson, postJson, startService, stopPidFiles, writeLocalAutoscaler, type RunningService } from '../support/services.js';

/** Six consecutive free ports for consumers 1..6, as the operator's local target numbers them. */
/**
 * Issue 3's local end to end: the real operator in local mode starts and stops real consumer
 * processes on the real broker, reading the real lag monitor.
 */
describe('the operator in local mode on a real broker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bplab-autoscale-'));
  const runDir = join(dir, 'run');
  const started: RunningService[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
    stopPidFiles(runDir);
    rmSync(dir, { recursive: true, force: true });
  });

  it('bursts of 500 at 100 ms, at once and over 2.5 s: each one step to 6 (the partitions), lag drains, replicas return to min, nothing lost', async () => {
    const brokers = inject('kafkaBrokers');
    const { topic, sink, group } = await createTopics(brokers, 'autoscale');
    const common = { KAFKA_BROKERS: brokers, TOPIC: topic, GROUP_ID: group };
    const producer = await startService('producer', common, 'autoscale-producer');
    const monitor = await startService('lag-monitor', { ...common, POLL_INTERVAL_MS: '500', RATE_WINDOW_MS: '3000' }, 'autoscale-lag-monitor');
    started.push(producer, monitor);
    const scaleDownWindow = 10;
    const file = join(dir, 'autoscaler.yaml');
    writeLocalAutoscaler(file, {
      metricsSource: { url: monitor.url },
      topic,
      consumerGroup: group,
      minReplicas: 1,
      maxReplicas: 10,
      lagThreshold: 50,
      targetDrainSeconds: 30,
      pollIntervalSeconds: 1,
      scaleDown: { stabilizationWindowSeconds: scaleDownWindow },
    });
    const operator = await startService(
      'operator',
      {
        ...common,
        MODE: 'local',
        PORT: String(await freePort()),
        LOCAL_AUTOSCALER_FILE: file,
        LOCAL_RUN_DIR: runDir,
        LOCAL_LOG_DIR: join(dir, 'logs'),
        CONSUMER_BASE_PORT: String(await freePortRange(6)),
        SINK_TOPIC: sink,
        PROCESSING_TIME_MS: '100',
        SESSION_TIMEOUT_MS: '6000',
        HEARTBEAT_INTERVAL_MS: '1000',
      },
      'autoscale-operator',
    );
    started.push(operator);
    const status = async () => (await getJson(`${operator.url}/status`)).autoscalers[0].status;
    // minReplicas 1: the operator starts the first consumer itself.
    await vi.waitFor(async () => expect((await getJson(`${monitor.url}/lag`)).members).toBe(1), { timeout: 30_000, interval: 250 });

    expect((await postJson(`${producer.url}/burst`, { count: 500, delay_ms: 0 })).status).toBe(201);
    let peak = 0;
    await vi.waitFor(
      async () => {
        peak = Math.max(peak, (await status()).currentReplicas);
        expect(peak).toBe(6);
      },
      { timeout: 30_000, interval: 250 },
    );
    // Never above the partition count, although lag / lagThreshold asks for 10 and max is 10.
    expect((await status()).conditions).toContainEqual(expect.objectContaining({ type: 'ScalingLimited', status: 'True' }));
    await vi.waitFor(async () => expect((await getJson(`${monitor.url}/lag`)).members).toBe(6), { timeout: 30_000, interval: 250 });

    /** Every order of the bursts so far (`produced` in all) in Kafka, and lag 0. */
    const drained = (produced: number) =>
      vi.waitFor(
        async () => {
          const lag = await getJson(`${monitor.url}/lag`);
          expect(lag.partitions.reduce((sum: number, p: { end_offset: number }) => sum + p.end_offset, 0)).toBe(produced);
          expect(lag.total_lag).toBe(0);
        },
        { timeout: 60_000, interval: 250 },
      );
    await drained(500);
    const drainedAt = Date.now();
    await vi.waitFor(async () => expect((await status()).currentReplicas).toBe(1), { timeout: 60_000, interval: 250 });
    // Stabilisation: no scale-down before the window has passed since lag cleared the threshold.
    expect(Date.now() - drainedAt).toBeGreaterThan((scaleDownWindow - 3) * 1000);

    const scaleEvents = async () =>
      (await getJson(`${operator.url}/status`)).events
        .filter((e: { reason: string }) => e.reason.startsWith('Scaled'))
        .map((e: { message: string }) => /from (\d+) to (\d+)/.exec(e.message)!.slice(1).join('->'));
    // Up to minReplicas at start, then one step up and one step down for the burst.
    expect(await scaleEvents()).toEqual(['0->1', '1->6', '6->1']);

    // A burst still arriving when it is first seen: 500 orders 5 ms apart (about 2.5 s). Its first
    // samples show only part of it, and it is still sized in one patch, to the partitions.
    await vi.waitFor(async () => expect((await getJson(`${monitor.url}/lag`)).members).toBe(1), { timeout: 30_000, interval: 250 });
    expect((await postJson(`${producer.url}/burst`, { count: 500, delay_ms: 5 })).status).toBe(201);
    await drained(1000);
    await vi.waitFor(async () => expect((await status()).currentReplicas).toBe(1), { timeout: 60_000, interval: 250 });
    expect(await scaleEvents()).toEqual(['0->1', '1->6', '6->1', '1->6', '6->1']);

    const produced = (await readTopic<{ id: string }>(brokers, topic)).map((o) => o.id);
    const consumed = new Set((await readTopic<{ order_id: string }>(brokers, sink)).map((p) => p.order_id));
    expect(produced).toHaveLength(1000);
    expect(produced.filter((id) => !consumed.has(id))).toEqual([]);
  }, 180_000);
});
