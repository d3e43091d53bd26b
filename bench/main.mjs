// The benchmark run: bench/run.sh starts a private broker and calls this with BENCH_TMP and
// BENCH_BROKERS set. Progress goes to stderr; the summary table to stdout; everything measured to
// bench/results/latest.json. Benchmarks print numbers, they assert nothing about speed.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { admin, BROKERS, kafka, log, now, peakRssMiB, phase, phaseName, phaseTimes, REPO, round } from './lib.mjs';
import { autoscaleBench } from './autoscale.mjs';
import { clusterBench, clusterLines } from './cluster.mjs';
import { fmt, mib, pm, secs, sp } from './format.mjs';
import { markdownReport } from './markdown.mjs';
import { mixedBench } from './mixed.mjs';
import { consumerBench, createTopics, producerBench, TOPICS, warmUpBroker } from './throughput.mjs';

const intEnv = (name, fallback) => {
  const value = process.env[name] === undefined || process.env[name] === '' ? fallback : Number(process.env[name]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got '${process.env[name]}'`);
  return value;
};
const readSettings = () => ({
  produceCount: intEnv('BENCH_PRODUCE_N', 200_000),
  produceWarmup: intEnv('BENCH_PRODUCE_WARMUP', 20_000),
  consumeCount: intEnv('BENCH_CONSUME_N', 20_000),
  burst: intEnv('BENCH_BURST', 500),
  burstDelayMs: intEnv('BENCH_BURST_DELAY_MS', 5),
  repeat: intEnv('BENCH_REPEAT', 3),
  autoscaleRepeat: intEnv('BENCH_AUTOSCALE_REPEAT', 10),
  mixedMinutes: intEnv('BENCH_MIXED_MINUTES', 30),
});
const PARTS = ['producer', 'consumer', 'autoscale', 'mixed', 'cluster'];
function readOnly() {
  const only = (process.env.BENCH_ONLY || PARTS.join(',')).split(',').map((x) => x.trim());
  for (const part of only) if (!PARTS.includes(part)) throw new Error(`BENCH_ONLY: unknown part '${part}' (choose from ${PARTS.join(', ')})`);
  return only;
}

const kafkaVersion = /<kafka.version>(.*)<\/kafka.version>/.exec(readFileSync(join(REPO, 'hack/kafka/pom.xml'), 'utf8'))?.[1] ?? '?';
const brokerPid = Number(process.env.BENCH_KAFKA_PID) || null;
const started = new Date();

const RESULTS_DIR = join(REPO, 'bench/results');
/** Filled in as the phases finish, so a failed run still leaves what it measured. */
const results = { status: 'running' };
function writeResults() {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
}

/** The machine, as the report names it: figures from another machine are not carried over. */
const machine = () => ({ cpu: cpus()[0]?.model.trim() ?? '?', cores: cpus().length, memory_gib: round(totalmem() / 2 ** 30, 1), kernel: release(), node: process.version, kafka: kafkaVersion });

/**
 * The parts this run leaves out (BENCH_ONLY) keep their figures from the previous complete run on
 * the same machine, each stamped with when it was measured, so that latest.json and latest.md
 * always hold every part: a 30-minute mixed load need not run again for a new producer figure.
 */
function carryOver(only) {
  const file = join(RESULTS_DIR, 'latest.json');
  if (!existsSync(file)) return [];
  let previous;
  try {
    previous = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return [];
  }
  const same = ['cpu', 'cores', 'node', 'kafka'].every((k) => previous.environment?.[k] === results.environment[k]);
  if (previous.status !== 'complete' || !same) return [];
  const kept = [];
  for (const part of PARTS) {
    if (only.includes(part) || !previous[part]) continue;
    results[part] = { ...previous[part], measured_at: previous[part].measured_at ?? previous.started_at };
    kept.push(part);
  }
  return kept;
}

async function main() {
  const settings = readSettings();
  const only = readOnly();
  Object.assign(results, {
    started_at: started.toISOString(),
    environment: { ...machine(), broker: BROKERS, units: 'MB = MiB (2^20 bytes), as in Kafka\'s perf tools' },
    settings,
  });
  const kept = carryOver(only);
  if (kept.length > 0) log(`kept from earlier runs on this machine: ${kept.map((part) => `${part} (${results[part].measured_at})`).join(', ')}`);
  await admin.connect();
  try {
    await createTopics([TOPICS.produceOurs, TOPICS.produceKafka, TOPICS.consume, TOPICS.consumeSink]);
    // A fresh broker answers the first InitProducerId with COORDINATOR_LOAD_IN_PROGRESS; get that
    // over with here, so no measured producer starts while the broker is still loading.
    const t = now();
    const warm = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
    await warm.connect();
    await warm.disconnect();
    results.broker_idempotence_ready_s = round((now() - t) / 1000, 2);
    log(`broker grants producer ids (${results.broker_idempotence_ready_s} s)`);
    if (only.includes('producer') || only.includes('consumer')) await warmUpBroker(settings.produceCount);
    if (only.includes('producer')) await producerBench({ count: settings.produceCount, warmup: settings.produceWarmup, repeat: settings.repeat }, (results.producer = {}));
    if (only.includes('consumer')) {
      await consumerBench({ count: settings.consumeCount, largeCount: settings.produceCount, repeat: settings.repeat }, (results.consumer = {}));
    }
    if (only.includes('autoscale')) await autoscaleBench({ burst: settings.burst, delayMs: settings.burstDelayMs, repeat: settings.autoscaleRepeat }, (results.autoscale = {}));
    if (only.includes('mixed')) await mixedBench({ minutes: settings.mixedMinutes }, (results.mixed = {}));
    // Our operator and real KEDA on the one-node cluster (bench/cluster.mjs; root only, else skipped).
    if (only.includes('cluster')) await clusterBench((results.cluster = {}));
  } finally {
    await admin.disconnect().catch(() => {});
  }
  results.broker_rss_mib = brokerPid ? peakRssMiB(brokerPid) : null;
  results.finished_at = new Date().toISOString();
  results.duration_s = round((Date.now() - started.getTime()) / 1000, 1);
  results.phases_s = phaseTimes;

  for (const part of only) if (results[part]) results[part].measured_at = results.started_at;
  results.status = 'complete';
  writeResults();
  writeFileSync(join(RESULTS_DIR, 'latest.md'), markdownReport(results));
  await phase('report', async () => console.log(table(results)));
  log(`results written to bench/results/latest.json and latest.md (${results.duration_s} s in all)`);
}

function table(r) {
  const lines = [];
  const p = r.producer;
  const c = r.consumer;
  const a = r.autoscale;
  lines.push('');
  lines.push(
    `backpressure-lab benchmark: Kafka ${r.environment.kafka} broker on ${r.environment.broker}, ${r.environment.cpu}, ${r.environment.cores} cores, loopback only, Node ${r.environment.node}; run took ${secs(r.duration_s)}`,
  );
  const kept = PARTS.filter((part) => r[part]?.measured_at && r[part].measured_at !== r.started_at);
  if (kept.length > 0) lines.push(`not run this time, kept from an earlier run on this machine: ${kept.map((part) => `${part} (${r[part].measured_at})`).join(', ')}`);
  lines.push(`numbers from this run, not assertions; median (min-max) of ${r.settings.repeat} rounds where repeated; MB = MiB, as Kafka's perf tools count`);
  lines.push('');
  if (p) {
    lines.push(
      `producer  /burst ${p.count} x ${p.record_size.bytes} B   ours ${sp(p.ours.msg_per_sec)} msg/s, ${sp(p.ours.mib_per_sec, 1)} MB/s` +
        `   kafka-producer-perf-test ${sp(p.kafka.msg_per_sec)} msg/s, ${sp(p.kafka.mib_per_sec, 1)} MB/s   ratio ${fmt(p.ratio, 2)}`,
    );
    lines.push(
      `          both acks=all + idempotent, 6 partitions, record size = mean JSON order (${p.record_size.min}-${p.record_size.max} B; ours adds a 36 B key);` +
        ` perf-test latency avg ${sp(p.kafka.avg_latency_ms, 0, ' ms')}, p99 ${sp(p.kafka.p99_ms, 0, ' ms')}`,
    );
    lines.push(
      `          ours: kafkajs, 500-order produce requests over 3 idempotent producers, 1 in flight on each (kafkajs's idempotence allows no more per broker); Java: 16 KB batches per partition, linger 5 ms, up to 5 in flight, warms up in-run (fresh JVM each round)`,
    );
  }
  if (c) {
    const ours = (o, ratio) =>
      `${sp(o.msg_per_sec)} msg/s (up to lag 0 ${sp(o.up_to_lag0_s, 2, ' s')}; ${sp(o.msg_per_sec_from_process_start)} msg/s from the process start, ${sp(o.steady_msg_per_sec)} after the first commit)   ratio ${fmt(ratio, 2)}`;
    lines.push(
      `consumer  processing 0, ${c.count} msgs   kafka-consumer-perf-test ${sp(c.kafka.msg_per_sec)} msg/s (join ${sp(c.kafka.rebalance_ms, 0, ' ms')}; fetch only ${sp(c.kafka.fetch_msg_per_sec)})`,
    );
    lines.push(`          ours one at a time ${ours(c.ours, c.ratio)}`);
    lines.push(`          ours batch ${c.batch_size}    ${ours(c.ours_batch, c.ratio_batch)}`);
    lines.push(
      `          kafka-consumer-perf-test on ${fmt(c.kafka_large.requested)} msgs: ${sp(c.kafka_large.msg_per_sec)} msg/s, ${sp(c.kafka_large.mib_per_sec, 1)} MB/s (fetch only ${sp(c.kafka_large.fetch_msg_per_sec)} msg/s)`,
    );
    lines.push(
      `          the ratio: ours from its API answering (Node up; then it connects and joins) to lag 0, every order processed, written to the sink (acks=all) and committed, against perf-test's nMsg.sec,` +
        ` from its client's creation (JVM up) through the join to the last record read. Ours takes one batch at a time (1 or ${c.batch_size} orders, in order per partition) and writes each to the sink;` +
        ` the sink writes are pipelined (the next batch is processed while Kafka acknowledges them) and the offsets committed in the background, never past a write not acknowledged.`,
    );
  }
  const rss = [];
  if (p) rss.push(`producer ${mib(p.ours_rss_mib)}`);
  if (c) rss.push(`consumer ${mib(c.ours_rss_mib)}`, `lag-monitor ${mib(c.monitor_rss_mib)}`);
  if (a) rss.push(`operator ${mib(a.operator_rss_mib)}`, `consumer at 100 ms ${mib(a.consumer_rss_mib)}`);
  const jvm = [];
  if (p) jvm.push(`producer-perf ${mib(p.kafka_rss_mib)}`);
  if (c) jvm.push(`consumer-perf ${mib(c.kafka_rss_mib)} (${fmt(c.count)} msgs) / ${mib(c.kafka_large_rss_mib)} (${fmt(c.kafka_large.requested)} msgs)`);
  if (rss.length) lines.push(`RSS peak  ${rss.join(', ')} | kafka perf tools JVM (-Xmx512m): ${jvm.join(', ') || 'not run'} | broker JVM ${mib(r.broker_rss_mib)}`);
  if (p || c) lines.push('          (VmHWM of each process: producer after all bursts, consumer and lag monitor after draining, JVMs sampled every 100 ms while running)');
  if (a) lines.push(...autoscaleLines(a));
  if (r.mixed) lines.push(...mixedLines(r.mixed));
  if (r.cluster) lines.push(...clusterLines(r.cluster));
  if (!r.cluster?.runs?.keda) {
    lines.push('KEDA      documented, not measured: the Kafka scaler polls every 30 s (pollingInterval) and the HPA syncs every 15 s, so reaction can take up to ~45 s;');
    lines.push("          scaling down from N > 1 waits the HPA's default 300 s stabilization window (cooldownPeriod 300 s applies to scale-to-zero)");
  }
  lines.push('');
  return lines.join('\n');
}

/** The autoscaler's bursts: steps per burst, burst to every new consumer consuming, drain against both ideals. */
function autoscaleLines(a) {
  const s = a.summary;
  const runs = a.bursts;
  const counts = runs.map((x) => x.count);
  const spreads = runs.map((x) => x.spread_s);
  return [
    `autoscale ${s.bursts} bursts of ${Math.min(...counts)}-${Math.max(...counts)} orders over ${Math.min(...spreads)}-${Math.max(...spreads)} s, each on ${a.autoscaler.minReplicas} consumer at ${a.processing_ms} ms, ${a.partitions} partitions:` +
      ` one scale-up step (${a.autoscaler.minReplicas} -> ${Math.min(a.partitions, a.autoscaler.maxReplicas)}) in ${s.one_step}/${s.bursts}`,
    `          burst to every new consumer consuming ${pm(s.all_consuming_s, 1, ' s')} (the operator's decision ${pm(s.decision_s, 1, ' s')}; the new processes answering /health ${pm(s.processes_up_s, 1, ' s')})`,
    `          where the time goes, p50 from the burst: decision ${secs(s.decision_s.median)}, new consumers started ${secs(s.startup.first_spawn_s.median)}, all listening ${secs(s.startup.last_listening_s.median)},` +
      ` the last one joined ${secs(s.startup.last_new_join_s.median)}, every one consuming ${secs(s.all_consuming_s.median)}; rebalance rounds (consumer-1's joins) ${pm(s.startup.consumer1_joins, 0, '')} (consumer logs)`,
    `          drain / partition-bound ideal (fullest partition x processing) ${pm(s.drain_vs_partition_bound, 2, 'x')}; / even-split ideal (orders x processing / ${a.partitions}) ${pm(s.drain_vs_even, 2, 'x')};` +
      ` back to min ${pm(s.back_to_min_after_drain_s, 1, ' s')} after the drain (scale-down window ${a.autoscaler.scaleDownWindowSeconds} s)`,
    '          per burst: orders over spread (sent in): replica path, decision, every new consumer consuming, drain vs ideals even | partition-bound = ratio to the latter',
    ...runs.map(
      (x) =>
        `            ${x.count} over ${x.spread_s} s (${secs(x.sent_in_s)}): ${x.path}, ${secs(x.decision_s)}, ${secs(x.all_consuming_s)}, ${secs(x.drain_s)} vs ${secs(x.ideal_even_s)} | ${secs(x.ideal_partition_bound_s)} = ${fmt(x.drain_vs_partition_bound, 2)}x` +
        ` (per partition ${x.orders_per_partition.join('/')}; ${x.group_rebalances} rebalances; redelivered ${x.redelivered})`,
    ),
    `          the lag monitor reads Kafka every 1 s and the operator reads the monitor every ${a.autoscaler.pollIntervalSeconds} s (shipped operator/local-autoscaler.yaml, only URL/topic/group changed);` +
      ' consumers counted by the ports that answer /health healthy with partitions assigned, every partition once',
    `          single consumer, operator stopped: ${a.single.count} orders x ${a.single.delay_ms} ms drained in ${secs(a.single.drain_s)} (ideal ${secs(a.single.ideal_s)}, ${fmt(a.single.ms_per_message, 1)} ms per message)`,
  ];
}

/** The mixed load: scale steps per burst, replicas between bursts, nothing lost, memory over the run. */
function mixedLines(m) {
  const s = m.summary;
  const bursts = m.bursts ?? [];
  const mem = m.memory?.services ?? {};
  const rssOf = (name) => {
    const x = mem[name]?.rss;
    return x ? `${name} ${fmt(x.start_mib)} -> ${fmt(x.end_mib)} MB (peak ${fmt(x.peak_mib)}, ${fmt(x.second_half_slope_mib_per_min, 2)} MB/min)` : `${name} n/a`;
  };
  const heapOf = (name) => {
    const h = mem[name]?.heap_after_full_gc;
    return h?.full_gcs ? `${name} ${fmt(h.first_after_mib, 1)} -> ${fmt(h.last_after_mib, 1)} MB over ${h.full_gcs} (${fmt(h.second_half_slope_mib_per_min, 2)} MB/min)` : `${name} no full GC`;
  };
  const names = ['producer', 'consumer-1', 'lag-monitor', 'operator'];
  return [
    `mixed     ${m.cycles} bursts of ${m.burst} every ${m.cycle_s} s on ${m.steady_per_sec} orders/s, ${m.processing_ms} ms processing (steady need ${m.steady_need} for a bounded backlog; ${m.steady_need_at_full_utilisation} at 100 % utilisation), ${fmt(m.duration_s / 60, 1)} min:` +
      ` one step up in ${s.one_step_up}/${s.bursts}, one step down in ${s.one_step_down}/${s.bursts}, at the steady need before the next burst in ${s.at_steady_need_before_next}/${s.bursts}; ${s.scale_events} scale events`,
    `          per burst: ${bursts.map((b) => b.path).join(' | ')}; replicas before the next: ${bursts.map((b) => b.replicas_before_next ?? '?').join('/')}; drained after ${bursts.map((b) => b.drained_after_s ?? '?').join('/')} s`,
    `          produced ${fmt(m.produced)}, processed ${fmt(m.processed)} (lost ${fmt(m.lost)}, redelivered ${fmt(m.redelivered)})`,
    `          RSS every ${m.memory?.sample_every_s ?? '?'} s, start -> end (peak, slope over the second half): ${names.map(rssOf).join('; ')}; any consumer's peak ${mib(m.memory?.consumer_peak_mib)}`,
    `          live heap after full GCs (--trace-gc), first -> last (slope over the second half): ${names.map(heapOf).join('; ')}; NODE_OPTIONS ${m.node_options}`,
  ];
}

main().catch((err) => {
  const where = err?.phase ?? phaseName();
  console.error(`\x1b[1;31m[bench] failed in phase "${where}":\x1b[0m ${err instanceof Error ? err.message : err}`);
  Object.assign(results, { status: 'failed', error: { phase: where, message: err instanceof Error ? err.message : String(err) } });
  try {
    writeResults();
    console.error('[bench] what was measured before the failure is in bench/results/latest.json (status "failed")');
  } catch {
    // the error above is the one that matters
  }
  process.exit(1);
});
