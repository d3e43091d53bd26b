// Issue 10: the mixed load. Consumers at 100 ms, a steady 30 orders/s from the producer's
// auto-producer (three consumers' worth) and a burst of 500 every 90 s, with the operator in local
// mode scaling the consumers, for about BENCH_MIXED_MINUTES. Per burst: the scale steps up and
// down, and the replicas just before the next burst against the steady need. Over the run:
// nothing lost, and every service's memory: resident set every 10 s (start, peak, end, and the
// slope over the second half as the flatness figure) and, from --trace-gc, the heap left after
// each full GC: a heap that is only still growing levels off, a leak keeps climbing after GCs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getJson, groupProgress, LAB_NODE_OPTIONS, log, phase, pollUntil, postJson, REPO, round, RUN_DIR, LOG_DIR, sleep, topicRecords } from './lib.mjs';
import { benchAutoscalerFile, GROUP, parseScaleEvent, PROCESSING_MS, SINK, startLab, stopLab, TOPIC } from './autoscale.mjs';

/** The steady load: batch_size orders every rate_ms. */
const STEADY = { rate_ms: 100, batch_size: 3 };
const STEADY_PER_SEC = (STEADY.batch_size * 1000) / STEADY.rate_ms;
const BURST = 500;
const CYCLE_S = 90;
/** The steady load alone before the first burst, so the first cycle starts from the steady need. */
const WARMUP_S = 30;
const TICK_MS = 1000;
const MEMORY_EVERY_MS = 10_000;

/** VmRSS and VmHWM of a live process in MiB, or null once it is gone. */
function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const mib = (field) => round(Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) / 1024, 1);
    return { rss: mib('VmRSS'), hwm: mib('VmHWM') };
  } catch {
    return null;
  }
}

/** Consumer name -> pid, from the pid files the operator writes. */
function consumerPids() {
  const pids = {};
  for (const file of readdirSync(RUN_DIR)) {
    const m = /^(consumer-\d+)\.pid$/.exec(file);
    if (!m) continue;
    const pid = Number(readFileSync(join(RUN_DIR, file), 'utf8').trim());
    if (pid > 0) pids[m[1]] = pid;
  }
  return pids;
}

/** Least-squares slope of y over x; null with fewer than two points. */
export function slope(points) {
  if (points.length < 2) return null;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx === 0 ? null : points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
}

/**
 * The heap after each full GC in a --trace-gc log, for one process: V8 prints
 * `[pid:0x..]  61234 ms: Mark-Compact 18.5 (22.1) -> 16.9 (21.8) MB, ...` (ms since the process
 * started; sizes in MB of live objects, and in brackets of the heap).
 */
