// Issue 2: the lab's producer and consumer against Kafka's own ProducerPerformance and
// ConsumerPerformance, on the same broker, the same record size and the same topic layout.
import { admin, getJson, groupProgress, log, now, phase, pollUntil, postJson, round, runKafkaTool, spread, startService, topicRecords, BROKERS, CONSUMER_ENTRY } from './lib.mjs';

const PARTITIONS = 6;
const MiB = 1024 * 1024;
const PRODUCER_PORT = 28000;
const CONSUMER_PORT = 28009;
const MONITOR_PORT = 28010;

export const TOPICS = {
  produceOurs: 'bench-produce-ours',
  produceKafka: 'bench-produce-kafka',
  consume: 'bench-consume',
  consumeSink: 'bench-consume-sink',
  warmup: 'bench-warmup',
};

/**
 * Waits until the producer service accepts POST /produce. Its /health only says the broker
 * answers: right after start on a fresh broker the first sends can still fail (503) while the
 * idempotent producer gets its producer id. Returns how many attempts failed.
 */
export async function producerReady(producer) {
  let failures = 0;
  let lastError = null;
  await pollUntil(`${producer.name} to accept POST /produce`, 60_000, 200, async () => {
    try {
      await postJson(`${producer.url}/produce`, {}, 10_000);
      return true;
    } catch (err) {
      failures += 1;
      lastError = err.message;
      throw err;
    }
  });
  if (failures > 0) log(`${producer.name}: ${failures} POST /produce failed before the first success (last: ${lastError})`);
  return { failures, lastError };
}

export async function createTopics(names) {
  const created = await admin.createTopics({
    waitForLeaders: true,
    topics: names.map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
  });
  if (!created) log(`some topics already existed: ${names.join(', ')}`);
}

/** The last summary line of ProducerPerformance, the one with percentiles. */
export function parseProducerPerf(stdout) {
  const re = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th/g;
  const matches = [...stdout.matchAll(re)];
  const m = matches.at(-1);
  if (!m) throw new Error(`could not find ProducerPerformance's summary line in:\n${stdout.slice(-800)}`);
  return {
    records: Number(m[1]),
    msg_per_sec: Number(m[2]),
    mib_per_sec: Number(m[3]),
    avg_latency_ms: Number(m[4]),
    max_latency_ms: Number(m[5]),
    p50_ms: Number(m[6]),
    p95_ms: Number(m[7]),
    p99_ms: Number(m[8]),
  };
}

/** ConsumerPerformance prints a CSV-ish header and one line of values. */
export function parseConsumerPerf(stdout) {
  const lines = stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  const headerAt = lines.findIndex((l) => l.startsWith('start.time'));
  if (headerAt < 0 || !lines[headerAt + 1]) throw new Error(`could not parse ConsumerPerformance's output:\n${stdout.slice(-800)}`);
  const keys = lines[headerAt].split(',').map((s) => s.trim());
  const values = lines[headerAt + 1].split(',').map((s) => s.trim());
  const row = Object.fromEntries(keys.map((k, i) => [k, values[i]]));
  const num = (k) => Number(row[k]);
  return {
    records: num('data.consumed.in.nMsg'),
    msg_per_sec: num('nMsg.sec'),
    mib_per_sec: num('MB.sec'),
    rebalance_ms: num('rebalance.time.ms'),
    fetch_ms: num('fetch.time.ms'),
    fetch_msg_per_sec: num('fetch.nMsg.sec'),
    fetch_mib_per_sec: num('fetch.MB.sec'),
  };
}

/**
 * A1: POST /burst on the producer service vs ProducerPerformance with the same record size,
 * alternating, `repeat` times each. The producer service stays up (warmed up) between rounds;
 * every ProducerPerformance run is a fresh JVM, its figures count from its first send.
 */
