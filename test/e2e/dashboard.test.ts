import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startLab, type Lab } from '../support/lab.js';
import { REPO } from '../support/paths.js';
import { getJson, postJson } from '../support/services.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOTS = join(REPO, '.lab/screenshots');

/** The lag monitor's page in a real Chromium, against a real producer, consumer and broker. */
describe('the lag dashboard at GET /', () => {
  let lab: Lab;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    // A missing browser is a broken test machine, not a reason to skip.
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install it with "apt-get update && apt-get install -y chromium"`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    lab = await startLab('dashboard');
    await vi.waitFor(async () => expect((await getJson(`${lab.consumers[0]!.url}/stats`)).assigned_partitions).toHaveLength(6), { timeout: 30_000, interval: 200 });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(err.message));
  });
  afterAll(async () => {
    await browser?.close();
    await lab?.stopAll();
  });

  const consumer = () => lab.consumers[0]!.url;
  const text = async (selector: string) => (await page.locator(selector).first().textContent()) ?? '';
  const shownLag = async () => Number((await text('#total-lag')).replace(/,/g, ''));
  const lagChartPoints = async () => ((await page.locator('#lag-chart path.lag.line').getAttribute('d')) ?? '').split(/[ML]/).length - 1;

  it('is a self-contained HTML page, and /config gives it the thresholds', async () => {
    const res = await fetch(`${lab.monitor.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(await getJson(`${lab.monitor.url}/config`)).toMatchObject({
      group: lab.group,
      topic: lab.topic,
      poll_interval_ms: 250,
      thresholds: { lag_warning: 100, lag_critical: 500, rate_warning: 10 },
    });
  });

  it('shows critical lag with the number /lag reports, partition bars, a chart and the alert', async () => {
    await postJson(`${consumer()}/fast?time_ms=5`);
    // A steady 20 msg/s the consumer keeps up with, so the rate chart has something to draw.
    await postJson(`${lab.producer.url}/config`, { rate_ms: 50, batch_size: 1, running: true });
    await page.goto(`${lab.monitor.url}/`);
    await expect.poll(() => text('#status'), { timeout: 10_000 }).toBe('ok');
    await expect.poll(async () => (await lab.lag()).consumption_rate, { timeout: 15_000 }).toBeGreaterThan(10);
    // Some calm history first, so the chart shows the lag rise from where it was.
    await expect.poll(lagChartPoints, { timeout: 30_000 }).toBeGreaterThanOrEqual(40);

    await postJson(`${consumer()}/pause`);
    await postJson(`${lab.producer.url}/produce/batch?count=600`);
    await postJson(`${lab.producer.url}/stop`);
    await expect.poll(() => text('#status'), { timeout: 15_000 }).toBe('critical');
    // With the producer stopped and the consumer paused, lag holds still: the page catches up to it.
    await expect
      .poll(async () => {
        const [shown, lag] = await Promise.all([shownLag(), lab.lag()]);
        return shown === lag.total_lag && shown >= 600;
      }, { timeout: 10_000 })
      .toBe(true);

    expect(await page.locator('#partitions .partition').count()).toBe(6);
    const lag = await lab.lag();
    for (const p of lag.partitions) {
      const row = page.locator(`#partitions .partition[data-partition="${p.partition}"]`);
      expect(await row.locator('.lag').textContent()).toBe(p.lag.toLocaleString('en-US'));
      expect(await row.locator('.offsets').textContent()).toMatch(/^committed [\d,]+ · end [\d,]+$/);
    }
    expect(await page.locator('#lag-chart path.lag.line').getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){40,}$/);
    expect(await page.locator('#lag-chart line.threshold').count()).toBe(2);
    expect(await page.locator('#rate-chart path.produced.line').getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+)+$/);
    await expect.poll(() => text('#alerts .alert'), { timeout: 5_000 }).toMatch(/→ critical.*lag is critical/);
    await expect.poll(() => page.locator('#recommendations').textContent(), { timeout: 10_000 }).toMatch(/Resume the consumers paused by hand/);
    // What the strategies do now: the consumer published its pause; the producer's throttle is off.
    expect(await text('#paused')).toBe('paused by hand: P0–P5');
    expect(await page.locator('#paused').getAttribute('data-active')).toBe('true');
    await expect.poll(() => text('#throttle'), { timeout: 5_000 }).toBe('producer throttle off');
    expect(await page.title()).toMatch(/^CRITICAL/);
    expect(await page.locator('#banner').isVisible()).toBe(false);
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard.png') });
  });

  it('turns ok with lag 0 live, without a reload, after the consumer resumes', async () => {
    // Survives only if the page is never reloaded.
    await page.evaluate(() => Reflect.set(globalThis, 'dashboardMarker', true));
    await postJson(`${consumer()}/resume`);
    await expect.poll(() => text('#status'), { timeout: 30_000 }).toBe('ok');
    await expect.poll(() => text('#total-lag'), { timeout: 10_000 }).toBe('0');
    await expect.poll(() => text('#alerts .alert'), { timeout: 5_000 }).toMatch(/→ ok.*recovered/);
    expect(await page.evaluate(() => Reflect.get(globalThis, 'dashboardMarker'))).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-ok.png') });
    expect(consoleErrors).toEqual([]);
  });

  it('marks a membership change on the lag chart, labelled with its stop', async () => {
    const markers = () => page.locator('#lag-chart line.rebalance').count();
    const before = await markers();
    await lab.addConsumer();
    await expect.poll(markers, { timeout: 20_000 }).toBe(before + 1);
    await expect.poll(() => page.locator('#lag-chart text.rebalance').last().textContent(), { timeout: 20_000 }).toMatch(/^rebalance [\d.]+ s$/);
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-rebalance.png') });
  });

  it('says the numbers are stale when /lag does', async () => {
    // A broker outage is the real cause (see broker-restart.test.ts); here /lag only says so.
    await page.route('**/lag', async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, json: { ...(await response.json()), stale: true } });
    });
    await expect.poll(() => text('#banner'), { timeout: 10_000 }).toMatch(/^Stale: the monitor's last poll of Kafka failed/);
    expect(await text('#status-label')).toBe('Last known status');
    await page.unroute('**/lag');
    await expect.poll(() => page.locator('#banner').isVisible(), { timeout: 10_000 }).toBe(false);
    expect(await text('#status-label')).toBe('Status');
  });

  it('says it is disconnected when the monitor goes away, keeping the last numbers', async () => {
    await lab.monitor.stop();
    await expect.poll(() => text('#banner'), { timeout: 10_000 }).toMatch(/^Disconnected: cannot reach the lag monitor/);
    expect(await page.locator('#banner').isVisible()).toBe(true);
    expect(await text('#total-lag')).toBe('0');
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-disconnected.png') });
  });
});
