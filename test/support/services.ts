import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { LAB } from '@bplab/kit';
import { REPO } from './paths.js';

export type ServiceName = 'producer' | 'consumer' | 'lag-monitor' | 'operator';

// A consumer runs its bundle, as the lab and the operator's local mode start it (lab.json).
const entry = (name: ServiceName) =>
  join(REPO, name === 'consumer' ? LAB.paths.consumerEntry : `${name === 'operator' ? 'operator' : `services/${name}`}/dist/main.js`);

export interface RunningService {
  name: string;
  url: string;
  port: number;
  process: ChildProcess;
  /** Sends the signal and resolves with the exit code once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A base port with `count` consecutive ports free, for consumers that listen on base + n - 1,
 * below the kernel's ephemeral range. A base from freePort() lies inside it, and by the time a
 * later consumer listens, the kernel may have lent its port to an outgoing connection: make
 * exercise 4 and 8 once found consumer-2's port taken.
 */
export async function freePortRange(count: number): Promise<number> {
  const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  for (;;) {
    const base = 10_000 + Math.floor(Math.random() * (ephemeralLow - count - 10_000));
    if ((await Promise.all(Array.from({ length: count }, (_, i) => canListen(base + i)))).every(Boolean)) return base;
  }
}

async function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

/**
 * Starts a built service (services/<name>/dist/main.js, the consumer's bundle, or the operator) as
 * a real process, logs to .lab/test-logs/<label>.log, and resolves once its HTTP API answers
 * /health (healthy or not).
 */
export async function startService(name: ServiceName, env: Record<string, string>, label: string = name): Promise<RunningService> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const logDir = join(REPO, '.lab/test-logs');
  mkdirSync(logDir, { recursive: true });
  const log = createWriteStream(join(logDir, `${label}.log`), { flags: 'a' });
  // V8's heap sizing and glibc's malloc arenas, as the lab runs every service.
  const child = spawn(process.execPath, [entry(name)], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', NODE_OPTIONS: LAB.node.options, MALLOC_ARENA_MAX: String(LAB.node.mallocArenaMax), ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${label} exited with ${child.exitCode} during start-up; see .lab/test-logs/${label}.log`);
    try {
      await fetch(`${url}/health`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${label} did not answer on ${url} within 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    name: label,
    url,
    port,
    process: child,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export async function getJson<T = any>(url: string): Promise<T> {
  const res = await fetch(url);
  return (await res.json()) as T;
}

export async function postJson(url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/**
 * Sends SIGTERM to every process named by a *.pid file in runDir: consumers that the operator's
 * local mode started outlive it by design, so a test stops them this way.
 */
export function stopPidFiles(runDir: string): void {
  if (!existsSync(runDir)) return;
  for (const file of readdirSync(runDir).filter((f) => f.endsWith('.pid'))) {
    try {
      process.kill(Number(readFileSync(join(runDir, file), 'utf8')), 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

/** Writes the LagAutoscaler `consumer` that the operator's local mode reads (JSON is YAML too). */
export function writeLocalAutoscaler(file: string, spec: Record<string, unknown>): void {
  const manifest = { apiVersion: 'lab.backpressure.dev/v1alpha1', kind: 'LagAutoscaler', metadata: { name: 'consumer' }, spec: { scaleTargetRef: { name: 'consumer' }, ...spec } };
  writeFileSync(file, JSON.stringify(manifest, null, 2));
}