export async function producerBench({ count, warmup, repeat }, result = {}) {
  Object.assign(result, { count, warmup, repeat, ours_runs: [], kafka_runs: [] });
  const producer = await phase('A1 producer: start, warm up, measure the record size', async () => {
    const svc = await startService('producer', 'services/producer/dist/main.js', PRODUCER_PORT, { TOPIC: TOPICS.produceOurs });
    try {
      result.startup = await producerReady(svc);
      log(`warm-up: ${warmup} orders`);
      await postJson(`${svc.url}/burst`, { count: warmup, delay_ms: 0 }, 120_000);
      // The record size is measured from real orders: the value the sender writes is JSON.stringify(order).
      const sizes = [];
      for (let i = 0; i < 20; i++) {
        const { order } = await postJson(`${svc.url}/produce`, {});
        sizes.push(Buffer.byteLength(JSON.stringify(order)));
      }
      result.record_size = {
        bytes: Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length),
        min: Math.min(...sizes),
        max: Math.max(...sizes),
        key_bytes: 36,
        note: 'mean JSON value size of 20 orders produced by POST /produce; our records also carry a 36-byte key (the order id), perf-test records have none',
      };
      log(`record size: ${result.record_size.bytes} B (min ${result.record_size.min}, max ${result.record_size.max}) + 36 B key`);
      return svc;
    } catch (err) {
      await svc.stop();
      throw err;
    }
  });
  const S = result.record_size.bytes;
  try {
    for (let round_ = 1; round_ <= repeat; round_++) {
      await phase(`A1 producer ${round_}/${repeat}: ours, POST /burst {count: ${count}, delay_ms: 0}`, async () => {
        const burst = await postJson(`${producer.url}/burst`, { count, delay_ms: 0 }, 290_000);
        if (burst.sent !== count) throw new Error(`the burst sent ${burst.sent} of ${count} orders`);
        const run = {
          sent: burst.sent,
          duration_ms: burst.duration_ms,
          msg_per_sec: round((burst.sent / burst.duration_ms) * 1000, 0),
          mib_per_sec: round(((burst.sent * S) / MiB / burst.duration_ms) * 1000, 2),
        };
        result.ours_runs.push(run);
        log(`ours: ${run.msg_per_sec} msg/s (${run.mib_per_sec} MB/s) over ${burst.duration_ms} ms`);
      });
      await phase(`A1 producer ${round_}/${repeat}: kafka-producer-perf-test ${count} x ${S} B`, async () => {
        const args = [
          '--bootstrap-server', BROKERS,
          '--topic', TOPICS.produceKafka,
          '--num-records', String(count),
          '--record-size', String(S),
          '--throughput', '-1',
          '--command-property', 'acks=all', 'enable.idempotence=true',
        ];
        const tool = await runKafkaTool('kafka-producer-perf-test.sh', args, 180_000);
        const run = { ...parseProducerPerf(tool.stdout), wall_ms_with_jvm_start: tool.wallMs, jvm_peak_rss_mib: tool.peakRssMiB };
        result.kafka_runs.push(run);
        result.kafka_command = `kafka-producer-perf-test.sh ${args.join(' ')}`;
        log(`kafka: ${Math.round(run.msg_per_sec)} msg/s (${run.mib_per_sec} MB/s), avg latency ${run.avg_latency_ms} ms; JVM peak RSS ${tool.peakRssMiB} MiB`);
      });
    }
    result.ours_rss_mib = producer.peakRss();
    const inTopic = await topicRecords(TOPICS.produceOurs);
    if (inTopic < warmup + repeat * count) throw new Error(`topic ${TOPICS.produceOurs} holds ${inTopic} records, expected at least ${warmup + repeat * count}`);
  } finally {
    await producer.stop();
  }
  result.ours = { msg_per_sec: spread(result.ours_runs.map((r) => r.msg_per_sec)), mib_per_sec: spread(result.ours_runs.map((r) => r.mib_per_sec)) };
  result.kafka = {
    msg_per_sec: spread(result.kafka_runs.map((r) => r.msg_per_sec)),
    mib_per_sec: spread(result.kafka_runs.map((r) => r.mib_per_sec)),
    avg_latency_ms: spread(result.kafka_runs.map((r) => r.avg_latency_ms)),
    p99_ms: spread(result.kafka_runs.map((r) => r.p99_ms)),
  };
  result.kafka_rss_mib = Math.max(...result.kafka_runs.map((r) => r.jvm_peak_rss_mib ?? 0)) || null;
  result.ratio = round(result.ours.msg_per_sec.median / result.kafka.msg_per_sec.median, 3);
  return result;
}

/** The batch size of the consumer's batch-mode rounds (its BATCH_SIZE). */
export const CONSUME_BATCH = 100;

/**
 * A2: our consumer (processing 0 ms) drains a pre-filled topic, each round with a fresh group,
 * one at a time (BATCH_SIZE 1) and in batches (CONSUME_BATCH); then ConsumerPerformance on the
 * same topic and N, and on the larger perf-test topic.
 *
 * What the ratio compares: ConsumerPerformance's nMsg.sec counts from its client's creation (its
 * JVM already up), through the group join, to the last record read. Ours counts from the
 * consumer's HTTP API answering (Node up; it then connects and joins), through the group join,
 * to lag 0 in the group's committed offsets: every order processed, written to the sink
 * (acks=all) and committed, polled every 100 ms. The rate from the process's start is kept too.
 */
