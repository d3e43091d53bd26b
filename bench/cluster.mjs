// The cluster scenario (issue 10): our LagAutoscaler operator and real KEDA side by side on the
// real one-node cluster of hack/cluster. The same consumer Deployment (chart defaults: 500 ms per
// message, topic of 6 partitions, min 1, max 6) and the same burst (500 orders over about 2 s)
// are scaled once by our operator (in-cluster, as the chart deploys it) and once by KEDA v2.21.0
// (hack/keda: operator + metrics adapter as host processes, a ScaledObject with lagThreshold 50
// and KEDA's defaults otherwise; our LagAutoscaler paused meanwhile). Each run is recorded every
// 250 ms from the burst: each replica step, the consumer pods Running, every member consuming
// (every partition assigned, each member's processed count moving on that assignment), the
// drain (lag 0) against its ideals, the first scale-down and the return to the minimum.
//
// Brings up what it needs as the cluster tests do (make cluster-up when the node is not up,
// make up CLUSTER=local, hack/keda/up.sh) and takes down what it brought up; what is still up if
// the bench is interrupted is listed in $BENCH_TMP/cluster-undo for bench/run.sh's trap. Root only.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { getJson, log, phase, postJson, REPO, round, sleep, TMP } from './lib.mjs';

const run = promisify(execFile);
const NS = 'backpressure-lab';
const TICK_MS = 250;
const intEnv = (name, fallback) => {
  const v = process.env[name] ? Number(process.env[name]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got '${process.env[name]}'`);
  return v;
};

/** Settings of hack/cluster/env.sh and hack/keda/env.sh, as their scripts see them. */
function clusterEnv() {
  const vars = ['TESTENV_BIN', 'ADMIN_KUBECONFIG', 'K8S_VERSION', 'KEDA_VERSION', 'KEDA_STATE', 'NODE_IP'];
  const out = execFileSync(
    'bash',
    ['-c', `source hack/lib/common.sh && source hack/cluster/env.sh && source hack/keda/env.sh && printf '%s\\n' ${vars.map((v) => `"$${v}"`).join(' ')}`],
    { cwd: REPO, encoding: 'utf8' },
  ).split('\n');
  return Object.fromEntries(vars.map((v, i) => [v, out[i]]));
}

/** The command running now, so that a signal to the bench stops it before bench/run.sh's trap undoes things. */
let current = null;
let proxyChild = null;
const onSignal = (signal) => {
  current?.kill('SIGTERM');
  proxyChild?.kill('SIGTERM');
  process.exit(signal === 'SIGINT' ? 130 : 143);
};

/** A command with its output on our stderr (stdout carries only the results table). */
async function sh(file, args, { timeoutMs = 900_000, env } = {}) {
  const child = spawn(file, args, { cwd: REPO, stdio: ['ignore', 2, 2], env: { ...process.env, ...env } });
  current = child;
  const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
  const code = await new Promise((resolve, reject) => child.once('error', reject).once('exit', (c, s) => resolve(c ?? s))).finally(() => (current = null));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${file} ${args.join(' ')} failed (exit ${code}); its output is above`);
}
const make = (target, vars = {}) => sh('make', ['-s', '-C', REPO, target, ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)]);

