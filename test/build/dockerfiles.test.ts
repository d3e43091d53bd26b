import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it, vi } from 'vitest';
import { REPO } from '../support/paths.js';
import { freePort } from '../support/services.js';
import { simulateBuild } from './dockerfile.js';

const images = [
  { dir: 'services/producer', port: 8000 },
  { dir: 'services/consumer', port: 8001 },
  { dir: 'services/lag-monitor', port: 8010 },
  { dir: 'operator', port: 8020, env: { MODE: 'local', LOCAL_AUTOSCALER_FILE: join(REPO, 'operator/local-autoscaler.yaml') } },
];

describe.each(images)('$dir/Dockerfile', ({ dir, port, env }) => {
  it('builds in stages, ships production dependencies only, runs as non-root, and the image starts', async () => {
    const stages = simulateBuild(join(REPO, dir, 'Dockerfile'), REPO);
    const final = stages.at(-1)!;
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.image).toMatch(/^node:(24|26)-/);
    expect(final.user).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
    expect(final.expose).toEqual([port]);
    expect(final.env.NODE_ENV).toBe('production');
    const app = join(final.root, final.workdir);
    const modules = readdirSync(join(app, 'node_modules'));
    for (const devOnly of ['typescript', 'vitest', 'eslint', 'playwright-core']) expect(modules).not.toContain(devOnly);
    expect(existsSync(join(app, 'services/kit/src'))).toBe(false);

    // Start the image's CMD from its own filesystem: every runtime dependency must be inside.
    const listen = await freePort();
    const child = spawn(final.cmd![0]!, final.cmd!.slice(1), {
      cwd: app,
      env: { PATH: process.env.PATH ?? '', ...final.env, PORT: String(listen), KAFKA_BROKERS: inject('kafkaBrokers'), ...env },
      stdio: 'ignore',
    });
    try {
      await vi.waitFor(async () => expect((await fetch(`http://127.0.0.1:${listen}/metrics`)).status).toBe(200), { timeout: 30_000, interval: 200 });
    } finally {
      child.kill('SIGTERM');
    }
  });
});
