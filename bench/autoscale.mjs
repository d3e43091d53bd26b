// Issue 3: the lag autoscaler in local mode. A burst lands on one consumer; we time how fast the
// operator reacts, how fast the burst drains, how often it rescales and when it is back at its
// minimum; then the same burst on a fixed single consumer for comparison.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { getJson, groupProgress, log, partitionEnds, peakRssMiB, phase, pidAlive, pollUntil, postJson, REPO, round, RUN_DIR, LOG_DIR, sleep, spread, startService, stopPidFile, TMP, topicRecords } from './lib.mjs';
import { createTopics, producerReady } from './throughput.mjs';

const TOPIC = 'bench-scale';
const SINK = 'bench-scale-sink';
const GROUP = 'bench-scale-group';
const PRODUCER_PORT = 28000;
const CONSUMER_BASE_PORT = 28001;
const MONITOR_PORT = 28010;
const OPERATOR_PORT = 28020;
const PROCESSING_MS = 100;
const TICK_MS = 100;

/** The shipped local autoscaler with only the wiring (lag monitor URL, topic, group) changed. */
function benchAutoscalerFile() {
  const shipped = join(REPO, 'operator/local-autoscaler.yaml');
  const doc = parseYaml(readFileSync(shipped, 'utf8'));
  doc.spec.metricsSource = { ...doc.spec.metricsSource, url: `http://127.0.0.1:${MONITOR_PORT}` };
  doc.spec.topic = TOPIC;
  doc.spec.consumerGroup = GROUP;
  const file = join(TMP, 'local-autoscaler.yaml');
  writeFileSync(file, stringifyYaml(doc));
  return { file, spec: doc.spec };
}

const parseScaleEvent = (e) => {
  const m = /from (\d+) to (\d+)/.exec(e.message);
  return m ? { time: e.time, at: Date.parse(e.time), from: Number(m[1]), to: Number(m[2]), reason: e.reason, message: e.message } : null;
};

/**
 * Samples the lag monitor, the operator and the group (admin API) every TICK_MS, each call with a
 * short timeout; a failed call leaves a null in the sample rather than stopping the run.
 */
