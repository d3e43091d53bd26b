// The lag autoscaler in local mode (issues 3 and 10). Ten bursts of 300-1000 orders, arriving over
// 0-3 s, each on one consumer at 100 ms: per burst, the operator's scale steps (one, 1 -> 6?), its
// decision, the time until every new consumer is consuming, the drain against both ideals, and
// when it is back at its minimum; then one burst on a fixed single consumer for comparison.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { getJson, groupProgress, log, partitionEnds, peakRssMiB, phase, pidAlive, pollUntil, postJson, REPO, round, RUN_DIR, LOG_DIR, sleep, spread, startService, stopPidFile, TMP, topicRecords } from './lib.mjs';
import { createTopics, producerReady } from './throughput.mjs';

export const TOPIC = 'bench-scale';
export const SINK = 'bench-scale-sink';
export const GROUP = 'bench-scale-group';
const PRODUCER_PORT = 28000;
const CONSUMER_BASE_PORT = 28001;
const MONITOR_PORT = 28010;
const OPERATOR_PORT = 28020;
export const PROCESSING_MS = 100;
const PARTITIONS = 6;
const TICK_MS = 100;

/** The shipped local autoscaler with only the wiring (lag monitor URL, topic, group) changed. */
export function benchAutoscalerFile() {
  const shipped = join(REPO, 'operator/local-autoscaler.yaml');
  const doc = parseYaml(readFileSync(shipped, 'utf8'));
  doc.spec.metricsSource = { ...doc.spec.metricsSource, url: `http://127.0.0.1:${MONITOR_PORT}` };
  doc.spec.topic = TOPIC;
  doc.spec.consumerGroup = GROUP;
  const file = join(TMP, 'local-autoscaler.yaml');
  writeFileSync(file, stringifyYaml(doc));
  return { file, spec: doc.spec };
}

export const parseScaleEvent = (e) => {
  const m = /from (\d+) to (\d+)/.exec(e.message);
  return m ? { time: e.time, at: Date.parse(e.time), from: Number(m[1]), to: Number(m[2]), reason: e.reason, message: e.message } : null;
};

/**
 * What each consumer port says on /health: null when nothing answers (no process, or not
 * listening yet); otherwise whether it is healthy and the partitions it was assigned.
 */
async function consumerViews() {
  return Promise.all(
    Array.from({ length: PARTITIONS }, async (_, i) => {
      try {
        const res = await fetch(`http://127.0.0.1:${CONSUMER_BASE_PORT + i}/health`, { signal: AbortSignal.timeout(500) });
        const body = await res.json();
        return { healthy: res.ok, partitions: body.group?.assigned_partitions ?? [] };
      } catch {
        return null;
      }
    }),
  );
}

/**
 * Every one of `n` consumers consuming: exactly n ports answer /health healthy with partitions
 * assigned, and those partitions are every partition, each once. A member still on an older
 * assignment (before the last rebalance reached it) holds more than its share, so the set only
 * adds up once the final assignment is everyone's.
 */
function allConsuming(views, n) {
  const consuming = views.filter((v) => v?.healthy && v.partitions.length > 0);
  const partitions = consuming.flatMap((v) => v.partitions);
  return consuming.length === n && partitions.length === PARTITIONS && new Set(partitions).size === PARTITIONS;
}

/**
 * Samples the lag monitor, the operator, the group (admin API) and, with the operator, each
 * consumer port every TICK_MS, each call with a short timeout; a failed call leaves a null in the
 * sample rather than stopping the run.
 */
