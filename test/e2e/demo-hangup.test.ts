import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { isAlive } from '../../operator/src/targets/pid.js';
import { REPO } from '../support/paths.js';
import { freePortRange } from '../support/services.js';

/*
 * `make demo` in a real terminal (tmux), and the terminal closed under it: the kernel hangs up
 * (SIGHUP) on make, demo.sh and the scenario. Everything the demo started must stop, as on Ctrl-C.
 * The demo runs on ports and directories of its own (LAB_* and KAFKA_PORT, read by hack/lib/lab.sh),
 * so a lab of yours on the usual ports is left alone. Its logs stay in .lab/test-logs/demo-hangup.
 */
const run = promisify(execFile);
const SESSION = `bplab-demo-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'bplab-demo-'));
const PARTITIONS = 6;
/** The producer, lag monitor, operator, Kafka and its controller, then one per consumer. */
const PORTS = 5 + PARTITIONS;
const logDir = join(REPO, '.lab/test-logs/demo-hangup');

async function portFree(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });
    return false;
  } catch (err) {
    return (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
  }
}

describe('make demo in a terminal that is closed', () => {
  const env: Record<string, string> = { LAB_RUN_DIR: join(dir, 'run'), LAB_LOG_DIR: logDir };
  const ports: Record<string, number> = {};

  afterAll(async () => {
    await run('tmux', ['kill-session', '-t', SESSION]).catch(() => undefined);
    // Whatever the demo may have left behind (only if the test failed) goes, with its broker's data.
    await run('bash', [join(REPO, 'hack/lab/local-down.sh')], { env: { ...process.env, ...env, KAFKA_WIPE: '1' } }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  // Longer than the two waits below together, so that a wait that fails reports what it saw.
  it('stops Kafka, the services, the consumers and the operator when its terminal goes away', { timeout: 200_000 }, async () => {
    rmSync(logDir, { recursive: true, force: true });
    // Below the kernel's ephemeral range, as Kafka and the services listen seconds after the pick.
    const base = await freePortRange(PORTS);
    [ports.producer, ports.lagMonitor, ports.operator, ports.kafka, ports.kafkaController, ports.consumerBase] = [base, base + 1, base + 2, base + 3, base + 4, base + 5];
    Object.assign(env, {
      LAB_PRODUCER_PORT: String(ports.producer),
      LAB_LAG_MONITOR_PORT: String(ports.lagMonitor),
      LAB_OPERATOR_PORT: String(ports.operator),
      LAB_CONSUMER_BASE_PORT: String(ports.consumerBase),
      KAFKA_PORT: String(ports.kafka),
      KAFKA_CONTROLLER_PORT: String(ports.kafkaController),
    });
    const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    await run('tmux', ['new-session', '-d', '-s', SESSION, '-x', '150', '-y', '50', '-c', REPO, 'env', ...assignments, 'make', '-s', 'demo']);

    // The scenario is on screen and the lab it started answers.
    const screen = async () => (await run('tmux', ['capture-pane', '-p', '-t', SESSION])).stdout;
    await vi.waitFor(
      async () => {
        expect(await screen()).toContain('backpressure-lab demo');
        for (const port of [ports.producer, ports.lagMonitor, ports.operator, ports.consumerBase]) expect(await portFree(port!)).toBe(false);
      },
      { timeout: 90_000, interval: 500 },
    );
    const pidFiles = readdirSync(env.LAB_RUN_DIR!).filter((f) => f.endsWith('.pid'));
    expect(pidFiles.sort()).toEqual(['consumer-1.pid', 'lag-monitor.pid', 'operator.pid', 'producer.pid']);
    const kafkaPidFile = join(process.env.BPLAB_CACHE ?? join(process.env.HOME ?? '', '.cache/backpressure-lab'), 'run', `kafka-${ports.kafka}`, 'kafka.pid');
    const pids = [...pidFiles.map((f) => join(env.LAB_RUN_DIR!, f)), kafkaPidFile].map((f) => Number(readFileSync(f, 'utf8')));

    await run('tmux', ['kill-session', '-t', SESSION]);

    // Done when the demo's stop has run to its end (its last line: the processes are gone by then
    // a moment earlier, while local-down is still writing) and nothing it started is left.
    const stopLog = join(env.LAB_LOG_DIR!, 'demo-stop.log');
    await vi.waitFor(
      async () => {
        expect(existsSync(stopLog) && readFileSync(stopLog, 'utf8')).toContain('local lab stopped');
        for (const pid of pids) expect(isAlive(pid), `pid ${pid} still running`).toBe(false);
        for (const port of [ports.producer, ports.lagMonitor, ports.operator, ports.consumerBase, ports.kafka]) expect(await portFree(port!), `port ${port}`).toBe(true);
      },
      { timeout: 90_000, interval: 500 },
    );
    expect(readdirSync(env.LAB_RUN_DIR!).filter((f) => f.endsWith('.pid'))).toEqual([]);
    expect(existsSync(kafkaPidFile)).toBe(false);
  });
});
