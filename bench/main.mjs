// The benchmark run: bench/run.sh starts a private broker and calls this with BENCH_TMP and
// BENCH_BROKERS set. Progress goes to stderr; the summary table to stdout; everything measured to
// bench/results/latest.json. Benchmarks print numbers, they assert nothing about speed.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { admin, BROKERS, kafka, log, now, peakRssMiB, phase, phaseName, phaseTimes, REPO, round } from './lib.mjs';
import { autoscaleBench } from './autoscale.mjs';
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
  autoscaleRepeat: intEnv('BENCH_AUTOSCALE_REPEAT', 2),
});
const PARTS = ['producer', 'consumer', 'autoscale'];
function readOnly() {
  const only = (process.env.BENCH_ONLY || PARTS.join(',')).split(',').map((x) => x.trim());
  for (const part of only) if (!PARTS.includes(part)) throw new Error(`BENCH_ONLY: unknown part '${part}' (choose from ${PARTS.join(', ')})`);
  return only;
}

const kafkaVersion = /<kafka.version>(.*)<\/kafka.version>/.exec(readFileSync(join(REPO, 'hack/kafka/pom.xml'), 'utf8'))?.[1] ?? '?';
const brokerPid = Number(process.env.BENCH_KAFKA_PID) || null;
const started = new Date();

const fmt = (n, digits = 0) =>
  n === null || n === undefined || Number.isNaN(n) ? 'n/a' : Number(n).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const mib = (n) => (n === null || n === undefined ? 'n/a' : `${fmt(n)} MB`);
const secs = (n) => (n === null || n === undefined ? 'n/a' : `${fmt(n, 1)} s`);

const RESULTS_DIR = join(REPO, 'bench/results');
/** Filled in as the phases finish, so a failed run still leaves what it measured. */
const results = { status: 'running' };
function writeResults() {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
}

async function main() {
  const settings = readSettings();
  const only = readOnly();
  Object.assign(results, {
    started_at: started.toISOString(),
    environment: { node: process.version, cores: cpus().length, kafka: kafkaVersion, broker: BROKERS, units: 'MB = MiB (2^20 bytes), as in Kafka\'s perf tools' },
    settings,
  });
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
  } finally {
    await admin.disconnect().catch(() => {});
  }
  results.broker_rss_mib = brokerPid ? peakRssMiB(brokerPid) : null;
  results.finished_at = new Date().toISOString();
  results.duration_s = round((Date.now() - started.getTime()) / 1000, 1);
  results.phases_s = phaseTimes;

  results.status = 'complete';
  writeResults();
  await phase('report', async () => console.log(table(results)));
  log(`results written to bench/results/latest.json (${results.duration_s} s in all)`);
}

/** "median (min-max)" of a spread, or the single value when there was one run. */
function sp(x, digits = 0, unit = '') {
  if (!x || x.median === null) return 'n/a';
  const one = (v) => `${fmt(v, digits)}${unit}`;
  return x.runs.length > 1 && x.min !== x.max ? `${one(x.median)} (${fmt(x.min, digits)}-${one(x.max)})` : one(x.median);
}
/** Every run's value, for the autoscale runs (few, and each tells its own story). */
const each = (runs, key, digits = 1, unit = ' s') => runs.map((run) => (run[key] === null ? 'n/a' : `${fmt(run[key], digits)}${unit}`)).join(' / ');

