// Helpers shared by the benchmark phases: progress on stderr, bounded polling, HTTP, the lab's
// services as child processes (with pid files, so run.sh's trap can stop them), Kafka's CLI tools,
// peak RSS from /proc, and consumer-group lag through the Kafka admin API.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
// Zombie-aware: PID 1 may not reap orphans here. The operator's, since `make bench` builds first.
import { isAlive as pidAlive } from '../operator/dist/targets/pid.js';

export { pidAlive, sleep };

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const TMP = required('BENCH_TMP');
export const BROKERS = required('BENCH_BROKERS');
export const RUN_DIR = join(TMP, 'run');
const LAB = JSON.parse(readFileSync(join(REPO, 'services/kit/src/lab.json'), 'utf8'));
/** The V8 flags every service runs with (kit's lab.json), so the bench measures what the lab runs. */
export const LAB_NODE_OPTIONS = LAB.node.options;
/** glibc's malloc arenas, likewise (kit's lab.json). */
const LAB_MALLOC_ARENA_MAX = String(LAB.node.mallocArenaMax);
/** The file a consumer process runs (kit's lab.json): the bundle, as the lab and the operator start it. */
export const CONSUMER_ENTRY = LAB.paths.consumerEntry;
export const LOG_DIR = join(TMP, 'logs');
mkdirSync(RUN_DIR, { recursive: true });
mkdirSync(LOG_DIR, { recursive: true });

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the benchmark with 'make bench' (bench/run.sh sets it)`);
  return value;
}

const startedAt = performance.now();
const elapsed = () => ((performance.now() - startedAt) / 1000).toFixed(1).padStart(6);

/** Progress goes to stderr; stdout carries only the results table. */
export function log(message) {
  console.error(`\x1b[1;34m[bench ${elapsed()}s]\x1b[0m ${message}`);
}

let currentPhase = 'start-up';
export const phaseTimes = {};

/** Runs one named phase, logs how long it took, and names the phase in any error. */
export async function phase(name, fn) {
  currentPhase = name;
  log(`== ${name}`);
  const t = performance.now();
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error && !err.phase) err.phase = name;
    throw err;
  } finally {
    phaseTimes[name] = Math.round((performance.now() - t) / 100) / 10;
    log(`== ${name}: ${phaseTimes[name]} s`);
  }
}
export const phaseName = () => currentPhase;

/**
 * Calls `probe` every `intervalMs` until it returns something truthy, and returns that. Fails
 * after `timeoutMs` naming what it waited for and the last error or value seen.
 */
export async function pollUntil(what, timeoutMs, intervalMs, probe) {
  const deadline = performance.now() + timeoutMs;
  let last = 'no attempt finished';
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = `last value: ${JSON.stringify(value)}`;
    } catch (err) {
      last = `last error: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (performance.now() >= deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what} (${last})`);
    await sleep(intervalMs);
  }
}

/** JSON over HTTP with a timeout; a non-2xx answer is an error that carries the body. */
export async function http(method, url, body, timeoutMs = 10_000) {
  let res;
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    throw new Error(`${method} ${url} failed: ${err instanceof Error ? err.message : err}${cause}`);
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}
export const getJson = (url, timeoutMs) => http('GET', url, undefined, timeoutMs);
export const postJson = (url, body, timeoutMs) => http('POST', url, body, timeoutMs);

/** Peak resident set (VmHWM) of a live process in MiB, or null if it is gone. */
export function peakRssMiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]);
    return Number.isFinite(kb) ? Math.round((kb / 1024) * 10) / 10 : null;
  } catch {
    return null;
  }
}

const tail = (file, lines = 15) => {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
};

/**
 * Starts a built entry point (services/<x>/dist/main.js or operator/dist/main.js) as a child with
 * its own log file and pid file, and waits until its HTTP API answers /health (healthy or not).
 */
export async function startService(name, entry, port, env) {
  const logFile = join(LOG_DIR, `${name}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  await new Promise((resolve) => out.once('open', resolve));
  const child = spawn(process.execPath, [join(REPO, entry)], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', KAFKA_BROKERS: BROKERS, NODE_OPTIONS: LAB_NODE_OPTIONS, MALLOC_ARENA_MAX: LAB_MALLOC_ARENA_MAX, ...env, PORT: String(port) },
    stdio: ['ignore', out, out],
  });
  const pidFile = join(RUN_DIR, `${name}.pid`);
  writeFileSync(pidFile, `${child.pid}\n`);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await pollUntil(`${name} to answer on ${url}/health`, 30_000, 100, async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) during start-up:\n${tail(logFile)}`);
      }
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      await res.text();
      return true;
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    name,
    url,
    pid: child.pid,
    logFile,
    peakRss: () => peakRssMiB(child.pid),
    async stop(timeoutMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        await exited;
        clearTimeout(timer);
      }
      rmSync(pidFile, { force: true });
      out.end();
    },
  };
}

/** Stops a process we did not spawn (a consumer the operator started) by its pid file. */
export async function stopPidFile(pidFile, timeoutMs = 30_000) {
  let pid;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  if (pid > 0 && pidAlive(pid)) {
    process.kill(pid, 'SIGTERM');
    try {
      await pollUntil(`pid ${pid} (${pidFile}) to exit`, timeoutMs, 100, () => !pidAlive(pid));
    } catch {
      if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  }
  rmSync(pidFile, { force: true });
}

/**
 * Runs one of Kafka's CLI tools through hack/kafka/cli.sh (which execs java) and samples its
 * VmHWM while it runs. Resolves with its output and peak RSS; a non-zero exit is an error.
 */
export async function runKafkaTool(tool, args, timeoutMs) {
  const child = spawn('bash', [join(REPO, 'hack/kafka/cli.sh'), tool, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const pidFile = join(RUN_DIR, 'kafka-tool.pid');
  writeFileSync(pidFile, `${child.pid}\n`);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let peak = null;
  const sampler = setInterval(() => {
    const v = peakRssMiB(child.pid);
    if (v !== null && (peak === null || v > peak)) peak = v;
  }, 100);
  const started = performance.now();
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise((resolve) => child.once('exit', (c, s) => resolve(c ?? s)));
  clearTimeout(timer);
  clearInterval(sampler);
  rmSync(pidFile, { force: true });
  const wallMs = Math.round(performance.now() - started);
  writeFileSync(join(LOG_DIR, `${tool}-${Date.now()}.log`), `$ ${tool} ${args.join(' ')}\n${stdout}\n--- stderr\n${stderr}`);
  if (code !== 0) {
    const why = wallMs >= timeoutMs ? `killed after the ${Math.round(timeoutMs / 1000)} s timeout` : `exit ${code}`;
    throw new Error(`${tool} failed (${why}):\n${(stderr || stdout).trim().split('\n').slice(-15).join('\n')}`);
  }
  return { stdout, stderr, peakRssMiB: peak, wallMs };
}

export const kafka = new Kafka({ clientId: 'bench', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING, retry: { retries: 3 } });
export const admin = kafka.admin();

/** Sum of end offsets and of the group's committed offsets over the topic, and the group's members. */
export async function groupProgress(topic, groupId) {
  const [ends, committed, groups] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
    admin.describeGroups([groupId]),
  ]);
  const commits = new Map((committed.find((t) => t.topic === topic)?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  let end = 0;
  let done = 0;
  for (const p of ends) {
    end += Number(p.high);
    const c = commits.get(p.partition);
    done += c === undefined || c < 0 ? Number(p.low) : c;
  }
  const group = groups.groups.find((g) => g.groupId === groupId);
  return { end, committed: done, lag: end - done, members: group?.members.length ?? 0, state: group?.state ?? 'Unknown' };
}

/** End offset of every partition, by partition number. */
export async function partitionEnds(topic) {
  const offsets = await admin.fetchTopicOffsets(topic);
  return Object.fromEntries(offsets.map((p) => [p.partition, Number(p.high)]));
}

export async function topicRecords(topic) {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

export const round = (value, digits = 1) => (value === null || value === undefined ? null : Math.round(value * 10 ** digits) / 10 ** digits);
export const now = () => performance.now();

/** Median, min and max of repeated runs: the table shows the median and the spread. */
export function spread(values) {
  const sorted = values.filter((v) => v !== null && v !== undefined && !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return { median: null, min: null, max: null, runs: values };
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted.at(-1), runs: values };
}