/** What was brought up and is not yet taken down, for bench/run.sh's trap (one word a line). */
const undo = new Set();
function markUndo(what, on) {
  if (on) undo.add(what);
  else undo.delete(what);
  writeFileSync(join(TMP, 'cluster-undo'), [...undo].map((w) => `${w}\n`).join(''));
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const isLive = (p) => !p.metadata.deletionTimestamp && p.status.phase !== 'Succeeded' && p.status.phase !== 'Failed';
const isRunning = (p) => (p.status.containerStatuses ?? []).length > 0 && p.status.containerStatuses.every((c) => c.state?.running);
const isReady = (p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/**
 * The cluster's API over plain HTTP through `kubectl proxy` (cheap 4 polls a second), kubectl for
 * the rest, the lab's Services by their ClusterIP (kube-proxy routes them from the host) and each
 * consumer pod by its pod IP (the node's bridge is the pods' gateway).
 */
class Cluster {
  constructor(env) {
    this.env = env;
    this.kubectlBin = join(env.TESTENV_BIN, 'kubectl');
  }

  kubectl(args, input) {
    return new Promise((resolve, reject) => {
      const child = execFile(this.kubectlBin, ['--kubeconfig', this.env.ADMIN_KUBECONFIG, '-n', NS, ...args], { timeout: 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
        err ? reject(new Error(`kubectl ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
      );
      if (input !== undefined) child.stdin.end(input);
    });
  }

  async apiUp() {
    try {
      await run(this.kubectlBin, ['--kubeconfig', this.env.ADMIN_KUBECONFIG, '--request-timeout=5s', 'get', '--raw', '/readyz'], { timeout: 10_000 });
      return true;
    } catch {
      return false;
    }
  }

  async startProxy() {
    const port = await freePort();
    this.proxy = spawn(this.kubectlBin, ['--kubeconfig', this.env.ADMIN_KUBECONFIG, 'proxy', `--port=${port}`, '--address=127.0.0.1'], { stdio: 'ignore' });
    proxyChild = this.proxy;
    this.base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      try {
        if ((await fetch(`${this.base}/readyz`)).ok) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error('kubectl proxy did not answer within 10 s');
  }

  stopProxy() {
    this.proxy?.kill('SIGTERM');
    this.proxy = proxyChild = null;
  }

  async get(path) {
    const res = await fetch(`${this.base}${path}`, { signal: AbortSignal.timeout(2000) });
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
    return res.json();
  }

  async serviceUrl(name) {
    const svc = await this.get(`/api/v1/namespaces/${NS}/services/${name}`);
    if (!svc) throw new Error(`no Service ${name} in ${NS}`);
    return `http://${svc.spec.clusterIP}:${svc.spec.ports[0].port}`;
  }
}

const paths = {
  deployment: `/apis/apps/v1/namespaces/${NS}/deployments/consumer`,
  pods: `/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent('app.kubernetes.io/component=consumer')}`,
  las: `/apis/lab.backpressure.dev/v1alpha1/namespaces/${NS}/lagautoscalers/consumer`,
  hpa: `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/keda-hpa-consumer`,
  scaledObject: `/apis/keda.sh/v1alpha1/namespaces/${NS}/scaledobjects/consumer`,
};

/** One look at everything, each part allowed to fail (a gap in the record, never a failure). */
async function sample(cluster, urls, kind) {
  const t = Date.now();
  const [dep, pods, lag, ctl] = await Promise.allSettled([
    cluster.get(paths.deployment),
    cluster.get(paths.pods),
    getJson(`${urls.lag}/lag`, 1000),
    cluster.get(kind === 'keda' ? paths.hpa : paths.las),
  ]);
  const podList = pods.status === 'fulfilled' ? pods.value.items : null;
  const live = (podList ?? []).filter(isLive);
  const stats = {};
  await Promise.all(
    live
      .filter((p) => p.status.podIP && isRunning(p))
      .map(async (p) => {
        try {
          const s = await getJson(`http://${p.status.podIP}:8001/stats`, 400);
          stats[p.metadata.name] = { assigned: s.assigned_partitions ?? [], processed: s.processed ?? 0 };
        } catch {
          stats[p.metadata.name] = null;
        }
      }),
  );
  const l = lag.status === 'fulfilled' ? lag.value : null;
  const c = ctl.status === 'fulfilled' ? ctl.value : null;
  return {
    t,
    replicas: dep.status === 'fulfilled' ? dep.value.spec.replicas : null,
    pods: podList === null ? null : live.map((p) => ({ name: p.metadata.name, running: isRunning(p), ready: isReady(p) })),
    allPods: podList === null ? null : podList.length,
    lag: l && { total: l.total_lag, ends: Object.fromEntries(l.partitions.map((p) => [p.partition, p.end_offset])), members: l.members, state: l.group_state },
    stats,
    desired: c?.status?.desiredReplicas ?? null,
    metric: kind === 'keda' ? c?.status?.currentMetrics?.[0]?.external?.current?.averageValue ?? null : null,
  };
}

const sumEnds = (lag) => (lag ? Object.values(lag.ends).reduce((a, b) => a + b, 0) : 0);

/**
 * Every one of `n` live pods consuming: all n Running and answering /stats, their assignments
 * together every partition exactly once, and each one's processed count past what it was when
 * that assignment was first seen (so it consumed on it). `baseline` carries those counts between
 * samples; returns 'assigned', 'consuming' or null.
 */
function membersState(s, n, partitions, baseline) {
  if (!s.pods || s.pods.length !== n || !s.pods.every((p) => p.running)) return null;
  const views = s.pods.map((p) => [p.name, s.stats[p.name]]);
  if (views.some(([, v]) => !v || v.assigned.length === 0)) return null;
  const all = views.flatMap(([, v]) => v.assigned);
  if (all.length !== partitions || new Set(all).size !== partitions) return null;
  let consuming = true;
  for (const [name, v] of views) {
    const key = `${name}:${v.assigned.join(',')}`;
    if (!(key in baseline)) baseline[key] = v.processed;
    if (!(v.processed > baseline[key])) consuming = false;
  }
  return consuming ? 'consuming' : 'assigned';
}

/** The timeline of one run from its samples; times in seconds from the burst. */
export function analyse(samples, { t0, burst, endBefore, endsBefore, minReplicas, partitions, processingMs }) {
  const at = (t) => (t == null ? null : round((t - t0) / 1000, 1));
  const target = endBefore + burst.count;
  const seenAll = samples.find((s) => s.lag && sumEnds(s.lag) >= target);
  const perPartition = seenAll ? Object.keys(seenAll.lag.ends).map((p) => seenAll.lag.ends[p] - (endsBefore[p] ?? 0)) : [];
  const fullest = perPartition.length ? Math.max(...perPartition) : null;
  const drained = samples.find((s) => s.lag && s.lag.total === 0 && sumEnds(s.lag) >= target && s.t > t0);

  // Replica steps as the Deployment's spec.replicas changed.
  const steps = [];
  let prev = samples.find((s) => s.replicas != null)?.replicas ?? minReplicas;
  for (const s of samples) {
    if (s.replicas == null || s.replicas === prev) continue;
    steps.push({ from: prev, to: s.replicas, at_s: at(s.t), t: s.t, desired: s.desired, metric: s.metric });
    prev = s.replicas;
  }
  // Per step up: its pods Running and Ready, its members assigned and consuming.
  const ups = steps.filter((x) => x.to > x.from);
  for (const [i, step] of ups.entries()) {
    const until = ups[i + 1]?.t ?? Infinity;
    const window = samples.filter((s) => s.t >= step.t);
    const live = (s) => s.pods?.length === step.to;
    const running = window.find((s) => live(s) && s.pods.every((p) => p.running));
    const ready = window.find((s) => live(s) && s.pods.every((p) => p.ready));
    const baseline = {};
    let assigned = null;
    let consuming = null;
    for (const s of window) {
      const state = membersState(s, step.to, partitions, baseline);
      if (state && !assigned) assigned = s;
      if (state === 'consuming') {
        consuming = s;
        break;
      }
    }
    Object.assign(step, {
      pods_running_s: at(running?.t),
      pods_ready_s: at(ready?.t),
      members_assigned_s: at(assigned?.t),
      members_consuming_s: at(consuming?.t),
      // The next step came first: this count never got there on its own.
      superseded: consuming ? consuming.t > until : until !== Infinity,
    });
  }
  const firstDown = steps.find((x) => x.to < x.from);
  const back = samples.find((s) => drained && s.t >= drained.t && s.replicas === minReplicas && s.pods?.length === minReplicas);
  const peak = Math.max(minReplicas, ...steps.map((x) => x.to));
  const top = ups.find((x) => x.to === peak);
  const idealEven = (burst.count * processingMs) / partitions / 1000;
  const idealPartition = fullest == null ? null : (fullest * processingMs) / 1000;
  return {
    burst: { count: burst.count, sent_in_s: round(burst.duration_ms / 1000, 2), all_in_kafka_s: at(seenAll?.t), per_partition: perPartition },
    steps: steps.map(({ t: _t, ...x }) => x),
    path: [minReplicas, ...steps.map((x) => x.to)].join(' -> '),
    peak_replicas: peak,
    first_scale_up_s: at(ups[0]?.t),
    at_peak_s: top ? top.at_s : null,
    peak_pods_running_s: top?.pods_running_s ?? null,
    peak_pods_ready_s: top?.pods_ready_s ?? null,
    peak_members_assigned_s: top?.members_assigned_s ?? null,
    peak_members_consuming_s: top?.members_consuming_s ?? null,
    drain_s: at(drained?.t),
    ideal_even_s: round(idealEven, 1),
    ideal_partition_bound_s: round(idealPartition, 1),
    drain_vs_even: drained ? round((drained.t - t0) / 1000 / idealEven, 2) : null,
    first_scale_down_s: firstDown ? firstDown.at_s : null,
    back_to_min_s: at(back?.t),
    samples: samples.length,
  };
}

/** Fires the burst and records until the replicas are back at the minimum after the drain. */
async function burstAndRecord({ label, cluster, urls, kind, burstCount, delayMs, minReplicas, partitions, processingMs, timeoutMs }) {
  const before = await getJson(`${urls.lag}/lag`, 2000);
  if (before.total_lag !== 0) throw new Error(`${label}: lag ${before.total_lag} before the burst`);
  const endsBefore = Object.fromEntries(before.partitions.map((p) => [p.partition, p.end_offset]));
  const endBefore = Object.values(endsBefore).reduce((a, b) => a + b, 0);
  mkdirSync(join(REPO, 'bench/results'), { recursive: true });
  const samples = [];
  const t0 = Date.now();
  let burst = null;
  let burstError = null;
  const sending = postJson(`${urls.producer}/burst`, { count: burstCount, delay_ms: delayMs }, 120_000).then(
    (r) => (burst = r),
    (err) => (burstError = err),
  );
  let drainedAt = null;
  let backAt = null;
  let lastLog = t0;
  for (;;) {
    const tick = Date.now();
    const s = await sample(cluster, urls, kind);
    samples.push(s);
    if (burstError) throw new Error(`${label}: POST /burst failed: ${burstError.message}`);
    if (drainedAt === null && burst && s.lag?.total === 0 && sumEnds(s.lag) >= endBefore + burstCount) {
      drainedAt = s.t;
      log(`${label}: drained at +${((s.t - t0) / 1000).toFixed(1)} s`);
    }
    if (drainedAt !== null && backAt === null && s.replicas === minReplicas && s.pods?.length === minReplicas) {
      backAt = s.t;
      log(`${label}: back to ${minReplicas} pod at +${((s.t - t0) / 1000).toFixed(1)} s`);
    }
    if (backAt !== null && s.t - backAt >= 2000) break;
    if (Date.now() - lastLog >= 10_000) {
      lastLog = Date.now();
      const pods = s.pods ? `${s.pods.filter((p) => p.running).length}/${s.pods.length} Running` : '?';
      const extra = kind === 'keda' ? `, HPA desired ${s.desired ?? '?'} (metric ${s.metric ?? '?'})` : `, operator desired ${s.desired ?? '?'}`;
      log(`${label}: +${((s.t - t0) / 1000).toFixed(0)} s replicas ${s.replicas ?? '?'}, pods ${pods}, lag ${s.lag?.total ?? '?'}, members ${s.lag?.members ?? '?'}${extra}`);
    }
    if (Date.now() - t0 > timeoutMs) {
      const what = drainedAt === null ? `the drain (lag ${s.lag?.total})` : `the return to ${minReplicas} replica (now ${s.replicas})`;
      throw new Error(`${label}: timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    }
    await sleep(Math.max(0, TICK_MS - (Date.now() - tick)));
  }
  await sending;
  // The raw record beside the results, to look into or analyse again (bench/results is not committed).
  writeFileSync(join(REPO, 'bench/results', `cluster-${kind}-samples.json`), `${JSON.stringify({ t0, burst, endBefore, endsBefore, samples })}\n`);
  return analyse(samples, { t0, burst: { ...burst, count: burstCount }, endBefore, endsBefore, minReplicas, partitions, processingMs });
}

/** Polls probe() until it returns a truthy value; fails with what it saw last. */
async function until(what, timeoutMs, probe) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last?.ok) return last;
    } catch (err) {
      last = { why: err.message };
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what} (last: ${last?.why ?? JSON.stringify(last)})`);
    await sleep(500);
  }
}

/** One consumer pod Running and consuming, no lag, a Stable group of one: the start of each run. */
async function atRest(cluster, urls, minReplicas) {
  return until(`${minReplicas} consumer pod, lag 0, a Stable group`, 240_000, async () => {
    const [dep, pods, lag] = await Promise.all([cluster.get(paths.deployment), cluster.get(paths.pods), getJson(`${urls.lag}/lag`, 2000)]);
    const live = pods.items.filter(isLive);
    const ok = dep.spec.replicas === minReplicas && pods.items.length === minReplicas && live.every(isReady) && lag.total_lag === 0 && lag.members === minReplicas && lag.group_state === 'Stable';
    return { ok, why: `replicas ${dep.spec.replicas}, pods ${pods.items.length} (${live.filter(isReady).length} Ready), lag ${lag.total_lag}, members ${lag.members} ${lag.group_state}` };
  });
}

/** The ScaledObject: the same Deployment and group, lagThreshold 50, KEDA's defaults otherwise. */
const scaledObject = ({ topic, group, min, max }) => `apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: consumer
  namespace: ${NS}
spec:
  scaleTargetRef:
    name: consumer
  minReplicaCount: ${min}
  maxReplicaCount: ${max}
  triggers:
    - type: kafka
      metadata:
        bootstrapServers: kafka.${NS}.svc:9092
        consumerGroup: ${group}
        topic: ${topic}
        lagThreshold: "50"
`;

export async function clusterBench(out) {
  const settings = {
    burst: intEnv('BENCH_CLUSTER_BURST', 500),
    delayMs: intEnv('BENCH_CLUSTER_BURST_DELAY_MS', 4),
    autoscalers: (process.env.BENCH_CLUSTER_AUTOSCALERS || 'ours,keda').split(',').map((x) => x.trim()),
  };
  for (const a of settings.autoscalers) if (!['ours', 'keda'].includes(a)) throw new Error(`BENCH_CLUSTER_AUTOSCALERS: unknown '${a}' (ours, keda)`);
  if (process.getuid?.() !== 0) {
    Object.assign(out, { skipped: 'needs root (the one-node cluster runs containerd, iptables and mounts): sudo make bench BENCH_ONLY=cluster' });
    log(`cluster: skipped, ${out.skipped}`);
    return;
  }
  const started = Date.now();
  process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  try {
    await clusterParts(out, settings, started);
  } finally {
    process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
  }
}

async function clusterParts(out, settings, started) {
  await phase('cluster: build (cached)', async () => {
    await make('cluster-build');
    await sh('bash', ['hack/keda/build.sh']);
  });
  const env = clusterEnv();
  const cluster = new Cluster(env);
  const processingMs = 500;
  const helmSets = [`consumer.processingTimeMs=${processingMs}`, 'autoscaler.lagThreshold=50', 'autoscaler.minReplicas=1', 'autoscaler.maxReplicas=6'];
  Object.assign(out, {
    settings: { ...settings, processing_ms: processingMs, helm_sets: helmSets, kubernetes: env.K8S_VERSION, keda_version: env.KEDA_VERSION, tick_ms: TICK_MS },
    runs: {},
  });
  try {
    await phase('cluster: node, lab and KEDA up', async () => {
      if (!(await cluster.apiUp())) {
        log('cluster: the local node is not up: make cluster-up (taken down again at the end)');
        out.settings.started_node = true;
        markUndo('cluster', true);
        await make('cluster-up');
      } else log('cluster: the local node is already up: it stays up afterwards');
      markUndo('lab', true);
      await make('up', { CLUSTER: 'local', HELM_ARGS: helmSets.map((s) => `--set ${s}`).join(' ') });
      if (settings.autoscalers.includes('keda')) {
        markUndo('keda', true);
        await sh('bash', ['hack/keda/up.sh']);
      }
      await cluster.startProxy();
    });
    const urls = { lag: await cluster.serviceUrl('lag-monitor'), producer: await cluster.serviceUrl('producer') };
    const las = await cluster.get(paths.las);
    const spec = las.spec;
    const lagSnapshot = await getJson(`${urls.lag}/lag`, 2000);
    const partitions = lagSnapshot.partition_count;
    Object.assign(out.settings, {
      topic: spec.topic,
      group: spec.consumerGroup,
      partitions,
      min_replicas: spec.minReplicas,
      max_replicas: spec.maxReplicas,
      ours: { lagThreshold: spec.lagThreshold, pollIntervalSeconds: spec.pollIntervalSeconds, scaleDownWindowSeconds: spec.scaleDown?.stabilizationWindowSeconds, targetDrainSeconds: spec.targetDrainSeconds },
      keda: { lagThreshold: 50, pollingInterval: 30, cooldownPeriod: 300, hpa: 'no behavior: sync every 15 s, scale-up max(100 %, 4 pods) per 15 s, scale-down stabilization 300 s' },
    });
    const common = { cluster, urls, burstCount: settings.burst, delayMs: settings.delayMs, minReplicas: spec.minReplicas, partitions, processingMs };

    if (settings.autoscalers.includes('ours')) {
      out.runs.ours = await phase('cluster: our operator', async () => {
        await make('scale-manual'); // autoscaling on (spec.paused=false), whatever came before
        await atRest(cluster, urls, spec.minReplicas);
        log(`ours: burst of ${settings.burst} (delay ${settings.delayMs} ms) against ${processingMs} ms consumers, LagAutoscaler poll ${spec.pollIntervalSeconds} s, window ${spec.scaleDown?.stabilizationWindowSeconds} s`);
        return burstAndRecord({ ...common, label: 'ours', kind: 'ours', timeoutMs: 300_000 });
      });
    }
    if (settings.autoscalers.includes('keda')) {
      out.runs.keda = await phase('cluster: KEDA', async () => {
        // Our operator paused (it holds the count and only reports status), the pods back at 1.
        await make('scale-manual', { REPLICAS: String(spec.minReplicas) });
        await cluster.kubectl(['apply', '-f', '-'], scaledObject({ topic: spec.topic, group: spec.consumerGroup, min: spec.minReplicas, max: spec.maxReplicas }));
        await until('the ScaledObject Ready and its HPA reading the lag through the metrics adapter', 180_000, async () => {
          const [so, hpa] = await Promise.all([cluster.get(paths.scaledObject), cluster.get(paths.hpa)]);
          const ready = so?.status?.conditions?.find((c) => c.type === 'Ready');
          const metric = hpa?.status?.currentMetrics?.[0]?.external?.current?.averageValue;
          return { ok: ready?.status === 'True' && metric !== undefined, why: `ScaledObject Ready ${ready?.status ?? '?'} (${ready?.message ?? ''}), HPA ${hpa ? `metric ${metric ?? 'none yet'}` : 'not created'}` };
        });
        await atRest(cluster, urls, spec.minReplicas);
        log(`keda: burst of ${settings.burst} (delay ${settings.delayMs} ms); the HPA's default scale-down stabilization keeps 6 for 300 s after the drain`);
        try {
          return await burstAndRecord({ ...common, label: 'keda', kind: 'keda', timeoutMs: 720_000 });
        } finally {
          await cluster.kubectl(['delete', 'scaledobject', 'consumer', '--ignore-not-found', '--wait=true', '--timeout=60s']).catch((err) => log(`keda: deleting the ScaledObject: ${err.message}`));
          await make('scale-manual').catch((err) => log(`resuming our operator: ${err.message}`));
        }
      });
    }
  } finally {
    cluster.stopProxy();
    await phase('cluster: down', async () => {
      const steps = [
        ['keda', () => sh('bash', ['hack/keda/down.sh'])],
        ['lab', () => make('down')],
        ['cluster', () => make('cluster-down')],
      ];
      for (const [what, fn] of steps) {
        if (!undo.has(what)) continue;
        try {
          await fn();
          markUndo(what, false);
        } catch (err) {
          log(`cluster: taking down ${what} failed: ${err.message}`);
        }
      }
    });
  }
  out.side_by_side = sideBySide(out.runs, out.settings);
  out.duration_s = round((Date.now() - started) / 1000, 0);
}

/** The rows both runs share: seconds from the burst, ours vs KEDA, and how much sooner ours was. */
function sideBySide(runs, s) {
  const o = runs.ours;
  const k = runs.keda;
  if (!o || !k) return null;
  const peak = Math.min(s.partitions, s.max_replicas);
  const rows = [
    ['first scale-up (replicas > 1)', 'first_scale_up_s'],
    [`replicas at ${peak}`, 'at_peak_s'],
    [`${peak} pods Running`, 'peak_pods_running_s'],
    [`${peak} members consuming`, 'peak_members_consuming_s'],
    ['drained (lag 0)', 'drain_s'],
    ['first scale-down', 'first_scale_down_s'],
    [`back to ${s.min_replicas}`, 'back_to_min_s'],
  ];
  return rows.map(([what, key]) => {
    const a = o[key];
    const b = k[key];
    return { what, key, ours_s: a, keda_s: b, keda_minus_ours_s: a == null || b == null ? null : round(b - a, 1), keda_over_ours: a == null || b == null || a === 0 ? null : round(b / a, 1) };
  });
}

const f1 = (x) => (x == null ? 'n/a' : `${x.toFixed(1)} s`);

/** The table's section: both timelines side by side, the comparison, and why where ours does not win widely. */
export function clusterLines(c) {
  if (c.skipped) return [`cluster   skipped: ${c.skipped}`];
  const s = c.settings;
  const lines = [];
  lines.push(
    `cluster   our operator vs KEDA ${s.keda_version} on the one-node cluster (Kubernetes ${s.kubernetes}): the consumer Deployment at ${s.processing_ms} ms per message, ${s.partitions} partitions, min ${s.min_replicas} max ${s.max_replicas}, burst of ${s.burst} (delay ${s.delayMs} ms); times from the burst, sampled every ${s.tick_ms} ms`,
  );
  lines.push(
    `          ours: LagAutoscaler (chart values: lagThreshold ${s.ours?.lagThreshold}, poll ${s.ours?.pollIntervalSeconds} s, scale-down window ${s.ours?.scaleDownWindowSeconds} s); KEDA: ScaledObject kafka trigger lagThreshold 50, defaults otherwise (${s.keda?.hpa})`,
  );
  const col = (run) => {
    if (!run) return [];
    const out = [`burst sent in ${f1(run.burst.sent_in_s)} (per partition ${run.burst.per_partition.join('/')})`];
    for (const st of run.steps) {
      const why = run === c.runs.keda && st.metric != null ? ` (lag metric ${st.metric}/replica)` : '';
      out.push(`${f1(st.at_s)} replicas ${st.from} -> ${st.to}${why}`);
      if (st.to > st.from) {
        out.push(`${f1(st.pods_running_s)}   ${st.to} pods Running (Ready ${f1(st.pods_ready_s)})`);
        out.push(`${f1(st.members_consuming_s)}   ${st.to} members consuming${st.superseded ? ' (after the next step)' : ''} (assigned ${f1(st.members_assigned_s)})`);
      }
    }
    out.push(`${f1(run.drain_s)} drained (ideal ${f1(run.ideal_even_s)} even, ${f1(run.ideal_partition_bound_s)} fullest partition)`);
    out.push(`${f1(run.back_to_min_s)} back to ${s.min_replicas} pod`);
    // In time order (a drain can come between two steps); what never happened last.
    const time = (line) => (Number.isNaN(parseFloat(line)) ? Infinity : parseFloat(line));
    return [out[0], ...out.slice(1).sort((a, b) => time(a) - time(b))];
  };
  const left = col(c.runs.ours);
  const right = col(c.runs.keda);
  const width = Math.max(44, ...left.map((x) => x.length)) + 2;
  lines.push(`          ${'ours'.padEnd(width)}KEDA`);
  for (let i = 0; i < Math.max(left.length, right.length); i++) lines.push(`            ${(left[i] ?? '').padEnd(width)}${right[i] ?? ''}`.trimEnd());
  if (c.side_by_side) {
    lines.push(`          side by side (s from the burst)        ours      KEDA      KEDA later by`);
    for (const r of c.side_by_side) {
      lines.push(`            ${r.what.padEnd(36)} ${f1(r.ours_s).padStart(8)}  ${f1(r.keda_s).padStart(8)}  ${r.keda_minus_ours_s == null ? 'n/a' : `${r.keda_minus_ours_s.toFixed(1)} s (${r.keda_over_ours}x)`}`);
    }
    for (const why of verdicts(c)) lines.push(`          ${why}`);
  }
  if (c.runs.ours) {
    const o = c.runs.ours;
    lines.push(
      `          ours, burst to every new consumer consuming (pod start included): ${f1(o.peak_members_consuming_s)} (goal <= 6 s: ${o.peak_members_consuming_s != null && o.peak_members_consuming_s <= 6 ? 'met' : 'NOT met'});` +
        ` where it goes: the scale patch ${f1(o.at_peak_s)}, ${o.peak_replicas} pods Running ${f1(o.peak_pods_running_s)}, every partition assigned ${f1(o.peak_members_assigned_s)}, each member's first order processed ${f1(o.peak_members_consuming_s)} (Ready ${f1(o.peak_pods_ready_s)}: the readiness probe, not on the path)`,
    );
  }
  lines.push(`          the cluster part took ${f1(c.duration_s)} (node, lab and KEDA up and down included)`);
  return lines;
}

/** Where ours does not win a row by a wide margin (less than 1.5x and 5 s), why. */
function verdicts(c) {
  const out = [];
  const k = c.runs.keda;
  for (const r of c.side_by_side) {
    if (r.ours_s == null || r.keda_s == null) {
      out.push(`${r.what}: not measured for ${r.ours_s == null ? 'ours' : 'KEDA'}`);
      continue;
    }
    const wide = r.keda_over_ours >= 1.5 && r.keda_minus_ours_s >= 5;
    const o = c.runs.ours;
    if (r.key === 'drain_s') {
      // The one row bounded by the work itself: said either way.
      out.push(
        `${wide ? 'the drain' : 'not a wide win: the drain'}: bounded by the work (${c.settings.burst} x ${c.settings.processing_ms} ms / ${c.settings.partitions} = ${f1(o.ideal_even_s)}; the fullest partition ${f1(o.ideal_partition_bound_s)} ours, ${f1(k.ideal_partition_bound_s)} KEDA's burst),` +
          ` so no autoscaler can drain much sooner than ${f1(o.ideal_partition_bound_s)}: ours ended ${f1(round(o.drain_s - o.ideal_partition_bound_s, 1))} after that bound (its ${o.peak_replicas} members consuming from ${f1(o.peak_members_consuming_s)}), KEDA ${f1(round(k.drain_s - k.ideal_partition_bound_s, 1))} after its own (${k.peak_replicas} from ${f1(k.peak_members_consuming_s)})`,
      );
      continue;
    }
    if (wide) continue;
    let why;
    switch (r.key) {
      case 'first_scale_up_s':
        why = `the HPA syncs every 15 s and its first sync after the burst came ${f1(k.first_scale_up_s)} in; KEDA's first step is that luck of phase (0-15 s), ours is one 1 s poll`;
        break;
      default:
        why = `ours ${f1(r.ours_s)} vs KEDA ${f1(r.keda_s)}`;
    }
    out.push(`not a wide win: ${r.what}: ${why}`);
  }
  return out;
}
