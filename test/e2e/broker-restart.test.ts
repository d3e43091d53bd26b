import { afterAll, describe, expect, it, vi } from 'vitest';
import { privateBroker } from '../support/broker.js';
import { startLab, type Lab } from '../support/lab.js';
import { getJson, postJson, startService } from '../support/services.js';

describe('a broker restart', () => {
  let lab: Lab | undefined;
  let broker: Awaited<ReturnType<typeof privateBroker>> | undefined;
  afterAll(async () => {
    await lab?.stopAll();
    await broker?.destroy();
  });

  it('is survived: writes get 503 while it is down, /health says why, and no acknowledged order is lost', async () => {
    broker = await privateBroker();
    lab = await startLab('restart', { brokers: broker.brokers, consumerEnv: { PROCESSING_TIME_MS: '20' } });
    const acked: string[] = [];
    const produce = async () => {
      const res = await postJson(`${lab!.producer.url}/produce`);
      if (res.status === 201) acked.push(res.body.order.id);
      return res;
    };
    for (let i = 0; i < 20; i++) expect((await produce()).status).toBe(201);
    await lab.drained();

    await broker.stop();
    const down = await produce();
    expect(down.status).toBe(503);
    expect(down.body.error).toMatch(/kafka unavailable/);
    for (const service of [lab.producer, lab.consumers[0]!, lab.monitor]) {
      await vi.waitFor(
        async () => {
          const res = await fetch(`${service.url}/health`);
          expect(res.status).toBe(503);
          const health = await res.json();
          expect(JSON.stringify(health)).toMatch(/"(error|last_error)":"[^"]+"/);
        },
        { timeout: 20_000, interval: 250 },
      );
    }
    expect(await lab.lag()).toMatchObject({ stale: true });

    await broker.start();
    // The services reconnect by themselves; nothing is restarted.
    await vi.waitFor(async () => expect((await produce()).status).toBe(201), { timeout: 60_000, interval: 500 });
    for (let i = 0; i < 20; i++) expect((await produce()).status).toBe(201);
    for (const service of [lab.producer, lab.consumers[0]!, lab.monitor]) {
      await vi.waitFor(async () => expect((await fetch(`${service.url}/health`)).status).toBe(200), { timeout: 60_000, interval: 500 });
    }
    await lab.drained(60_000);
    expect(await lab.lag()).toMatchObject({ stale: false, total_lag: 0 });

    const processed = new Set((await lab.processed()).map((p) => p.order_id));
    expect(acked.length).toBeGreaterThanOrEqual(41);
    expect(acked.filter((id) => !processed.has(id))).toEqual([]);
    expect((await getJson(`${lab.consumers[0]!.url}/stats`)).processed).toBeGreaterThanOrEqual(41);
  });

  it('a producer started before the broker answers 503 until it is connected, then takes orders', async () => {
    await broker!.stop();
    const producer = await startService('producer', { KAFKA_BROKERS: broker!.brokers, TOPIC: lab!.topic }, 'restart-early-producer');
    try {
      const early = await postJson(`${producer.url}/produce`);
      expect(early.status).toBe(503);
      expect(early.body.error).toMatch(/kafka unavailable: still connecting/);
      const health = await fetch(`${producer.url}/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ connected: false });
      await broker!.start();
      await vi.waitFor(async () => expect((await postJson(`${producer.url}/produce`)).status).toBe(201), { timeout: 60_000, interval: 500 });
      expect(await getJson(`${producer.url}/health`)).toMatchObject({ connected: true, healthy: true });
    } finally {
      await producer.stop();
    }
  });
});
