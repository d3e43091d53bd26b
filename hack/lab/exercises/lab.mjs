// What `make exercise N` drives the lab with: its HTTP APIs (each call printed as the curl line a
// reader would type), fresh samples from the lag monitor, rates measured from offsets, checks of
// what was observed against what the math says, and putting the lab back as it was found.
// exercise.sh passes the lab's ports in LAB_* (hack/lib/lab.sh) and LAB_TARGET (local or cluster).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bold, c, dim, get, NotHappened, post, sleep } from '../view.mjs';

const env = (name) => process.env[name] ?? '';
const REPO = fileURLToPath(new URL('../../..', import.meta.url));
/** A terminal colour code, as the scripts' log lines carry them. */
const ANSI_CODE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const CONSUMER_PID_FILE = /^consumer-(\d+)\.pid$/;
/** How leftovers drain in a second or two instead of minutes: no processing time, big batches. */
const FLUSH = { processing_time_ms: 0, batch_size: 100 };
/** A healthy simulated downstream, the consumers' default. */
const HEALTHY = { latency_ms: 0, error_rate: 0 };

/** Numbers as the report prints them. */
export const fmt = (value, digits = 1) => (value === null || value === undefined || Number.isNaN(value) ? '-' : String(Number(Number(value).toFixed(digits))));

/** The lab is not there or not in the shape the exercise starts from: nothing was changed. */
export class NotReady extends Error {}

/** Ctrl-C or kill: the exercise stops at its next call to the lab, and the lab is put back. */
export class Interrupted extends Error {}

/** A process counts as alive unless gone or a zombie (as hack/lib/common.sh's pid_alive). */
function pidAlive(pid) {
  const ps = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' });
  const stat = ps.status === 0 ? ps.stdout.trim() : '';
  return stat !== '' && !stat.startsWith('Z');
}

function livePid(file) {
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : null;
}

/** Sum of a snapshot's end offsets and of its committed offsets (no commit yet: the start offset). */
function offsets(snapshot) {
  let end = 0;
  let committed = 0;
  for (const p of snapshot.partitions) {
    end += p.end_offset;
    committed += p.committed_offset ?? p.start_offset;
  }
  return { end, committed, at: Date.parse(snapshot.timestamp) };
}

export class Lab {
  constructor() {
    /** local: make local-up's processes (or any on the lab's ports); cluster: make port-forward's forwards. */
    this.target = env('LAB_TARGET');
    this.partitions = Number(env('LAB_PARTITIONS'));
    this.runDir = env('LAB_RUN_DIR');
    const port = (name) => Number(env(name));
    this.ports = { producer: port('LAB_PRODUCER_PORT'), consumerBase: port('LAB_CONSUMER_BASE_PORT'), monitor: port('LAB_LAG_MONITOR_PORT'), operator: port('LAB_OPERATOR_PORT') };
    const url = (p) => `http://127.0.0.1:${p}`;
    this.producer = url(this.ports.producer);
    this.monitor = url(this.ports.monitor);
    this.operator = url(this.ports.operator);
    /** consumer-1, the one the README's curl lines talk to (in a cluster: the consumer Service). */
    this.consumer = url(this.ports.consumerBase);
    this.checks = [];
    this.found = null;
    this.lastSample = null;
    /** Orders in the topic that are not the producer's (earlier runs): end offsets = base + produced. */
    this.base = 0;
    /** What this exercise started (consumers, the operator, a paused autoscaler) and must stop. */
    this.started = { consumers: false, operator: false, autoscalerHeld: false };
    /** Set by a signal: every call of the exercise throws Interrupted; restore's calls go on. */
    this.interrupted = null;
    this.restoring = false;
  }

  interrupt(signal) {
    this.interrupted = signal;
  }

  stopIfInterrupted() {
    if (this.interrupted && !this.restoring) throw new Interrupted(`${this.interrupted}: stopped`);
  }

  describe() {
    const where = this.target === 'cluster' ? 'the cluster through make port-forward' : 'the local lab';
    return `${where}: producer :${this.ports.producer}, consumer :${this.ports.consumerBase}, lag monitor :${this.ports.monitor}`;
  }

  // --- printing ---------------------------------------------------------------------------------
  /** A step of the exercise as the README tells it. */
  step(text) {
    console.log(`\n${c('36', '▶')} ${text}`);
  }