export async function consumerBench({ count, largeCount, repeat }, result = {}) {
  Object.assign(result, { count, repeat, batch_size: CONSUME_BATCH, ours_runs: [], ours_batch_runs: [], kafka_runs: [], kafka_large_runs: [] });
  await phase(`A2 consumer: pre-fill ${TOPICS.consume} with ${count} orders`, async () => {
    const producer = await startService('producer-fill', 'services/producer/dist/main.js', PRODUCER_PORT, { TOPIC: TOPICS.consume });
    try {
      result.startup = await producerReady(producer);
      await postJson(`${producer.url}/burst`, { count: count - 1, delay_ms: 0 }, 120_000);
    } finally {
      await producer.stop();
    }
    // One order came from producerReady; a retried first send may add one more.
    const records = await topicRecords(TOPICS.consume);
    if (records < count) throw new Error(`topic ${TOPICS.consume} holds ${records} records, expected ${count}`);
    if (records !== count) log(`topic ${TOPICS.consume} holds ${records} records (${records - count} more than asked)`);
    result.count = count = records;
  });

  for (const [batchSize, runs, mode] of [
    [1, result.ours_runs, 'one at a time'],
    [CONSUME_BATCH, result.ours_batch_runs, `batch ${CONSUME_BATCH}`],
  ]) {
    for (let round_ = 1; round_ <= repeat; round_++) {
      const group = `bench-ours-b${batchSize}-${round_}`;
      await phase(`A2 consumer ${round_}/${repeat}: ours ${mode}, PROCESSING_TIME_MS=0, ${count} orders, group ${group}`, async () => {
        runs.push(await drainWithOurs(group, batchSize, count, `bench-consumer-b${batchSize}-${round_}`));
      });
    }
  }

  // The larger run reads the warm-up's topic, which holds largeCount records whenever this part
  // runs (warmUpBroker); bench-produce-kafka is filled only by the producer part.
  for (const [size, topic, runs, label] of [
    [count, TOPICS.consume, result.kafka_runs, 'the same topic'],
    [largeCount, TOPICS.warmup, result.kafka_large_runs, TOPICS.warmup],
  ]) {
    for (let round_ = 1; round_ <= repeat; round_++) {
      await phase(`A2 consumer ${round_}/${repeat}: kafka-consumer-perf-test ${size} on ${label}`, async () => {
        const args = ['--bootstrap-server', BROKERS, '--topic', topic, '--num-records', String(size), '--group', `bench-kafka-perf-${size}-${round_}`];
        const tool = await runKafkaTool('kafka-consumer-perf-test.sh', args, 180_000);
        const run = { ...parseConsumerPerf(tool.stdout), wall_ms_with_jvm_start: tool.wallMs, jvm_peak_rss_mib: tool.peakRssMiB };
        if (run.records < size) throw new Error(`kafka-consumer-perf-test consumed ${run.records} of ${size} records`);
        runs.push(run);
        log(`kafka: ${Math.round(run.msg_per_sec)} msg/s (fetch only ${Math.round(run.fetch_msg_per_sec)} msg/s); JVM peak RSS ${tool.peakRssMiB} MiB`);
      });
    }
  }

  const pick = (runs, key) => spread(runs.map((r) => r[key]));
  const oursSummary = (runs) => ({
    msg_per_sec: pick(runs, 'msg_per_sec'),
    msg_per_sec_from_process_start: pick(runs, 'msg_per_sec_from_process_start'),
    steady_msg_per_sec: pick(runs, 'steady_msg_per_sec'),
    start_to_lag0_s: pick(runs, 'start_to_lag0_s'),
    up_to_lag0_s: pick(runs, 'up_to_lag0_s'),
    ms_per_message: pick(runs, 'ms_per_message'),
  });
  result.ours = oursSummary(result.ours_runs);
  result.ours_batch = oursSummary(result.ours_batch_runs);
  const kafkaSummary = (runs, requested) => ({
    requested,
    records: runs[0]?.records ?? null,
    msg_per_sec: pick(runs, 'msg_per_sec'),
    mib_per_sec: pick(runs, 'mib_per_sec'),
    fetch_msg_per_sec: pick(runs, 'fetch_msg_per_sec'),
    rebalance_ms: pick(runs, 'rebalance_ms'),
  });
  result.kafka = kafkaSummary(result.kafka_runs, count);
  result.kafka_large = kafkaSummary(result.kafka_large_runs, largeCount);
  const oursAll = [...result.ours_runs, ...result.ours_batch_runs];
  result.ours_rss_mib = Math.max(...oursAll.map((r) => r.consumer_peak_rss_mib ?? 0)) || null;
  result.monitor_rss_mib = Math.max(...oursAll.map((r) => r.monitor_peak_rss_mib ?? 0)) || null;
  result.kafka_rss_mib = Math.max(...result.kafka_runs.map((r) => r.jvm_peak_rss_mib ?? 0)) || null;
  result.kafka_large_rss_mib = Math.max(...result.kafka_large_runs.map((r) => r.jvm_peak_rss_mib ?? 0)) || null;
  result.ratio = round(result.ours.msg_per_sec.median / result.kafka.msg_per_sec.median, 3);
  result.ratio_batch = round(result.ours_batch.msg_per_sec.median / result.kafka.msg_per_sec.median, 3);
  result.ratio_steady_vs_fetch = round(result.ours.steady_msg_per_sec.median / result.kafka.fetch_msg_per_sec.median, 3);
  result.ratio_batch_steady_vs_fetch = round(result.ours_batch.steady_msg_per_sec.median / result.kafka.fetch_msg_per_sec.median, 3);
  return result;
}