export function fullGcs(text, pid) {
  const re = /^\[(\d+):0x[0-9a-f]+\]\s+(\d+) ms: Mark-Compact(?: \(reduce\))? ([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB/gm;
  const out = [];
  for (const m of text.matchAll(re)) if (Number(m[1]) === pid) out.push({ at_s: Number(m[2]) / 1000, before_mib: Number(m[3]), after_mib: Number(m[5]) });
  return out;
}

/** start, peak, end and second-half slope of one process's samples ({ t_s, rss, hwm }). */
function summarise(samples, durationS) {
  if (samples.length === 0) return null;
  const secondHalf = samples.filter((s) => s.t_s >= durationS / 2).map((s) => ({ x: s.t_s / 60, y: s.rss }));
  const perMin = slope(secondHalf);
  return {
    start_mib: samples[0].rss,
    end_mib: samples.at(-1).rss,
    peak_mib: Math.max(...samples.map((s) => s.hwm)),
    second_half_slope_mib_per_min: perMin === null ? null : round(perMin, 3),
  };
}

/** After each full GC, over the process's second half of life: the live heap's first, last and slope. */
function heapSummary(gcs) {
  if (gcs.length === 0) return { full_gcs: 0 };
  const lifeS = gcs.at(-1).at_s;
  const perMin = slope(gcs.filter((g) => g.at_s >= lifeS / 2).map((g) => ({ x: g.at_s / 60, y: g.after_mib })));
  return {
    full_gcs: gcs.length,
    first_after_mib: gcs[0].after_mib,
    last_after_mib: gcs.at(-1).after_mib,
    max_after_mib: Math.max(...gcs.map((g) => g.after_mib)),
    second_half_slope_mib_per_min: perMin === null ? null : round(perMin, 3),
  };
}

export async function mixedBench({ minutes }, result = {}) {
  const cycles = Math.max(1, Math.round((minutes * 60 - WARMUP_S) / CYCLE_S));
  // The fewest consumers that keep up with the steady load with a backlog that stays bounded:
  // more capacity than arrivals. 30 orders/s on consumers of 1000 / 100 ms = 10 each is 3 by the
  // seed's arithmetic, but 3 run at 100 % utilisation, where a queue's backlog wanders without
  // bound (arrivals are not perfectly even per partition, and a consumer does a little under 10/s),
  // so any autoscaler that drains what builds up keeps a 4th. Both are reported.
  const seedNeed = Math.ceil((STEADY_PER_SEC * PROCESSING_MS) / 1000);
  const steadyNeed = Math.floor((STEADY_PER_SEC * PROCESSING_MS) / 1000) + 1;
  const { file, spec } = benchAutoscalerFile();
  Object.assign(result, {
    minutes,
    processing_ms: PROCESSING_MS,
    steady_per_sec: STEADY_PER_SEC,
    steady_need: steadyNeed,
    steady_need_at_full_utilisation: seedNeed,
    burst: BURST,
    cycle_s: CYCLE_S,
    warmup_s: WARMUP_S,
    cycles,
    node_options: `${LAB_NODE_OPTIONS} --import ${JSON.stringify(join(REPO, 'bench/trace-gc.mjs'))}`,
    autoscaler: { lagThreshold: spec.lagThreshold, pollIntervalSeconds: spec.pollIntervalSeconds, scaleDownWindowSeconds: spec.scaleDown?.stabilizationWindowSeconds ?? null },
  });

  const lab = {};
  try {
    await phase('C mixed: start lag monitor, producer, operator (local mode), tracing GCs', async () => {
      Object.assign(result, await startLab(lab, spec, file, { NODE_OPTIONS: result.node_options }));
    });
    const { producer, monitor, operator } = lab;
    const fixed = { producer: producer.pid, 'lag-monitor': monitor.pid, operator: operator.pid };

    await phase(`C mixed: ${STEADY_PER_SEC} orders/s + a burst of ${BURST} every ${CYCLE_S} s, ${cycles} bursts`, async () => {
      const before = { end: (await groupProgress(TOPIC, GROUP)).end, sink: await topicRecords(SINK) };
      const tStart = Date.now();
      const at = (t) => round((t - tStart) / 1000, 1);
      /** The operator's events, once each (its /status keeps the last 50). */
      const events = new Map();
      const ticks = [];
      const memory = { samples: {}, consumerPeak: {} };
      let nextMemoryAt = tStart;

      const tick = async () => {
        const t = Date.now();
        const [op, grp] = await Promise.allSettled([getJson(`${operator.url}/status`, 1000), groupProgress(TOPIC, GROUP)]);
        const status = op.status === 'fulfilled' ? op.value.autoscalers?.[0]?.status : undefined;
        if (op.status === 'fulfilled') for (const e of op.value.events ?? []) events.set(`${e.time} ${e.message}`, e);
        ticks.push({ t, t_s: at(t), current: status?.currentReplicas ?? null, lag: grp.status === 'fulfilled' ? grp.value.lag : null, members: grp.status === 'fulfilled' ? grp.value.members : null });
        // Consumers come and go: their peaks are read every tick, while they live.
        const consumers = consumerPids();
        for (const [name, pid] of Object.entries(consumers)) {
          const m = memoryOf(pid);
          if (m) memory.consumerPeak[name] = Math.max(memory.consumerPeak[name] ?? 0, m.hwm);
        }
        if (t >= nextMemoryAt) {
          nextMemoryAt += MEMORY_EVERY_MS;
          for (const [name, pid] of Object.entries({ ...fixed, 'consumer-1': consumers['consumer-1'] })) {
            const m = pid ? memoryOf(pid) : null;
            if (m) (memory.samples[name] ??= []).push({ t_s: at(t), pid, ...m });
          }
        }
      };
      /** Ticks every TICK_MS until `untilMs`. */
      const watch = async (untilMs) => {
        while (Date.now() < untilMs) {
          const t = Date.now();
          await tick();
          await sleep(Math.max(0, Math.min(TICK_MS - (Date.now() - t), untilMs - Date.now())));
        }
      };

      await postJson(`${producer.url}/config`, { ...STEADY, running: true });
      await watch(tStart + WARMUP_S * 1000);
      result.bursts = [];
      for (let k = 0; k < cycles; k++) {
        const tBurst = Date.now();
        await postJson(`${producer.url}/burst`, { count: BURST, delay_ms: 0 }, 120_000);
        const sentAfterS = round((Date.now() - tBurst) / 1000, 2);
        await watch(tBurst + CYCLE_S * 1000);
        // By the millisecond: the tick just before the burst can round to the burst's tenth of a
        // second, and it then read as "drained" at 0 s (3 bursts of 20 once).
        const inCycle = ticks.filter((x) => x.t >= tBurst);
        const scale = [...events.values()].map(parseScaleEvent).filter((e) => e && e.at >= tBurst && e.at < tBurst + CYCLE_S * 1000).sort((a, b) => a.at - b.at);
        const peakLagAt = inCycle.reduce((best, x) => ((x.lag ?? -1) > (best.lag ?? -1) ? x : best), inCycle[0]);
        const drained = inCycle.slice(inCycle.indexOf(peakLagAt)).find((x) => x.lag !== null && x.lag <= spec.lagThreshold);
        const last = [...inCycle].reverse().find((x) => x.current !== null);
        const b = {
          at_s: at(tBurst),
          burst_send_s: sentAfterS,
          ups: scale.filter((e) => e.to > e.from).length,
          downs: scale.filter((e) => e.to < e.from).length,
          path: scale.length ? [scale[0].from, ...scale.map((e) => e.to)].join('->') : '-',
          peak_lag: peakLagAt?.lag ?? null,
          // Lag back under lagThreshold: the backlog is gone, only the steady flow in flight remains.
          drained_after_s: drained ? round(drained.t_s - at(tBurst), 1) : null,
          replicas_before_next: last?.current ?? null,
          last_change_after_s: scale.length ? round((scale.at(-1).at - tBurst) / 1000, 1) : null,
        };
        b.at_steady_need = b.replicas_before_next === steadyNeed;
        result.bursts.push(b);
        log(`burst ${k + 1}/${cycles}: ${b.path} (${b.ups} up, ${b.downs} down), drained after ${b.drained_after_s ?? '?'} s, ${b.replicas_before_next} replicas before the next (need ${steadyNeed})`);
      }
      result.duration_s = at(Date.now());
      result.warmup = { path: [...events.values()].map(parseScaleEvent).filter((e) => e && e.at < tStart + WARMUP_S * 1000).map((e) => `${e.from}->${e.to}`).join(', ') || '-' };

      // Nothing lost: stop the steady load, let the group catch up, count both topics.
      await postJson(`${producer.url}/stop`, {});
      await pollUntil('the group to consume everything produced (lag 0)', 120_000, 500, async () => (await groupProgress(TOPIC, GROUP)).lag === 0);
      result.produced = (await groupProgress(TOPIC, GROUP)).end - before.end;
      result.processed = (await topicRecords(SINK)) - before.sink;
      result.redelivered = result.processed - result.produced;
      result.lost = Math.max(0, result.produced - result.processed);

      const durationS = result.duration_s;
      result.memory = { sample_every_s: MEMORY_EVERY_MS / 1000, services: {}, consumer_peaks_mib: memory.consumerPeak, timeline: memory.samples };
      for (const [name, samples] of Object.entries(memory.samples)) {
        const log_ = join(LOG_DIR, `${name}.log`);
        const gcs = fullGcs(readFileSync(log_, 'utf8'), samples[0].pid);
        result.memory.services[name] = { rss: summarise(samples, durationS), heap_after_full_gc: heapSummary(gcs) };
      }
      result.memory.consumer_peak_mib = Math.max(0, ...Object.values(memory.consumerPeak));
    });
  } finally {
    await stopLab(lab);
  }
  const ups = result.bursts?.map((b) => b.ups) ?? [];
  const downs = result.bursts?.map((b) => b.downs) ?? [];
  result.summary = {
    bursts: ups.length,
    one_step_up: ups.filter((n) => n <= 1).length,
    one_step_down: downs.filter((n) => n <= 1).length,
    at_steady_need_before_next: result.bursts?.filter((b) => b.at_steady_need).length ?? 0,
    scale_events: ups.reduce((a, b) => a + b, 0) + downs.reduce((a, b) => a + b, 0),
  };
  return result;
}
