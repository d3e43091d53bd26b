import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startLab, type Lab } from '../support/lab.js';
import { freePort, getJson, postJson, startService, type RunningService } from '../support/services.js';

/** The lag monitor's thresholds, low so that the overload crosses them in seconds. */
const LAG_WARNING = 30;
const LAG_CRITICAL = 80;
/** 100 ms per message: one consumer does about 10 msg/s. */
const PROCESSING_MS = 100;
/** The auto-producer's load: 4 orders every 100 ms = 40 msg/s, four times what the consumer does. */
const OVERLOAD = { rate_ms: 100, batch_size: 4 };
/** How long the overload runs with the throttle on. */
const THROTTLED_FOR_MS = 20_000;

/**
 * Issue 9, strategy 4: the producer throttles itself on the lag monitor's status. One consumer at
 * 100 ms, an auto-producer at 40 msg/s, a lag monitor with critical at 80: with the throttle the
 * lag stays below twice critical; without it the same load passes that within seconds. Nothing
 * sent is lost, and a hold (consumers paused) keeps orders waiting rather than dropping them.
 */
describe('the producer throttles itself on the lag monitor', () => {
  let lab: Lab;
  /** A lag monitor with low thresholds, the one the producer reads (the lab's own keeps its defaults). */
  let monitor: RunningService;
  const throttleOf = async () => (await getJson(`${lab.producer.url}/stats`)).throttle;
  const consumer = () => lab.consumers[0]!.url;

  /** Samples the monitor's total lag every 250 ms until `until` holds or `ms` pass; the largest seen. */
  async function peakLag(ms: number, until: (lag: number) => boolean = () => false): Promise<number> {
    let peak = 0;
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const { total_lag } = await getJson(`${monitor.url}/lag`);
      peak = Math.max(peak, total_lag);
      if (until(total_lag)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return peak;
  }

  /** Drains the backlog fast (no processing time), then puts the consumer back at PROCESSING_MS. */
  async function drain(): Promise<void> {
    await postJson(`${lab.producer.url}/stop`);
    await postJson(`${consumer()}/fast?time_ms=0`);
    await lab.drained(60_000);
    await vi.waitFor(async () => expect((await getJson(`${monitor.url}/lag`)).total_lag).toBe(0), { timeout: 10_000, interval: 250 });
    await postJson(`${consumer()}/slow?time_ms=${PROCESSING_MS}`);
  }

  beforeAll(async () => {
    const monitorPort = await freePort();
    lab = await startLab('throttle', {
      consumers: 1,
      consumerEnv: { PROCESSING_TIME_MS: String(PROCESSING_MS) },
      producerEnv: { THROTTLE: 'true', LAG_MONITOR_URL: `http://127.0.0.1:${monitorPort}`, THROTTLE_POLL_MS: '500' },
    });
    monitor = await startService(
      'lag-monitor',
      {
        KAFKA_BROKERS: lab.brokers,
        TOPIC: lab.topic,
        GROUP_ID: lab.group,
        PORT: String(monitorPort),
        POLL_INTERVAL_MS: '250',
        RATE_WINDOW_MS: '2000',
        LAG_WARNING: String(LAG_WARNING),
        LAG_CRITICAL: String(LAG_CRITICAL),
      },
      'throttle-lag-monitor-low',
    );
    await vi.waitFor(async () => expect((await fetch(`${monitor.url}/health`)).status).toBe(200), { timeout: 30_000, interval: 100 });
    await vi.waitFor(async () => expect((await getJson(`${consumer()}/stats`)).assigned_partitions).toHaveLength(6), { timeout: 30_000, interval: 200 });
    // The producer has read the monitor: enabled at start, open while lag is ok.
    await vi.waitFor(async () => expect(await throttleOf()).toMatchObject({ enabled: true, mode: 'open', last_lag_status: 'ok', lag_monitor: { last_poll: 'ok' } }), {
      timeout: 15_000,
      interval: 200,
    });
  });
  afterAll(async () => {
    await Promise.all([lab?.stopAll(), monitor?.stop()]);
  });

  it('POST /throttle refuses a body without a boolean enabled, naming the field', async () => {
    for (const body of [{}, { enabled: 'yes' }, { enabled: true, fraction: 0.5 }]) {
      const res = await postJson(`${lab.producer.url}/throttle`, body);
      expect(res.status).toBe(400);
      expect(res.body.problems.map((p: { field: string }) => p.field)).toContain(body.enabled === true ? 'body.fraction' : 'body.enabled');
    }
  });

  it(`keeps lag below 2 x lag_critical (${2 * LAG_CRITICAL}) under an overload that passes it without the throttle`, async () => {
    // With the throttle: critical -> throttled at 0.8 x what the consumer commits.
    expect((await postJson(`${lab.producer.url}/config`, { ...OVERLOAD, running: true })).status).toBe(200);
    const throttledPeak = await peakLag(THROTTLED_FOR_MS);
    const during = await throttleOf();
    expect(during).toMatchObject({ mode: 'throttled', last_lag_status: expect.stringMatching(/critical|warning/) });
    expect(during.limit_per_sec).toBeGreaterThan(0);
    expect(during.limit_per_sec).toBeLessThanOrEqual(0.8 * (1000 / PROCESSING_MS) + 0.5);
    // The auto-producer asks for 40 msg/s; it gets the limit.
    expect((await getJson(`${lab.producer.url}/stats`)).rate_10s).toBeLessThan(12);
    const metrics = await (await fetch(`${lab.producer.url}/metrics`)).text();
    expect(metrics).toMatch(/^kafka_producer_throttle_mode\{[^}]*mode="throttled"[^}]*\} 1$/m);
    expect(metrics).toMatch(/^kafka_producer_throttle_mode\{[^}]*mode="open"[^}]*\} 0$/m);
    expect(metrics).toMatch(/^kafka_producer_throttle_limit(\{[^}]*\})? (\d+(\.\d+)?)$/m);

    await drain();

    // The same load without it, from the same empty backlog.
    expect((await postJson(`${lab.producer.url}/throttle`, { enabled: false })).body).toMatchObject({ enabled: false, mode: 'off', limit_per_sec: null });
    const off = await (await fetch(`${lab.producer.url}/metrics`)).text();
    expect(off).toMatch(/^kafka_producer_throttle_mode\{[^}]*mode="off"[^}]*\} 1$/m);
    expect(off).toMatch(/^kafka_producer_throttle_limit(\{[^}]*\})? \+Inf$/m);
    const started = Date.now();
    await postJson(`${lab.producer.url}/config`, { ...OVERLOAD, running: true });
    const openPeak = await peakLag(THROTTLED_FOR_MS, (lag) => lag > 2 * LAG_CRITICAL);
    const passedAfterMs = Date.now() - started;
    await postJson(`${lab.producer.url}/stop`);

    console.log(`throttle: peak lag ${throttledPeak} with the throttle over ${THROTTLED_FOR_MS / 1000} s; without it ${openPeak} after ${(passedAfterMs / 1000).toFixed(1)} s`);
    expect(throttledPeak).toBeGreaterThanOrEqual(LAG_CRITICAL);
    expect(throttledPeak).toBeLessThan(2 * LAG_CRITICAL);
    expect(openPeak).toBeGreaterThan(2 * LAG_CRITICAL);
  });

  it('holds while the consumers commit nothing, sends the held orders once they resume, and opens again at ok', async () => {
    await drain();
    await postJson(`${lab.producer.url}/throttle`, { enabled: true });
    await vi.waitFor(async () => expect(await throttleOf()).toMatchObject({ mode: 'open', last_lag_status: 'ok' }), { timeout: 10_000, interval: 200 });

    await postJson(`${consumer()}/pause`);
    expect((await postJson(`${lab.producer.url}/burst`, { count: LAG_CRITICAL + 40, delay_ms: 0 })).status).toBe(201);
    await vi.waitFor(async () => expect(await throttleOf()).toMatchObject({ mode: 'holding', limit_per_sec: 0 }), { timeout: 10_000, interval: 200 });
    // A lag monitor given PRODUCER_URL (the lab's own, as local-up and the chart set it) shows it.
    await vi.waitFor(
      async () => expect((await getJson(`${lab.monitor.url}/status`)).producer_throttle).toMatchObject({ url: `${lab.producer.url}/throttle`, throttle: { enabled: true, mode: 'holding', limit_per_sec: 0 }, last_error: null }),
      { timeout: 5_000, interval: 100 },
    );
    const heldAt = (await getJson(`${lab.producer.url}/stats`)).produced;

    // A burst while holding waits, counted, and nothing of it reaches Kafka.
    const held = postJson(`${lab.producer.url}/burst`, { count: 20, delay_ms: 10 });
    // Awaited below; if an assertion fails first, the producer's shutdown ends it: not unhandled.
    held.catch(() => undefined);
    await vi.waitFor(async () => expect((await throttleOf()).waiting_orders).toBeGreaterThan(0), { timeout: 5_000, interval: 100 });
    expect((await getJson(`${lab.producer.url}/stats`)).produced).toBe(heldAt);
    expect(await (await fetch(`${lab.producer.url}/metrics`)).text()).toMatch(/^kafka_producer_throttle_waiting_orders(\{[^}]*\})? [1-9]/m);

    // Consumers back: a rate is measured, the hold becomes a limit (or opens at ok), the burst completes.
    await postJson(`${consumer()}/fast?time_ms=20`);
    await postJson(`${consumer()}/resume`);
    const done = await held;
    expect(done).toMatchObject({ status: 201, body: { sent: 20 } });
    await vi.waitFor(async () => expect(await throttleOf()).toMatchObject({ mode: 'open', limit_per_sec: null, last_lag_status: 'ok', waiting_orders: 0 }), {
      timeout: 30_000,
      interval: 200,
    });
  });

  it('every order sent was processed: the throttle delayed orders, it lost none', async () => {
    await drain();
    const { produced } = await getJson(`${lab.producer.url}/stats`);
    const sent = await lab.producedIds();
    expect(sent).toHaveLength(produced);
    const processed = new Set((await lab.processed()).map((p) => p.order_id));
    expect(sent.filter((id) => !processed.has(id))).toEqual([]);
  });
});