function table(r) {
  const lines = [];
  const p = r.producer;
  const c = r.consumer;
  const a = r.autoscale;
  lines.push('');
  lines.push(`backpressure-lab benchmark: Kafka ${r.environment.kafka} broker on ${r.environment.broker}, ${r.environment.cores} cores, loopback only, Node ${r.environment.node}; run took ${secs(r.duration_s)}`);
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
      `          ours: kafkajs, 500-order produce requests, 4 in parallel but max 1 in flight per broker (idempotent); Java: 16 KB batches per partition, linger 5 ms, up to 5 in flight, warms up in-run (fresh JVM each round)`,
    );
  }
  if (c) {
    lines.push(
      `consumer  processing 0, ${c.count} msgs   ours ${sp(c.ours.msg_per_sec)} msg/s (start to lag 0 ${sp(c.ours.start_to_lag0_s, 1, ' s')}; ${sp(c.ours.steady_msg_per_sec)} msg/s after the first commit)` +
        `   kafka-consumer-perf-test ${sp(c.kafka.msg_per_sec)} msg/s (fetch only ${sp(c.kafka.fetch_msg_per_sec)})   ratio ${fmt(c.ratio, 3)}`,
    );
    lines.push(
      `          kafka-consumer-perf-test on ${fmt(c.kafka_large.requested)} msgs: ${sp(c.kafka_large.msg_per_sec)} msg/s, ${sp(c.kafka_large.mib_per_sec, 1)} MB/s (fetch only ${sp(c.kafka_large.fetch_msg_per_sec)} msg/s)`,
    );
    lines.push(
      `          why the ratio is small: by design ours takes one message at a time and, for each, writes to the sink topic (acks=all) and commits its offset before the next:` +
        ` two broker round trips, ${sp(c.ours.ms_per_message, 2, ' ms')} per message. ConsumerPerformance fetches in bulk and neither processes, writes nor commits per message.`,
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
  if (a) {
    const s = a.autoscaled;
    const runs = a.autoscaled_runs;
    lines.push(
      `autoscale reaction ${sp(s.reaction_s, 1, ' s')} | drain ${sp(s.drain_s, 1, ' s')} (ideal ${secs(a.ideal_drain_s)}, single consumer ${secs(a.single.drain_s)}, ideal ${secs(a.ideal_single_s)})` +
        ` | replica changes ${runs.map((x) => `${x.replica_changes} (${x.replica_path})`).join(' / ')} | back to min ${sp(s.back_to_min_after_drain_s, 1, ' s')} after the drain`,
    );
    lines.push(
      `          per run (${runs.length}): reaction ${each(runs, 'reaction_s')} (from the lag crossing in Kafka itself, before the monitor's next poll: ${each(runs, 'reaction_from_kafka_s')}); drain ${each(runs, 'drain_s')}; lag crossed lagThreshold ${a.autoscaler.lagThreshold} at +${each(runs, 'threshold_crossed_s')} after the burst start;` +
        ` back to min ${each(runs, 'back_to_min_after_burst_s')} after the burst start`,
    );
    lines.push(
      `          burst ${a.burst} orders x ${a.delay_ms} ms apart (sent in ${each(runs, 'burst_send_s')}), ${a.processing_ms} ms processing; peak ${each(runs, 'peak_replicas', 0, '')} replicas;` +
        ` all members in a Stable group ${each(runs, 'all_members_joined_after_scale_s')} after the first scale-up; group rebalancing during the drain ${each(runs, 'group_rebalancing_s')} (${each(runs, 'group_rebalances', 0, '')} rebalances)`,
    );
    lines.push(
      `          orders per partition ${runs.map((x) => x.orders_per_partition.join('/')).join(' and ')}: with one consumer per partition the fullest one alone needs ${each(runs, 'ideal_drain_this_split_s')} (the ideal above assumes an even split)`,
    );
    lines.push(
      `          sink records per burst ${each(runs, 'sink_records', 0, '')} (redelivered ${each(runs, 'redelivered', 0, '')}); single consumer ${fmt(a.single.ms_per_message, 1)} ms per message, peak lag ${a.single.peak_lag}`,
    );
    lines.push(
      `          reaction = from the lag monitor's first sample above lagThreshold (its /lag polled every 100 ms) to the operator's scale-up decision (ScaledUp event);` +
        ` the monitor polls Kafka every 1 s and the operator polls the monitor every ${a.autoscaler.pollIntervalSeconds} s, so up to ~${1 + a.autoscaler.pollIntervalSeconds} s after the crossing in Kafka;` +
        ` scale-down window ${a.autoscaler.scaleDownWindowSeconds} s (shipped operator/local-autoscaler.yaml, only URL/topic/group changed)`,
    );
  }
  lines.push('KEDA      documented, not measured: the Kafka scaler polls every 30 s (pollingInterval) and the HPA syncs every 15 s, so reaction can take up to ~45 s;');
  lines.push("          scaling down from N > 1 waits the HPA's default 300 s stabilization window (cooldownPeriod 300 s applies to scale-to-zero)");
  lines.push('');
  return lines.join('\n');
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