  /** What the lab answered or did, under the step. */
  note(text) {
    console.log(`  ${dim(text)}`);
  }

  curl(method, url, body) {
    const target = url.replace('http://127.0.0.1:', 'localhost:');
    const words = ['curl -s', method === 'POST' ? '-X POST' : '', /[?&]/.test(target) ? `'${target}'` : target];
    if (body) words.push(`-H 'Content-Type: application/json' -d '${JSON.stringify(body)}'`);
    console.log(`  ${bold('$')} ${words.filter(Boolean).join(' ')}`);
  }

  // --- HTTP -------------------------------------------------------------------------------------
  /** POST, printed as its curl line; throws with the service's answer on a non-2xx. */
  async post(url, body) {
    this.stopIfInterrupted();
    this.curl('POST', url, body);
    return post(url, body);
  }

  /** GET, printed as its curl line. */
  async get(url) {
    this.curl('GET', url);
    return this.read(url);
  }

  /** GET without printing (what a `watch` would poll); throws when nothing answers. */
  async read(url) {
    this.stopIfInterrupted();
    const body = await get(url);
    if (body === null) throw new NotHappened(`no answer from GET ${url}`);
    return body;
  }

  async text(url) {
    this.stopIfInterrupted();
    this.curl('GET', url);
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new NotHappened(`GET ${url} answered ${res.status}`);
    return res.text();
  }

