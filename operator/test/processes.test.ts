import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@bplab/kit';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { consumerLogFile, consumerPidFile } from '../src/targets/local-layout.js';
import { isAlive } from '../src/targets/pid.js';
import { ProcessTarget } from '../src/targets/processes.js';

// The consumer here is a stand-in (support/fake-consumer.mjs): it listens on PORT and exits on SIGTERM.
const FAKE_CONSUMER = fileURLToPath(new URL('./support/fake-consumer.mjs', import.meta.url));
const BASE_PORT = 23001;

describe('ProcessTarget', () => {
  let dir: string;
  let target: ProcessTarget;
  const pidOf = (n: number) => Number(readFileSync(consumerPidFile(join(dir, 'run'), n), 'utf8'));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bplab-processes-'));
    target = new ProcessTarget({
      entry: FAKE_CONSUMER,
      runDir: join(dir, 'run'),
      logDir: join(dir, 'logs'),
      basePort: BASE_PORT,
      env: { PATH: process.env.PATH, TOPIC: 'orders', UNRELATED_SECRET: 'x' },
      logger: createLogger('test', 'silent'),
      stopTimeoutMs: 5000,
    });
  });

  afterEach(async () => {
    await target.setReplicas(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('starts consumers on consecutive ports with ids, pid files and logs, and stops the highest first', async () => {
    expect(await target.getReplicas()).toBe(0);
    await target.setReplicas(3);
    expect(await target.getReplicas()).toBe(3);
    await vi.waitFor(async () => {
      const answer = (await (await fetch(`http://127.0.0.1:${BASE_PORT + 2}/`)).json()) as Record<string, unknown>;
      expect(answer).toEqual({ id: 'consumer-3', port: String(BASE_PORT + 2), topic: 'orders' });
    }, { timeout: 5000, interval: 100 });

    const third = pidOf(3);
    await target.setReplicas(1);
    expect(await target.getReplicas()).toBe(1);
    expect(isAlive(third)).toBe(false);
    expect(existsSync(consumerPidFile(join(dir, 'run'), 3))).toBe(false);
    expect(existsSync(consumerPidFile(join(dir, 'run'), 1))).toBe(true);
    // SIGTERM, not SIGKILL: the consumer got to say goodbye.
    expect(readFileSync(consumerLogFile(join(dir, 'logs'), 3), 'utf8')).toMatch(/consumer-3 leaving the group/);
  });

  it('counts a consumer started by someone else through its pid file, and fills the gaps', async () => {
    // The lab script's consumer-1, started outside the target.
    const external = spawn(process.execPath, [FAKE_CONSUMER], { env: { PORT: String(BASE_PORT), CONSUMER_ID: 'consumer-1' }, stdio: 'ignore' });
    // Ready once it answers: before that its SIGTERM handler may not be installed yet.
    await vi.waitFor(async () => expect((await fetch(`http://127.0.0.1:${BASE_PORT}/`)).ok).toBe(true), { timeout: 10_000, interval: 50 });
    mkdirSync(join(dir, 'run'));
    writeFileSync(consumerPidFile(join(dir, 'run'), 1), `${external.pid}\n`);
    // A stale pid file from a consumer that is gone.
    writeFileSync(consumerPidFile(join(dir, 'run'), 2), '999999\n');

    expect(await target.getReplicas()).toBe(1);
    expect(existsSync(consumerPidFile(join(dir, 'run'), 2))).toBe(false);
    await target.setReplicas(2);
    expect(pidOf(1)).toBe(external.pid);
    expect(await target.getReplicas()).toBe(2);
    await target.setReplicas(1);
    expect(pidOf(1)).toBe(external.pid);
    await target.setReplicas(0);
    await vi.waitFor(() => expect(external.exitCode).toBe(0), { timeout: 5000, interval: 50 });
  });

  it('refuses to start a consumer that is not built', async () => {
    const missing = new ProcessTarget({
      entry: join(dir, 'nope.js'),
      runDir: join(dir, 'run'),
      logDir: join(dir, 'logs'),
      basePort: BASE_PORT,
      env: {},
      logger: createLogger('test', 'silent'),
      stopTimeoutMs: 1000,
    });
    await expect(missing.setReplicas(1)).rejects.toThrow(/nope.js does not exist/);
  });
});