async function sample(operatorUrl, monitorUrl) {
  const t = Date.now();
  const [mon, op, grp] = await Promise.allSettled([
    getJson(`${monitorUrl}/lag`, 1000),
    operatorUrl ? getJson(`${operatorUrl}/status`, 1000) : Promise.resolve(null),
    groupProgress(TOPIC, GROUP),
  ]);
  const status = op.status === 'fulfilled' ? op.value?.autoscalers?.[0]?.status : undefined;
  return {
    t,
    monitorLag: mon.status === 'fulfilled' ? mon.value.total_lag : null,
    monitorSampledAt: mon.status === 'fulfilled' ? Date.parse(mon.value.timestamp) : null,
    current: status?.currentReplicas ?? null,
    desired: status?.desiredReplicas ?? null,
    lastScaleTime: status?.lastScaleTime ?? null,
    reason: status?.lastDecision?.reason ?? null,
    events: op.status === 'fulfilled' ? op.value?.events ?? null : null,
    end: grp.status === 'fulfilled' ? grp.value.end : null,
    lag: grp.status === 'fulfilled' ? grp.value.lag : null,
    members: grp.status === 'fulfilled' ? grp.value.members : null,
    state: grp.status === 'fulfilled' ? grp.value.state : null,
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
  return { tBurst, tDrained, burstDone, samples, baseEnd: before.end, perPartition };
}

export async function autoscaleBench({ burst: count, delayMs, repeat }, result = {}) {
  Object.assign(result, { burst: count, delay_ms: delayMs, processing_ms: PROCESSING_MS, repeat, autoscaled_runs: [] });
  const { file, spec } = benchAutoscalerFile();
  result.autoscaler = {
    minReplicas: spec.minReplicas,
    maxReplicas: spec.maxReplicas,
    lagThreshold: spec.lagThreshold,
    targetDrainSeconds: spec.targetDrainSeconds,
    pollIntervalSeconds: spec.pollIntervalSeconds,
    scaleUpWindowSeconds: spec.scaleUp?.stabilizationWindowSeconds ?? null,
    scaleDownWindowSeconds: spec.scaleDown?.stabilizationWindowSeconds ?? null,
  };
  const partitions = 6;
  result.ideal_drain_s = round((count * PROCESSING_MS) / 1000 / Math.min(partitions, spec.maxReplicas), 1);
  result.ideal_single_s = round((count * PROCESSING_MS) / 1000, 1);

  let monitor;
  let producer;
  let operator;
  const consumer1Pid = join(RUN_DIR, 'consumer-1.pid');
  try {
    await phase('B autoscale: start lag monitor, producer, operator (local mode)', async () => {
      await createTopics([TOPIC, SINK]);
      monitor = await startService('lag-monitor', 'services/lag-monitor/dist/main.js', MONITOR_PORT, { TOPIC, GROUP_ID: GROUP });
      producer = await startService('producer', 'services/producer/dist/main.js', PRODUCER_PORT, { TOPIC });
      result.startup = await producerReady(producer);
      await pollUntil('the lag monitor to have a sample (/lag)', 30_000, 200, () => getJson(`${monitor.url}/lag`, 1000));
      const tOperator = Date.now();
      operator = await startService('operator', 'operator/dist/main.js', OPERATOR_PORT, {
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
        const status = (await getJson(`${operator.url}/status`, 1000)).autoscalers?.[0]?.status;
        if (status?.currentReplicas !== spec.minReplicas) return false;
        const stats = await getJson(`http://127.0.0.1:${CONSUMER_BASE_PORT}/stats`, 1000);
        const g = await groupProgress(TOPIC, GROUP);
        // lag 0 too: the order producerReady sent must be consumed before the burst.
        return stats.assigned_partitions?.length === partitions && g.members === 1 && g.state === 'Stable' && g.lag === 0;
      });
      result.cold_start_s = round((Date.now() - tOperator) / 1000, 1);
      log(`operator up, consumer-1 owns all partitions ${result.cold_start_s} s after the operator started`);
    });

    for (let round_ = 1; round_ <= repeat; round_++) {
      await phase(`B autoscale ${round_}/${repeat}: burst ${count} x delay ${delayMs} ms, operator scaling`, async () => {
        await pollUntil(`the group to be Stable with ${spec.minReplicas} member(s) and lag 0 before the burst`, 60_000, 200, async () => {
          const g = await groupProgress(TOPIC, GROUP);
          return g.members === spec.minReplicas && g.state === 'Stable' && g.lag === 0;
        });
        const sinkBefore = await topicRecords(SINK);
        const min = spec.minReplicas;
        let backAtMin = null;
        const run = await burstAndWatch({
          label: `autoscaled ${round_}/${repeat}`,
          producer,
          operatorUrl: operator.url,
          monitorUrl: monitor.url,
          count,
          delayMs,
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
        const { tBurst, tDrained, samples } = run;
        const after = samples.filter((s) => s.t >= tBurst);
        const cross = after.find((s) => s.monitorLag !== null && s.monitorLag > spec.lagThreshold);
        // The same crossing in Kafka itself (committed offsets polled every 100 ms): the lag monitor only sees it at its next poll.
        const crossKafka = after.find((s) => s.lag !== null && s.lag > spec.lagThreshold);
        const firstUp = after.find((s) => s.current !== null && s.current > min);
        const lastStatus = [...samples].reverse().find((s) => s.events);
        const events = (lastStatus?.events ?? []).map(parseScaleEvent).filter((e) => e && e.at >= tBurst);
        const firstUpEvent = events.find((e) => e.to > e.from);
        const peak = Math.max(...after.map((s) => s.current ?? 0), ...events.map((e) => e.to));
        const peakAt = after.find((s) => s.current === peak);
        const allJoined = peakAt ? after.find((s) => s.t >= peakAt.t && s.members === peak && s.state === 'Stable') : undefined;
        // Changes of currentReplicas as polled (cross-check of the operator's own events).
        const polled = [];
        for (const s of after) if (s.current !== null && polled.at(-1) !== s.current) polled.push(s.current);
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

        const a = {
          burst_send_s: round((run.burstDone.at - tBurst) / 1000, 2),
          threshold_crossed_s: cross ? round((cross.t - tBurst) / 1000, 2) : null,
          threshold_crossed_lag: cross?.monitorLag ?? null,
          // From the monitor's first sample above the threshold (taken at its timestamp; the
          // operator cannot see the crossing earlier) to the operator's decision (its event time).
          reaction_s: cross && firstUpEvent ? round((firstUpEvent.at - (cross.monitorSampledAt ?? cross.t)) / 1000, 2) : null,
          reaction_from_bench_observation_s: cross && firstUpEvent ? round((firstUpEvent.at - cross.t) / 1000, 2) : null,
          reaction_from_kafka_s: crossKafka && firstUpEvent ? round((firstUpEvent.at - crossKafka.t) / 1000, 2) : null,
          reaction_seen_in_status_s: cross && firstUp ? round((firstUp.t - cross.t) / 1000, 2) : null,
          first_scale_up: firstUpEvent ? { from: firstUpEvent.from, to: firstUpEvent.to, reason: firstUpEvent.message } : null,
          all_members_joined_after_scale_s: allJoined && firstUpEvent ? round((allJoined.t - firstUpEvent.at) / 1000, 2) : null,
          drain_s: round((tDrained - tBurst) / 1000, 2),
          orders_per_partition: run.perPartition,
          ideal_drain_this_split_s: round((Math.max(...run.perPartition) * PROCESSING_MS) / 1000, 1),
          group_rebalancing_s: round(rebalanceMs / 1000, 1),
          group_rebalances: rebalances,
          peak_lag: Math.max(...after.map((s) => s.lag ?? 0)),
          peak_replicas: peak,
          replica_changes: events.length,
          replica_path: events.length ? [events[0].from, ...events.map((e) => e.to)].join('->') : String(min),
          polled_replica_path: polled.join('->'),
          events: events.map(({ time, message }) => ({ time, message })),
          back_to_min_after_burst_s: backEvent ? round((backEvent.at - tBurst) / 1000, 1) : null,
          back_to_min_after_drain_s: backEvent ? round((backEvent.at - tDrained) / 1000, 1) : null,
          sink_records: (await topicRecords(SINK)) - sinkBefore,
          poll_errors: samples.reduce((n, s) => n + s.errors.length, 0),
        };
        a.redelivered = a.sink_records - count;
        a.timeline = samples.map(({ t, monitorLag, current, desired, lag, members, state }) => ({ t_s: round((t - tBurst) / 1000, 2), monitorLag, lag, current, desired, members, state }));
        result.autoscaled_runs.push(a);
        log(`reaction ${a.reaction_s} s, drain ${a.drain_s} s, path ${a.replica_path}, back at min ${a.back_to_min_after_drain_s} s after the drain`);
      });
    }
    result.operator_rss_mib = operator.peakRss();
    result.monitor_rss_mib = monitor.peakRss();
    const runs = result.autoscaled_runs;
    const pick = (key) => spread(runs.map((r) => r[key]));
    result.autoscaled = {
      reaction_s: pick('reaction_s'),
      reaction_from_kafka_s: pick('reaction_from_kafka_s'),
      drain_s: pick('drain_s'),
      replica_changes: pick('replica_changes'),
      peak_replicas: pick('peak_replicas'),
      back_to_min_after_drain_s: pick('back_to_min_after_drain_s'),
      back_to_min_after_burst_s: pick('back_to_min_after_burst_s'),
      all_members_joined_after_scale_s: pick('all_members_joined_after_scale_s'),
      group_rebalancing_s: pick('group_rebalancing_s'),
      redelivered: pick('redelivered'),
    };

    await phase(`B single consumer: the same burst, operator stopped`, async () => {
      await operator.stop();
      operator = undefined;
      const pid = Number(readFileSync(consumer1Pid, 'utf8').trim());
      if (!pidAlive(pid)) throw new Error('consumer-1 is not running after the operator stopped (it should outlive the operator)');
      await pollUntil('the group to be Stable with 1 member', 60_000, 200, async () => {
        const g = await groupProgress(TOPIC, GROUP);
        return g.members === 1 && g.state === 'Stable' && g.lag === 0;
      });
      const sinkBefore = await topicRecords(SINK);
      const run = await burstAndWatch({
        label: 'single',
        producer,
        operatorUrl: null,
        monitorUrl: monitor.url,
        count,
        delayMs,
        timeoutMs: 60_000 + 3 * result.ideal_single_s * 1000,
        keepGoing: () => false,
      });
      result.single = {
        burst_send_s: round((run.burstDone.at - run.tBurst) / 1000, 2),
        drain_s: round((run.tDrained - run.tBurst) / 1000, 2),
        peak_lag: Math.max(...run.samples.map((s) => s.lag ?? 0)),
        ms_per_message: round((run.tDrained - run.tBurst) / count, 1),
        sink_records: (await topicRecords(SINK)) - sinkBefore,
      };
      result.consumer_rss_mib = peakRssMiB(pid);
    });
  } finally {
    await operator?.stop();
    // Consumers outlive the operator by design: stop the ones it started.
    for (let n = 1; n <= 6; n++) await stopPidFile(join(RUN_DIR, `consumer-${n}.pid`));
    await producer?.stop();
    await monitor?.stop();
  }
  return result;
}