/** One round of our consumer: a fresh group drains the whole topic; its figures as the table shows them. */
async function drainWithOurs(group, batchSize, count, name) {
  const monitor = await startService(`lag-monitor-${name}`, 'services/lag-monitor/dist/main.js', MONITOR_PORT, { TOPIC: TOPICS.consume, GROUP_ID: group });
  let consumer;
  try {
    const sinkBefore = await topicRecords(TOPICS.consumeSink);
    const t0 = now();
    consumer = await startService(name, CONSUMER_ENTRY, CONSUMER_PORT, {
      TOPIC: TOPICS.consume,
      GROUP_ID: group,
      SINK_TOPIC: TOPICS.consumeSink,
      PROCESSING_TIME_MS: '0',
      BATCH_SIZE: String(batchSize),
      CONSUMER_ID: name,
    });
    const tUp = now();
    let tFirst = null;
    let atFirst = 0;
    let lastLog = now();
    await pollUntil(`group ${group} to commit all ${count} orders (lag 0)`, 300_000, 100, async () => {
      const p = await groupProgress(TOPICS.consume, group);
      if (tFirst === null && p.committed > 0) {
        tFirst = now();
        atFirst = p.committed;
      }
      if (now() - lastLog > 5000) {
        lastLog = now();
        log(`consumed ${p.committed}/${count} (${tFirst ? Math.round(((p.committed - atFirst) / (now() - tFirst)) * 1000) : 0} msg/s so far)`);
      }
      return p.end === count && p.lag === 0;
    });
    const tDone = now();
    const steady = (tDone - tFirst) / 1000;
    const stats = await getJson(`${consumer.url}/stats`);
    const run = {
      batch_size: batchSize,
      start_to_lag0_s: round((tDone - t0) / 1000, 2),
      http_up_s: round((tUp - t0) / 1000, 2),
      up_to_lag0_s: round((tDone - tUp) / 1000, 2),
      start_to_first_commit_s: round((tFirst - t0) / 1000, 2),
      msg_per_sec: round(count / ((tDone - tUp) / 1000), 0),
      msg_per_sec_from_process_start: round(count / ((tDone - t0) / 1000), 0),
      steady_msg_per_sec: round((count - atFirst) / steady, 0),
      ms_per_message: round((steady * 1000) / (count - atFirst), 3),
      sink_records: (await topicRecords(TOPICS.consumeSink)) - sinkBefore,
      batches: stats.batches,
      consumer_peak_rss_mib: consumer.peakRss(),
      monitor_peak_rss_mib: monitor.peakRss(),
    };
    if (run.sink_records < count) throw new Error(`${name} wrote ${run.sink_records} records to ${TOPICS.consumeSink} for ${count} orders`);
    log(
      `ours (batch ${batchSize}): ${run.msg_per_sec} msg/s from its API up (${run.msg_per_sec_from_process_start} msg/s from the process start, ` +
        `${run.steady_msg_per_sec} msg/s after the first commit); ${run.batches} batches; consumer peak RSS ${run.consumer_peak_rss_mib} MiB`,
    );
    return run;
  } finally {
    await consumer?.stop();
    await monitor.stop();
  }
}

/**
 * Not measured: a fresh broker's JIT is cold, and the first rounds on it came out up to 2x
 * slower than later ones for every client. One ProducerPerformance and one ConsumerPerformance
 * run on a topic of their own warm the broker's produce and fetch paths before any measurement.
 */
export async function warmUpBroker(count) {
  await phase(`warm-up (not measured): ${count} records through the broker`, async () => {
    await createTopics([TOPICS.warmup]);
    const common = ['--bootstrap-server', BROKERS, '--topic', TOPICS.warmup];
    await runKafkaTool('kafka-producer-perf-test.sh', [...common, '--num-records', String(count), '--record-size', '200', '--throughput', '-1', '--command-property', 'acks=all', 'enable.idempotence=true'], 180_000);
    await runKafkaTool('kafka-consumer-perf-test.sh', [...common, '--num-records', String(count), '--group', 'bench-warmup'], 180_000);
  });
}