async function sample(operatorUrl, monitorUrl) {
  const t = Date.now();
  const [mon, op, grp, views] = await Promise.allSettled([
    getJson(`${monitorUrl}/lag`, 1000),
    operatorUrl ? getJson(`${operatorUrl}/status`, 1000) : Promise.resolve(null),
    groupProgress(TOPIC, GROUP),
    operatorUrl ? consumerViews() : Promise.resolve(null),
  ]);
  const status = op.status === 'fulfilled' ? op.value?.autoscalers?.[0]?.status : undefined;
  return {
    t,
    monitorLag: mon.status === 'fulfilled' ? mon.value.total_lag : null,
    current: status?.currentReplicas ?? null,
    desired: status?.desiredReplicas ?? null,
    events: op.status === 'fulfilled' ? op.value?.events ?? null : null,
    end: grp.status === 'fulfilled' ? grp.value.end : null,
    lag: grp.status === 'fulfilled' ? grp.value.lag : null,
    members: grp.status === 'fulfilled' ? grp.value.members : null,
    state: grp.status === 'fulfilled' ? grp.value.state : null,
    views: views.status === 'fulfilled' ? views.value : null,
    errors: [mon, op, grp].filter((r) => r.status === 'rejected').map((r) => r.reason?.message ?? String(r.reason)),
  };
}

/**
 * Fires the burst and samples until the burst has been sent and fully committed (lag 0), then
 * while `keepGoing(samples)` holds. Bounded by timeoutMs.
 */