  /** Polls `probe` (async) every `everyMs` until it returns something truthy, which it returns. */
  async waitFor(what, timeoutMs, probe, seen = () => '', everyMs = 200) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.stopIfInterrupted();
      const value = await probe();
      if (value) return value;
      if (Date.now() >= deadline) {
        const now = seen();
        throw new NotHappened(`${what} did not happen within ${fmt(timeoutMs / 1000, 0)} s${now ? ` (${now})` : ''}`);
      }
      await sleep(everyMs);
    }
  }

  // --- the consumers ----------------------------------------------------------------------------
  /**
   * The consumers this runner can reach: locally each on its own port (base, base + 1, ... up to
   * one per partition); in a cluster only the consumer Service, which make port-forward pins to
   * one of its pods.
   */
  async consumers() {
    if (this.target === 'cluster') return [this.consumer];
    const urls = Array.from({ length: this.partitions }, (_, i) => `http://127.0.0.1:${this.ports.consumerBase + i}`);
    const answers = await Promise.all(urls.map(async (url) => ((await get(`${url}/config`)) ? url : null)));
    return answers.filter(Boolean);
  }

  /** The same POST to every consumer: one curl line, and how many more got it. */
  async allConsumers(path, body) {
    const urls = await this.consumers();
    this.curl('POST', `${this.consumer}${path}`, body);
    if (urls.length > 1) this.note(`(the same on the other ${urls.length - 1} consumers)`);
    return Promise.all(urls.map((url) => post(`${url}${path}`, body)));
  }

  // --- the lag monitor and rates ----------------------------------------------------------------
  /** The lag monitor's next snapshot after the last one this runner saw (it polls Kafka every second). */
  async sample(timeoutMs = 10_000) {
    const seen = this.lastSample?.timestamp;
    const next = await this.waitFor('a new sample from the lag monitor', timeoutMs, async () => {
      const lag = await get(`${this.monitor}/lag`);
      return lag && lag.timestamp !== seen ? lag : null;
    });
    this.lastSample = next;
    return next;
  }

  /** Produced and consumed msg/s between two snapshots, from the offsets themselves. */
  rates(from, to) {
    const a = offsets(from);
    const b = offsets(to);
    const seconds = (b.at - a.at) / 1000;
    return { seconds, produced: (b.end - a.end) / seconds, consumed: (b.committed - a.committed) / seconds };
  }

  /** Rates over about `seconds`, measured from two fresh samples of the monitor. */
  async measure(seconds) {
    const from = await this.sample();
    const start = Date.parse(from.timestamp);
    await sleep(seconds * 1000 - 1000);
    let to = await this.sample();
    // Samples come once per poll: the first one at least `seconds` (less half a poll) later.
    while (Date.parse(to.timestamp) - start < seconds * 1000 - 400) to = await this.sample();
    return { ...this.rates(from, to), from, to };
  }

  /** Waits until the monitor has seen every order the producer sent and lag is 0; that sample. */
  async drained(timeoutMs, what = 'lag 0') {
    let last = null;
    return this.waitFor(what, timeoutMs, async () => {
      const { produced } = await this.read(`${this.producer}/stats`);
      last = await get(`${this.monitor}/lag`);
      return last && last.total_lag === 0 && offsets(last).end >= this.base + produced ? last : null;
    }, () => (last ? `lag ${last.total_lag}` : 'no answer from the lag monitor'));
  }

  /** Drains a backlog fast on every consumer (no processing time, batches of 100), then puts them back. */
  async flush() {
    const urls = await this.consumers();
    const settings = await Promise.all(urls.map((url) => this.read(`${url}/config`)));
    await Promise.all(urls.map((url) => post(`${url}/config`, FLUSH)));
    try {
      await this.drained(60_000, 'draining the leftovers');
    } finally {
      await Promise.all(urls.map((url, i) => post(`${url}/config`, { processing_time_ms: settings[i].processing_time_ms, batch_size: settings[i].batch_size })));
    }
  }

  // --- checks -----------------------------------------------------------------------------------
  /** One row of the report: what the math says, what the lab did, and whether they agree. */
  check(what, expected, observed, ok) {
    this.checks.push({ what, expected, observed, ok: Boolean(ok) });
    console.log(`  ${ok ? c('32', '✓') : c('31', '✗')} ${what}: expected ${expected}; observed ${bold(observed)}`);
    return ok;
  }

  /** A number within [lo, hi]; `expected` says where the bounds come from. */
  within(what, value, { expected, lo, hi, unit = '', digits = 1 }) {
    const u = unit ? ` ${unit}` : '';
    const range = hi === Infinity ? `at least ${fmt(lo, digits)}${u}` : lo === -Infinity ? `at most ${fmt(hi, digits)}${u}` : `${fmt(lo, digits)} to ${fmt(hi, digits)}${u}`;
    return this.check(what, expected ? `${expected} [${range}]` : range, `${fmt(value, digits)}${u}`, value >= lo && value <= hi);
  }

  get passed() {
    return this.checks.length > 0 && this.checks.every((row) => row.ok);
  }

  report() {
    const head = ['', 'check', 'observed', 'expected (the math)'];
    const rows = this.checks.map((row) => [row.ok ? 'ok' : 'FAIL', row.what, row.observed, row.expected]);
    const widths = [4, ...[1, 2].map((i) => Math.min(36, Math.max(head[i].length, ...rows.map((r) => r[i].length))))];
    const line = (r) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell)).join('  ');
    console.log(`\n${bold('Observed vs expected')}`);
    console.log(`  ${dim(line(head))}`);
    for (const r of rows) console.log(`  ${c(r[0] === 'ok' ? '32' : '31', line(r))}`);
  }

  // --- scripts and processes --------------------------------------------------------------------
  /** Runs one of the lab's shell scripts as the README would (make local-up ..., make scale-manual ...). */
  async script(shown, path, extraEnv = {}) {
    this.stopIfInterrupted();
    console.log(`  ${bold('$')} ${shown}`);
    const child = spawn('bash', [join(REPO, path)], { env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk) => {
      output += chunk;
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const code = await new Promise((resolve) => child.on('close', resolve));
    // Their progress lines ("[local-up] consumer-2 on http://..."), not the banner after them.
    const lines = output.split('\n').map((l) => l.replace(ANSI_CODE, '').trim());
    for (const text of lines.filter((l) => l.startsWith('['))) this.note(text);
    if (code !== 0) throw new NotHappened(`${shown} failed (exit ${code})`);
  }

  /** SIGTERM the processes named by these pid files and wait for them (hack/lib/common.sh's stop_pid_files). */
  stopPidFiles(files) {
    if (files.length === 0) return;
    const stop = spawnSync('bash', ['-c', 'source "$1"; shift; stop_pid_files 40 "$@"', 'exercise', join(REPO, 'hack/lib/common.sh'), ...files], { encoding: 'utf8' });
    if (stop.status !== 0) throw new Error(`stopping ${files.join(', ')} failed: ${stop.stderr}`);
  }

  /** Local consumer pid files whose process runs: consumer number -> file. */
  liveConsumerPidFiles() {
    const live = new Map();
    if (!existsSync(this.runDir)) return live;
    for (const name of readdirSync(this.runDir)) {
      const match = CONSUMER_PID_FILE.exec(name);
      if (match && livePid(join(this.runDir, name))) live.set(Number(match[1]), join(this.runDir, name));
    }
    return live;
  }

  operatorRunning() {
    return this.target === 'local' && livePid(join(this.runDir, 'operator.pid')) !== null;
  }

  /** The cluster's LagAutoscaler as the operator reports it (through make port-forward's :8020). */
  async autoscaler() {
    const status = await get(`${this.operator}/status`);
    return status?.autoscalers?.[0] ?? null;
  }

  // --- before and after -------------------------------------------------------------------------
  /** The lab answers: else say how to start it. */
  async preflight() {
    const missing = [];
    for (const [name, url] of [['producer', `${this.producer}/stats`], ['consumer', `${this.consumer}/config`], ['lag monitor', `${this.monitor}/lag`]]) {
      if ((await get(url)) === null) missing.push(`${name} (${url.replace('http://127.0.0.1:', 'localhost:')})`);
    }
    if (missing.length) {
      throw new NotReady(`the lab does not answer${missing.length ? `: no ${missing.join(', no ')}` : ''}. Start it with ${bold('make local-up')}, or ${bold('make up && make port-forward')} for the lab in a cluster`);
    }
  }

  /**
   * Remembers what it changes, then gives the exercise the lab the README starts from: the
   * auto-producer stopped, the throttle off, every consumer running one message at a time with
   * auto-pause off and a healthy downstream, no lag, and (unless the exercise scales) one consumer
   * with nobody scaling it: a local operator makes the exercise wait for make local-down; a
   * cluster's LagAutoscaler is paused for the exercise (make scale-manual REPLICAS=1).
   */
  async prepare({ scales = false, autoscaled = false } = {}) {
    const urls = await this.consumers();
    // A lab just started: its consumers are still joining the group.
    let lag = null;
    await this.waitFor('the consumers in the group', 30_000, async () => {
      lag = await get(`${this.monitor}/lag`);
      return lag && lag.group_state === 'Stable' && lag.members >= (this.target === 'local' ? urls.length : 1);
    }, () => (lag ? `members ${lag.members}, group ${lag.group_state}` : 'no answer from the lag monitor'), 500);
    if (!autoscaled && this.operatorRunning()) throw new NotReady(`the operator is running (make local-up AUTOSCALE=1) and would add consumers mid-exercise: ${bold('make local-down && make local-up')} first`);
    if (!scales && this.target === 'local' && lag.members !== 1) throw new NotReady(`this exercise starts from one consumer, the group has ${lag.members}: ${bold('make local-down && make local-up')} first`);
    const [producer, throttle] = await Promise.all([this.read(`${this.producer}/config`), this.read(`${this.producer}/throttle`)]);
    const consumers = await Promise.all(urls.map(async (url) => ({ url, config: await this.read(`${url}/config`), downstream: await this.read(`${url}/downstream`) })));
    this.found = {
      producer: { rate_ms: producer.rate_ms, batch_size: producer.batch_size, running: producer.running },
      throttle: throttle.enabled,
      consumers,
      members: lag.members,
      consumerPidFiles: this.target === 'local' ? this.liveConsumerPidFiles() : new Map(),
      autoscaler: this.target === 'cluster' ? await this.autoscaler() : null,
    };

    const changes = [];
    if (producer.running) changes.push(['the auto-producer was running: stopped for the exercise', () => post(`${this.producer}/stop`)]);
    if (throttle.enabled) changes.push(['the throttle was on: off for the exercise', () => post(`${this.producer}/throttle`, { enabled: false })]);
    for (const { url, config, downstream } of consumers) {
      const name = config.consumer_id;
      if (config.paused) changes.push([`${name} was paused (${config.paused_by}): resumed`, () => post(`${url}/config`, { auto_pause: false, paused: false })]);
      else if (config.auto_pause) changes.push([`${name} had auto-pause on: off for the exercise`, () => post(`${url}/config`, { auto_pause: false })]);
      if (config.batch_size !== 1) changes.push([`${name} was in batch mode (${config.batch_size}): one at a time for the exercise`, () => post(`${url}/config`, { batch_size: 1 })]);
      if (downstream.latency_ms !== 0 || downstream.error_rate !== 0) changes.push([`${name}'s downstream was degraded: healthy for the exercise`, () => post(`${url}/downstream`, HEALTHY)]);
    }
    const autoscaler = this.found.autoscaler;
    if (this.target === 'cluster' && !autoscaled && autoscaler && !autoscaler.spec?.paused) {
      changes.push(['the LagAutoscaler would scale mid-exercise: paused at one consumer (make scale-manual REPLICAS=1)', async () => {
        this.started.autoscalerHeld = true;
        await this.script('make scale-manual REPLICAS=1', 'hack/deploy/scale-manual.sh', { REPLICAS: '1' });
      }]);
    }
    if (changes.length) this.step('Getting the lab into the README\'s starting state');
    for (const [what, change] of changes) {
      this.note(what);
      await change();
    }
    // The producer's count and the topic's end offsets agree from here on (base + produced).
    const quiet = await this.sample();
    const { produced } = await this.read(`${this.producer}/stats`);
    this.base = offsets(quiet).end - produced;
    if (quiet.total_lag > 0) {
      this.note(`lag ${quiet.total_lag} left over: draining it fast first (no processing time, batches of ${FLUSH.batch_size})`);
      await this.flush();
    }
  }

  /**
   * Puts back what the exercise changed: consumers and the operator it started are stopped (by
   * pid) or the cluster scaled back, leftovers are drained fast, and every setting is as found.
   * Runs after a failure too; what it cannot put back fails the run.
   */
  async restore() {
    if (!this.found) return;
    const found = this.found;
    this.found = null;
    this.restoring = true;
    this.step('Putting the lab back as it was');
    await post(`${this.producer}/stop`);
    if (this.target === 'local') {
      const files = [];
      if (this.started.operator) files.push(join(this.runDir, 'operator.pid'));
      for (const [n, file] of this.liveConsumerPidFiles()) if (!found.consumerPidFiles.has(n)) files.push(file);
      if (files.length) this.note(`stopping what the exercise started: ${files.map((f) => f.split('/').pop().replace('.pid', '')).join(', ')}`);
      this.stopPidFiles(files.filter((f) => f.endsWith('operator.pid')));
      this.stopPidFiles(files.filter((f) => !f.endsWith('operator.pid')));
    } else if (this.started.consumers || this.started.autoscalerHeld) {
      if (found.autoscaler && !found.autoscaler.spec?.paused) await this.script('make scale-manual', 'hack/deploy/scale-manual.sh', { REPLICAS: '' });
      else await this.script(`make scale-manual REPLICAS=${found.members}`, 'hack/deploy/scale-manual.sh', { REPLICAS: String(found.members) });
    }
    if (this.target === 'local') {
      let members = null;
      await this.waitFor(`the group back at ${found.members} member(s)`, 30_000, async () => {
        const lag = await get(`${this.monitor}/lag`);
        members = lag?.members;
        return members === found.members && lag.group_state === 'Stable';
      }, () => `members ${members}`);
    }
    const urls = await this.consumers();
    await Promise.all(urls.map((url) => post(`${url}/downstream`, HEALTHY)));
    await Promise.all(urls.map((url) => post(`${url}/config`, { auto_pause: false, paused: false })));
    await post(`${this.producer}/throttle`, { enabled: false });
    // Orders a throttle held back are sent now, not dropped: they belong to the leftovers.
    await this.waitFor('the orders the throttle held back sent', 10_000, async () => (await this.read(`${this.producer}/throttle`)).waiting_orders === 0);
    this.note('draining what is left fast (no processing time, batches of 100), then every setting back');
    await this.flush();
    for (const { url, config, downstream } of found.consumers) {
      if (!urls.includes(url)) continue;
      await post(`${url}/downstream`, { latency_ms: downstream.latency_ms, error_rate: downstream.error_rate });
      await post(`${url}/config`, { processing_time_ms: config.processing_time_ms, batch_size: config.batch_size, auto_pause: config.auto_pause });
      if (config.paused_by === 'manual') await post(`${url}/pause`);
    }
    await post(`${this.producer}/throttle`, { enabled: found.throttle });
    await post(`${this.producer}/config`, found.producer);
    this.note(`done: ${urls.length} consumer(s) at ${found.consumers.map((f) => `${f.config.processing_time_ms} ms`).join(', ')}, producer ${found.producer.running ? 'running' : 'stopped'}, throttle ${found.throttle ? 'on' : 'off'}`);
  }
}
