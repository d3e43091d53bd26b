import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@bplab/kit';
import type { ScaleTarget } from '../loop.js';
import { isAlive } from './pid.js';
import { consumerId, consumerLogFile, consumerPidFile, consumerPort, PASSTHROUGH_ENV, PID_FILE_PATTERN } from './local-layout.js';

export interface ProcessTargetOptions {
  /** The consumer's entry script, run with this Node binary. */
  entry: string;
  runDir: string;
  logDir: string;
  basePort: number;
  /** Source of the passthrough variables (PASSTHROUGH_ENV). */
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** After SIGTERM a consumer gets this long to finish its message, commit and leave the group. */
  stopTimeoutMs: number;
}

/**
 * Local consumer processes as a scale target. Replicas are the live processes named by pid files
 * in the run dir (so a consumer-1 started by the lab script counts); scaling up starts the
 * lowest free numbers, scaling down stops the highest with SIGTERM and waits for them to exit.
 * Consumers run detached: they outlive the operator, and the lab's stop script ends them.
 */
export class ProcessTarget implements ScaleTarget {
  readonly description: string;

  constructor(private readonly options: ProcessTargetOptions) {
    this.description = `local consumers (${options.entry})`;
  }

  async getReplicas(): Promise<number> {
    return (await this.live()).size;
  }

  async setReplicas(replicas: number): Promise<void> {
    const live = await this.live();
    if (replicas > live.size) {
      const free: number[] = [];
      for (let n = 1; live.size + free.length < replicas; n++) if (!live.has(n)) free.push(n);
      // All at once: a scale-up waits for its last consumer to join.
      await Promise.all(free.map((n) => this.startConsumer(n)));
    } else if (replicas < live.size) {
      const highest = [...live.keys()].sort((a, b) => b - a).slice(0, live.size - replicas);
      await Promise.all(highest.map((n) => this.stopConsumer(n, live.get(n)!)));
    }
  }

  /** Consumer number -> pid for every pid file whose process is alive; stale pid files go. */
  async live(): Promise<Map<number, number>> {
    const { runDir } = this.options;
    const live = new Map<number, number>();
    const names = existsSync(runDir) ? await readdir(runDir) : [];
    for (const file of names) {
      const match = PID_FILE_PATTERN.exec(file);
      if (!match) continue;
      const n = Number(match[1]);
      const pid = Number((await readFile(consumerPidFile(runDir, n), 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) live.set(n, pid);
      else await rm(consumerPidFile(runDir, n), { force: true });
    }
    return live;
  }

  private async startConsumer(n: number): Promise<number> {
    const { entry, runDir, logDir, basePort, logger } = this.options;
    if (!existsSync(entry)) throw new Error(`consumer entry ${entry} does not exist (build the consumer first)`);
    mkdirSync(runDir, { recursive: true });
    mkdirSync(logDir, { recursive: true });
    const env: NodeJS.ProcessEnv = {};
    for (const name of PASSTHROUGH_ENV) if (this.options.env[name] !== undefined) env[name] = this.options.env[name];
    env.PORT = String(consumerPort(basePort, n));
    env.CONSUMER_ID = consumerId(n);
    const log = openSync(consumerLogFile(logDir, n), 'a');
    try {
      const child = spawn(process.execPath, [entry], { env, stdio: ['ignore', log, log], detached: true });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid!));
        child.once('error', reject);
      });
      child.unref();
      await writeFile(consumerPidFile(runDir, n), `${pid}\n`);
      logger.info({ consumer: consumerId(n), pid, port: env.PORT }, 'started consumer');
      return pid;
    } finally {
      closeSync(log);
    }
  }

  private async stopConsumer(n: number, pid: number): Promise<void> {
    const { runDir, stopTimeoutMs, logger } = this.options;
    signal(pid, 'SIGTERM');
    const deadline = Date.now() + stopTimeoutMs;
    while (isAlive(pid)) {
      if (Date.now() >= deadline) {
        logger.warn({ consumer: consumerId(n), pid }, 'consumer ignored SIGTERM; killing it');
        signal(pid, 'SIGKILL');
      }
      await sleep(100);
    }
    await rm(consumerPidFile(runDir, n), { force: true });
    logger.info({ consumer: consumerId(n), pid }, 'stopped consumer');
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}