async function burstAndWatch({ label, producer, operatorUrl, monitorUrl, count, delayMs, timeoutMs, keepGoing }) {
  const before = await groupProgress(TOPIC, GROUP);
  if (before.lag !== 0) throw new Error(`${label}: group ${GROUP} has lag ${before.lag} before the burst`);
  const target = before.end + count;
  const endsBefore = await partitionEnds(TOPIC);
  const samples = [];
  const tBurst = Date.now();
  let burstDone = null;
  let burstError = null;
  const burst = postJson(`${producer.url}/burst`, { count, delay_ms: delayMs }, 120_000).then(
    (r) => (burstDone = { at: Date.now(), ...r }),
    (err) => (burstError = err),
  );
  let tDrained = null;
  let lastLog = Date.now();
  const deadline = tBurst + timeoutMs;
  for (;;) {
    const tickStart = Date.now();
    const s = await sample(operatorUrl, monitorUrl);
    samples.push(s);
    if (burstError) throw new Error(`${label}: POST /burst failed: ${burstError.message}`);
    if (tDrained === null && burstDone && s.end === target && s.lag === 0) {
      tDrained = s.t;
      log(`${label}: drained ${count} orders in ${((tDrained - tBurst) / 1000).toFixed(1)} s`);
    }
    if (tDrained !== null && !keepGoing(samples, tDrained)) break;
    if (Date.now() - lastLog >= 5000) {
      lastLog = Date.now();
      const replicas = s.current === null ? '' : `, replicas ${s.current} (desired ${s.desired})`;
      log(`${label}: +${((s.t - tBurst) / 1000).toFixed(0)} s lag ${s.lag ?? '?'}, members ${s.members ?? '?'}${replicas}`);
    }
    if (Date.now() > deadline) {
      const what = tDrained === null ? `the burst to drain (lag ${s.lag}, end offset ${s.end}/${target}, burst ${burstDone ? 'sent' : 'still sending'})` : 'the replicas to return to the minimum';
      throw new Error(`${label}: timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    }
    await sleep(Math.max(0, TICK_MS - (Date.now() - tickStart)));
  }
  await burst;
  // Orders per partition in this burst: random keys split unevenly, and with one consumer per
  // partition the fullest partition sets the floor of the drain time.
  const endsAfter = await partitionEnds(TOPIC);
  const perPartition = Object.keys(endsAfter).map((p) => endsAfter[p] - (endsBefore[p] ?? 0));
  return { tBurst, tDrained, burstDone, samples, perPartition };
}

/**
 * The lag monitor, the producer and the operator in local mode (`env` added to each one's
 * environment), each put into `lab` as it starts so that stopLab stops whatever did start. The
 * operator's first reconcile starts consumer-1 (minReplicas 1); this returns once it owns every
 * partition and the group has nothing left to consume.
 */
export async function startLab(lab, spec, file, env = {}) {
  await createTopics([TOPIC, SINK]);
  lab.monitor = await startService('lag-monitor', 'services/lag-monitor/dist/main.js', MONITOR_PORT, { ...env, TOPIC, GROUP_ID: GROUP });
  lab.producer = await startService('producer', 'services/producer/dist/main.js', PRODUCER_PORT, { ...env, TOPIC });
  const startup = await producerReady(lab.producer);
  await pollUntil('the lag monitor to have a sample (/lag)', 30_000, 200, () => getJson(`${lab.monitor.url}/lag`, 1000));
  const tOperator = Date.now();
  lab.operator = await startService('operator', 'operator/dist/main.js', OPERATOR_PORT, {
    ...env,
    MODE: 'local',
    TOPIC,
    GROUP_ID: GROUP,
    SINK_TOPIC: SINK,
    PROCESSING_TIME_MS: String(PROCESSING_MS),
    LOCAL_AUTOSCALER_FILE: file,
    LOCAL_RUN_DIR: RUN_DIR,
    LOCAL_LOG_DIR: LOG_DIR,
    CONSUMER_BASE_PORT: String(CONSUMER_BASE_PORT),
  });
  // minReplicas 1: the operator's first reconcile starts consumer-1, which then joins the group.
  await pollUntil('the operator to run consumer-1 and consumer-1 to own all 6 partitions', 60_000, 200, async () => {
    const status = (await getJson(`${lab.operator.url}/status`, 1000)).autoscalers?.[0]?.status;
    if (status?.currentReplicas !== spec.minReplicas) return false;
    const stats = await getJson(`http://127.0.0.1:${CONSUMER_BASE_PORT}/stats`, 1000);
    const g = await groupProgress(TOPIC, GROUP);
    // lag 0 too: the order producerReady sent must be consumed before the burst.
    return stats.assigned_partitions?.length === PARTITIONS && g.members === 1 && g.state === 'Stable' && g.lag === 0;
  });
  const coldStart = round((Date.now() - tOperator) / 1000, 1);
  log(`operator up, consumer-1 owns all partitions ${coldStart} s after the operator started`);
  return { startup, cold_start_s: coldStart };
}

/** The operator first, so it starts no consumer meanwhile; then the consumers it started (they outlive it by design), the producer and the monitor. */
export async function stopLab(lab) {
  await lab.operator?.stop();
  for (let n = 1; n <= PARTITIONS; n++) await stopPidFile(join(RUN_DIR, `consumer-${n}.pid`));
  await lab.producer?.stop();
  await lab.monitor?.stop();
}

/**
 * Issue 10's bursts: 300-1000 orders arriving over 0-3 s. The slow small ones are the hard case
 * for one step (their first sample shows little of them); the large ones for the drain.
 */
export const BURSTS = [
  { count: 300, spread_s: 3 },
  { count: 1000, spread_s: 0 },
  { count: 500, spread_s: 1.5 },
  { count: 700, spread_s: 3 },
  { count: 300, spread_s: 0 },
  { count: 800, spread_s: 2 },
  { count: 400, spread_s: 1 },
  { count: 1000, spread_s: 3 },
  { count: 600, spread_s: 0.5 },
  { count: 300, spread_s: 2 },
];

/** /burst sends one order per delay_ms (whole ms, and no faster than a send), so the real spread is measured too. */
const delayFor = ({ count, spread_s }) => (spread_s === 0 ? 0 : Math.max(1, Math.round((spread_s * 1000) / count)));

/** The ideals of a drain: the even split over the partitions, and the fullest partition alone (one consumer reads it). */
const ideals = (count, perPartition) => ({
  even: (count * PROCESSING_MS) / 1000 / PARTITIONS,
  partitionBound: (Math.max(...perPartition) * PROCESSING_MS) / 1000,
});

/** A service's JSON log lines (pino), each with its time in ms; unreadable lines are skipped. */
function logLines(name) {
  let text = '';
  try {
    text = readFileSync(join(LOG_DIR, `${name}.log`), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((line) => {
    try {
      const entry = JSON.parse(line);
      return [{ ...entry, at: Date.parse(entry.time) }];
    } catch {
      return [];
    }
  });
}

/**
 * Where a scale-up's time went, from the logs: the operator starting each new consumer, each one
 * listening (its start-up done), and the group joins (the first new member's, the last one's,
 * and how often consumer-1 joined again until `until`: one join per rebalance round).
 */
function startupFromLogs(tBurst, min, peak, until) {
  const sec = (t) => (t === undefined ? null : round((t - tBurst) / 1000, 2));
  const started = logLines('operator').filter((l) => l.msg === 'started consumer' && l.at >= tBurst);
  const fresh = [];
  for (let n = min + 1; n <= peak; n++) {
    const spawn = started.find((l) => l.consumer === `consumer-${n}`);
    const lines = spawn ? logLines(`consumer-${n}`).filter((l) => l.at >= spawn.at) : [];
    fresh.push({ spawn: spawn?.at, listening: lines.find((l) => l.msg === 'listening')?.at, joined: lines.find((l) => l.msg === 'joined group')?.at });
  }
  const last = (key) => (fresh.length && fresh.every((f) => f[key] !== undefined) ? Math.max(...fresh.map((f) => f[key])) : undefined);
  const joins = fresh.map((f) => f.joined).filter((t) => t !== undefined);
  return {
    first_spawn_s: sec(fresh[0]?.spawn),
    last_listening_s: sec(last('listening')),
    first_new_join_s: joins.length ? sec(Math.min(...joins)) : null,
    last_new_join_s: sec(last('joined')),
    consumer1_joins: logLines('consumer-1').filter((l) => l.msg === 'joined group' && l.at >= tBurst && l.at <= until).length,
  };
}

/** One burst on the minimum, measured from the moment it was fired. */
function measureBurst(burst, run, spec, sinkRecords) {
  const { tBurst, tDrained, samples } = run;
  const min = spec.minReplicas;
  const sec = (t) => (t === null || t === undefined ? null : round((t - tBurst) / 1000, 2));
  const after = samples.filter((s) => s.t >= tBurst);
  const lastStatus = [...samples].reverse().find((s) => s.events);
  const events = (lastStatus?.events ?? []).map(parseScaleEvent).filter((e) => e && e.at >= tBurst);
  const ups = events.filter((e) => e.to > e.from);
  const peak = Math.max(min, ...events.map((e) => e.to));
  // The new consumers: their processes answer /health (start-up), then every consumer consumes (the join).
  const newPorts = (views) => views.slice(min, peak);
  const processesUp = peak > min ? after.find((s) => s.views && newPorts(s.views).every((v) => v !== null)) : undefined;
  const consuming = peak > min ? after.find((s) => s.views && allConsuming(s.views, peak)) : undefined;
  const backEvent = [...events].reverse().find((e) => e.to === min);
  // Time the group spent rebalancing (not Stable) between the burst and the end of the drain.
  let rebalanceMs = 0;
  let rebalances = 0;
  const draining = after.filter((s) => s.t <= tDrained);
  for (let i = 1; i < draining.length; i++) {
    const [prev, cur] = [draining[i - 1], draining[i]];
    if (prev.state !== null && prev.state !== 'Stable') rebalanceMs += cur.t - prev.t;
    if (prev.state === 'Stable' && cur.state !== null && cur.state !== 'Stable') rebalances += 1;
  }
  const ideal = ideals(burst.count, run.perPartition);
  const drain = (tDrained - tBurst) / 1000;
  return {
    count: burst.count,
    spread_s: burst.spread_s,
    delay_ms: delayFor(burst),
    sent_in_s: sec(run.burstDone.at),
    path: events.length ? [events[0].from, ...events.map((e) => e.to)].join('->') : String(min),
    scale_up_steps: ups.length,
    one_step: ups.length === 1 && ups[0].from === min && ups[0].to === Math.min(PARTITIONS, spec.maxReplicas),
    decision_s: sec(ups[0]?.at),
    processes_up_s: sec(processesUp?.t),
    all_consuming_s: sec(consuming?.t),
    drain_s: round(drain, 2),
    ideal_even_s: round(ideal.even, 2),
    ideal_partition_bound_s: round(ideal.partitionBound, 2),
    drain_vs_partition_bound: round(drain / ideal.partitionBound, 2),
    drain_vs_even: round(drain / ideal.even, 2),
    orders_per_partition: run.perPartition,
    group_rebalances: rebalances,
    group_rebalancing_s: round(rebalanceMs / 1000, 1),
    back_to_min_after_drain_s: backEvent ? round((backEvent.at - tDrained) / 1000, 1) : null,
    sink_records: sinkRecords,
    redelivered: sinkRecords - burst.count,
    startup: peak > min ? startupFromLogs(tBurst, min, peak, consuming?.t ?? tDrained) : null,
    first_scale_up: ups[0]?.message ?? null,
    events: events.map(({ time, message }) => ({ time, message })),
    poll_errors: samples.reduce((n, s) => n + s.errors.length, 0),
  };
}

/**
 * `bursts` bursts from BURSTS (round the list again past ten), each on the minimum of one
 * consumer, scaled by the operator; then one burst of `count` orders `delayMs` apart on a single
 * consumer with the operator stopped.
 */
export async function autoscaleBench({ burst: count, delayMs, repeat: bursts }, result = {}) {
  const { file, spec } = benchAutoscalerFile();
  Object.assign(result, { processing_ms: PROCESSING_MS, partitions: PARTITIONS, bursts: [] });
  result.autoscaler = {
    minReplicas: spec.minReplicas,
    maxReplicas: spec.maxReplicas,
    lagThreshold: spec.lagThreshold,
    targetDrainSeconds: spec.targetDrainSeconds,
    pollIntervalSeconds: spec.pollIntervalSeconds,
    scaleUpWindowSeconds: spec.scaleUp?.stabilizationWindowSeconds ?? null,
    scaleDownWindowSeconds: spec.scaleDown?.stabilizationWindowSeconds ?? null,
  };
  const lab = {};
  const consumer1Pid = join(RUN_DIR, 'consumer-1.pid');
  try {
    await phase('B autoscale: start lag monitor, producer, operator (local mode)', async () => {
      Object.assign(result, await startLab(lab, spec, file));
    });

    const min = spec.minReplicas;
    for (let i = 0; i < bursts; i++) {
      const burst = BURSTS[i % BURSTS.length];
      const label = `autoscaled ${i + 1}/${bursts}`;
      await phase(`B autoscale ${i + 1}/${bursts}: ${burst.count} orders over ${burst.spread_s} s (delay ${delayFor(burst)} ms), operator scaling`, async () => {
        await pollUntil(`the group to be Stable with ${min} member(s) and lag 0 before the burst`, 60_000, 200, async () => {
          const g = await groupProgress(TOPIC, GROUP);
          return g.members === min && g.state === 'Stable' && g.lag === 0;
        });
        // The previous burst ended a fixed time after one of the operator's polls; without this
        // every burst would land at the same point of its poll cycle. Golden-ratio steps spread
        // the bursts over the whole cycle.
        await sleep(((i * 0.618) % 1) * spec.pollIntervalSeconds * 1000);
        const sinkBefore = await topicRecords(SINK);
        let backAtMin = null;
        const run = await burstAndWatch({
          label,
          producer: lab.producer,
          operatorUrl: lab.operator.url,
          monitorUrl: lab.monitor.url,
          count: burst.count,
          delayMs: delayFor(burst),
          // drain + the scale-down window + a few polls, with room to spare
          timeoutMs: 60_000 + 3 * (spec.scaleDown?.stabilizationWindowSeconds ?? 30) * 1000,
          // After the drain: until replicas are back at the minimum, then 5 s more to catch a bounce.
          keepGoing: (samples, tDrained) => {
            const s = samples.at(-1);
            if (backAtMin === null && s.current === min && s.t > tDrained && samples.some((x) => x.current > min)) backAtMin = s.t;
            if (backAtMin === null && s.t - tDrained > 10_000 && !samples.some((x) => x.current > min)) backAtMin = s.t; // never scaled
            return backAtMin === null || s.t - backAtMin < 5000;
          },
        });
        const m = measureBurst(burst, run, spec, (await topicRecords(SINK)) - sinkBefore);
        result.bursts.push(m);
        log(
          `${label}: ${m.path}, decision ${m.decision_s} s, all consuming ${m.all_consuming_s} s, drain ${m.drain_s} s = ${m.drain_vs_partition_bound}x the partition-bound ideal ${m.ideal_partition_bound_s} s (even split ${m.ideal_even_s} s)`,
        );
      });
    }
    result.operator_rss_mib = lab.operator.peakRss();
    result.monitor_rss_mib = lab.monitor.peakRss();
    const runs = result.bursts;
    const pick = (key) => spread(runs.map((r) => r[key]));
    result.summary = {
      bursts: runs.length,
      one_step: runs.filter((r) => r.one_step).length,
      decision_s: pick('decision_s'),
      processes_up_s: pick('processes_up_s'),
      all_consuming_s: pick('all_consuming_s'),
      drain_s: pick('drain_s'),
      drain_vs_partition_bound: pick('drain_vs_partition_bound'),
      drain_vs_even: pick('drain_vs_even'),
      back_to_min_after_drain_s: pick('back_to_min_after_drain_s'),
      redelivered: pick('redelivered'),
      startup: Object.fromEntries(['first_spawn_s', 'last_listening_s', 'last_new_join_s', 'consumer1_joins'].map((key) => [key, spread(runs.map((r) => r.startup?.[key] ?? null))])),
    };

    await phase(`B single consumer: ${count} orders x ${delayMs} ms, operator stopped`, async () => {
      await lab.operator.stop();
      lab.operator = undefined;
      const pid = Number(readFileSync(consumer1Pid, 'utf8').trim());
      if (!pidAlive(pid)) throw new Error('consumer-1 is not running after the operator stopped (it should outlive the operator)');
      await pollUntil('the group to be Stable with 1 member', 60_000, 200, async () => {
        const g = await groupProgress(TOPIC, GROUP);
        return g.members === 1 && g.state === 'Stable' && g.lag === 0;
      });
      const sinkBefore = await topicRecords(SINK);
      const run = await burstAndWatch({
        label: 'single',
        producer: lab.producer,
        operatorUrl: null,
        monitorUrl: lab.monitor.url,
        count,
        delayMs,
        timeoutMs: 60_000 + (3 * count * PROCESSING_MS),
        keepGoing: () => false,
      });
      result.single = {
        count,
        delay_ms: delayMs,
        sent_in_s: round((run.burstDone.at - run.tBurst) / 1000, 2),
        drain_s: round((run.tDrained - run.tBurst) / 1000, 2),
        ideal_s: round((count * PROCESSING_MS) / 1000, 1),
        peak_lag: Math.max(...run.samples.map((s) => s.lag ?? 0)),
        ms_per_message: round((run.tDrained - run.tBurst) / count, 1),
        sink_records: (await topicRecords(SINK)) - sinkBefore,
      };
      result.consumer_rss_mib = peakRssMiB(pid);
    });
  } finally {
    await stopLab(lab);
  }
  return result;
}
