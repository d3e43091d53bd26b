import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readAutoscalerFile } from '../src/local.js';
import { isAlive } from '../src/targets/pid.js';

/*
 * Local mode end to end: the built operator (operator/dist/main.js, MODE=local) reads a
 * LagAutoscaler from a YAML file and starts and stops consumer processes. Both neighbours are
 * STAND-INS: the lag monitor is a tiny HTTP server serving /lag with figures the test sets, and
 * the consumer is support/fake-consumer.mjs.
 */

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(REPO, 'operator/dist/main.js');
const FAKE_CONSUMER = fileURLToPath(new URL('./support/fake-consumer.mjs', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function manifest(metricsUrl: string, overrides = ''): string {
  return `apiVersion: lab.backpressure.dev/v1alpha1
kind: LagAutoscaler
metadata:
  name: consumer
spec:
  scaleTargetRef: { name: consumer }
  metricsSource: { url: "${metricsUrl}" }
  topic: orders
  consumerGroup: order-processors
  minReplicas: 1
  maxReplicas: 6
  lagThreshold: 50
  pollIntervalSeconds: 1
  scaleDown: { stabilizationWindowSeconds: 1 }
${overrides}`;
}

describe('local mode', () => {
  let dir: string;
  let lagServer: Server;
  let lagUrl: string;
  let operator: ChildProcess;
  let operatorUrl: string;
  let totalLag = 0;
  const runDir = () => join(dir, 'run');
  const pidFiles = () => readdirSync(runDir()).filter((f) => f.endsWith('.pid')).sort();
  const baseEnv = () => ({ PATH: process.env.PATH, LOG_LEVEL: 'warn', LOCAL_RUN_DIR: runDir(), LOCAL_LOG_DIR: join(dir, 'logs'), CONSUMER_ENTRY: FAKE_CONSUMER });

  beforeAll(async () => {
    await run('npx', ['tsc', '-b', 'operator'], { cwd: REPO, timeout: 120_000 });
    dir = mkdtempSync(join(tmpdir(), 'bplab-local-'));
    lagServer = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          group: 'order-processors', topic: 'orders', total_lag: totalLag, partitions: [], partition_count: 6, status: 'ok',
          rate_of_change: null, production_rate: null, consumption_rate: null, members: 1, timestamp: new Date().toISOString(), stale: false,
        }),
      );
    });
    await new Promise<void>((resolve) => lagServer.listen(0, '127.0.0.1', resolve));
    lagUrl = `http://127.0.0.1:${(lagServer.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    if (operator && operator.exitCode === null) operator.kill('SIGKILL');
    // Consumers outlive the operator by design; the lab's stop script ends them, here the test does.
    for (const file of pidFiles()) {
      const pid = Number(readFileSync(join(runDir(), file), 'utf8'));
      if (isAlive(pid)) process.kill(pid, 'SIGTERM');
    }
    lagServer.closeAllConnections();
    await new Promise<void>((resolve) => lagServer.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('the repo\'s local-autoscaler.yaml and example-lagautoscaler.yaml are valid', async () => {
    const local = await readAutoscalerFile(join(REPO, 'operator/local-autoscaler.yaml'));
    expect(local.spec).toMatchObject({ minReplicas: 1, maxReplicas: 10, metricsSource: { url: 'http://127.0.0.1:8010' } });
    // A burst of 500 orders must ask for all 6 consumers.
    expect(Math.ceil(500 / local.spec.lagThreshold)).toBeGreaterThanOrEqual(6);
    await expect(readAutoscalerFile(join(REPO, 'operator/example-lagautoscaler.yaml'))).resolves.toBeDefined();
  });

  it('refuses a bad file with an error naming the field', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, manifest(lagUrl).replace('maxReplicas: 6', 'maxReplicas: 0'));
    const result = await run(process.execPath, [MAIN], { env: { ...baseEnv(), MODE: 'local', PORT: String(await freePort()), LOCAL_AUTOSCALER_FILE: file } }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(result?.code).toBe(1);
    expect(result?.stderr).toContain(`${file}: invalid LagAutoscaler spec.maxReplicas:`);
  });

  it('scales consumer processes with lag, serves /status and /metrics, and exits cleanly on SIGTERM', async () => {
    const file = join(dir, 'autoscaler.yaml');
    writeFileSync(file, manifest(lagUrl));
    const port = await freePort();
    operatorUrl = `http://127.0.0.1:${port}`;
    operator = spawn(process.execPath, [MAIN], {
      env: { ...baseEnv(), MODE: 'local', PORT: String(port), LOCAL_AUTOSCALER_FILE: file, CONSUMER_BASE_PORT: String(await freePort()) },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const status = async () => (await (await fetch(`${operatorUrl}/status`)).json()) as {
      mode: string;
      autoscalers: { status: { currentReplicas: number; desiredReplicas: number } | null }[];
      events: { reason: string }[];
    };

    // Nothing running: minReplicas 1 starts consumer-1.
    await vi.waitFor(async () => expect(pidFiles()).toEqual(['consumer-1.pid']), { timeout: 15_000, interval: 100 });
    totalLag = 500;
    await vi.waitFor(async () => expect(pidFiles()).toHaveLength(6), { timeout: 10_000, interval: 100 });
    await vi.waitFor(async () => expect((await status()).autoscalers[0]?.status?.currentReplicas).toBe(6), { timeout: 5_000, interval: 100 });
    totalLag = 0;
    await vi.waitFor(async () => expect(pidFiles()).toEqual(['consumer-1.pid']), { timeout: 15_000, interval: 100 });

    const report = await status();
    expect(report.mode).toBe('local');
    expect(report.events.map((e) => e.reason)).toEqual(expect.arrayContaining(['ScaledUp', 'ScaledDown']));
    expect(await (await fetch(`${operatorUrl}/metrics`)).text()).toMatch(/lag_autoscaler_scale_events_total\{namespace="local",name="consumer",direction="down"/);
    expect((await fetch(`${operatorUrl}/healthz`)).status).toBe(200);

    const exited = new Promise<number | null>((resolve) => operator.once('exit', (code) => resolve(code)));
    operator.kill('SIGTERM');
    expect(await exited).toBe(0);
    // The consumer it started keeps running: consumers belong to the lab, not to the operator process.
    expect(isAlive(Number(readFileSync(join(runDir(), 'consumer-1.pid'), 'utf8')))).toBe(true);
  });
});
