// The README's exercises 9-12: the backpressure strategies the seed lists but never exercised.
// 9 automatic pause and resume on a degraded downstream (strategy 2), 10 rate-limiting the
// producer (4), 11 the dead letter queue (5), 12 batch processing (6). Same shape as seed.mjs.
import { sleep } from '../view.mjs';
import { fmt } from './lab.mjs';

const lagNow = (lab) => lab.read(`${lab.monitor}/lag`);

export const strategyExercises = [
  {
    n: 9,
    title: 'Automatic pause and resume on downstream overload',
    summary: 'strategy 2: the consumer pauses itself while its downstream is slow, stays in the group, and resumes with hysteresis',
    async run(lab) {
      const { processing_time_ms: ms } = await lab.read(`${lab.consumer}/config`);
      lab.step('Auto-pause on, and a producer the consumer keeps up with');
      await lab.post(`${lab.consumer}/config`, { auto_pause: true });
      const load = { rate_ms: 1000, batch_size: 1 };
      await lab.post(`${lab.producer}/config`, { ...load, running: true });
      const { auto_pause: { thresholds: t } } = await lab.get(`${lab.consumer}/downstream`);
      lab.note(`pause at p50 >= ${t.pause_p50_ms} ms or errors >= ${t.pause_error_rate}; resume at p50 <= ${t.resume_p50_ms} ms and errors <= ${t.resume_error_rate} held for ${t.hold_ms} ms; window ${t.window_ms} ms, probes every ${t.probe_interval_ms} ms`);
      const before = await lab.read(`${lab.consumer}/stats`);

      const latency = 1500;
      lab.step(`The downstream slows to ${latency} ms per write`);
      const degraded = Date.now();
      await lab.post(`${lab.consumer}/downstream`, { latency_ms: latency });
      lab.curl('GET', `${lab.consumer}/stats`);
      let stats = null;
      await lab.waitFor('an automatic pause', 20_000, async () => {
        stats = await lab.read(`${lab.consumer}/stats`);
        return stats.paused_by === 'downstream';
      }, () => `paused_by ${stats?.paused_by}, downstream ${stats?.downstream.health.level}`);
      const pausedAfter = (Date.now() - degraded) / 1000;
      lab.note(`paused_by downstream after ${fmt(pausedAfter)} s (p50 ${stats.downstream.health.p50_latency_ms} ms, level ${stats.downstream.health.level})`);
      // No sooner than a write has been in flight for the pause mark; no later than the healthy
      // samples before it leave the window, plus the write in hand and a poll.
      lab.within('paused after', pausedAfter, {
        expected: `p50 of the ${t.window_ms / 1000} s window reaches ${t.pause_p50_ms} ms (writes take ${latency})`,
        lo: t.pause_p50_ms / 1000,
        hi: (t.window_ms + latency + ms) / 1000 + 1,
        unit: 's',
      });

      lab.step('While paused: lag grows at the producer\'s rate, the member stays');
      lab.curl('GET', `${lab.monitor}/lag`);
      let lag = null;
      await lab.waitFor('the monitor showing the paused partitions', 10_000, async () => {
        lag = await lagNow(lab);
        return (lag.paused_partitions?.downstream?.length ?? 0) === stats.assigned_partitions.length ? lag : null;
      }, () => `paused_partitions ${JSON.stringify(lag?.paused_partitions)}`);
      lab.note(`paused_partitions ${JSON.stringify(lag.paused_partitions)}, evaluation ${lag.evaluation.status}`);
      lab.check('monitor: paused by the downstream', `partitions ${stats.assigned_partitions.join(',')}`, (lag.paused_partitions.downstream ?? []).join(','), lag.paused_partitions.downstream.length === stats.assigned_partitions.length);
      const paused = await lab.measure(3);
      const rate = (load.batch_size * 1000) / load.rate_ms;
      lab.within('lag growth while paused', (paused.to.total_lag - paused.from.total_lag) / paused.seconds, { expected: `the producer's ${rate} msg/s, nothing consumed`, lo: rate * 0.5, hi: rate * 1.5, unit: 'msg/s' });
      // A pause never interrupts the batch in hand (one order here): that one may still commit.
      const committed = Math.round(paused.consumed * paused.seconds);
      lab.within('orders committed while paused', committed, { expected: 'none but the one in hand', lo: 0, hi: 1, digits: 0 });

      lab.step('The downstream recovers');
      const healed = Date.now();
      await lab.post(`${lab.consumer}/downstream`, { latency_ms: 0 });
      await lab.waitFor('an automatic resume', 30_000, async () => {
        stats = await lab.read(`${lab.consumer}/stats`);
        return !stats.paused;
      }, () => `paused_by ${stats?.paused_by}, p50 ${stats?.downstream.health.p50_latency_ms} ms`);
      const resumedAfter = (Date.now() - healed) / 1000;
      lab.note(`resumed ${fmt(resumedAfter)} s after the downstream recovered (auto_pauses ${stats.auto_pauses}, auto_resumes ${stats.auto_resumes})`);
      // Hysteresis: healthy probes must hold for hold_ms, after the slow samples have left the window.
      lab.within('resumed after', resumedAfter, {
        expected: `healthy for the ${t.hold_ms / 1000} s hold, once the slow probes left the ${t.window_ms / 1000} s window`,
        lo: t.hold_ms / 1000,
        hi: (t.hold_ms + t.window_ms + latency + 2 * t.probe_interval_ms) / 1000 + 1,
        unit: 's',
      });
      lab.check('one pause, one resume', 'auto_pauses +1, auto_resumes +1', `+${stats.auto_pauses - before.auto_pauses}, +${stats.auto_resumes - before.auto_resumes}`, stats.auto_pauses - before.auto_pauses === 1 && stats.auto_resumes - before.auto_resumes === 1);
      lab.check('Kafka\'s pause: the member stayed', 'same member id, rebalances +0', `${stats.member_id === before.member_id ? 'same member id' : 'a new member id'}, rebalances +${stats.rebalances - before.rebalances}`, stats.member_id === before.member_id && stats.rebalances === before.rebalances);
    },
  },
  {
    n: 10,
    title: 'Rate-limiting the producer',
    summary: 'strategy 4: at critical lag the producer slows itself to 0.8 x what the consumers do, and lag stops growing',
    async run(lab) {
      const { thresholds } = await lab.read(`${lab.monitor}/config`);
      const { processing_time_ms: ms } = await lab.read(`${lab.consumer}/config`);
      const capacity = 1000 / ms;
      lab.step('The throttle on, then 100 msg/s against 2 msg/s');
      const on = await lab.post(`${lab.producer}/throttle`, { enabled: true });
      const fraction = on.settings.fraction;
      lab.note(`mode ${on.mode}, fraction ${fraction}, reads ${on.lag_monitor.url} every ${on.settings.poll_ms} ms`);
      const t0 = Date.now();
      await lab.post(`${lab.producer}/config`, { rate_ms: 100, batch_size: 10, running: true });

      lab.step(`Watching the throttle until lag is critical (${thresholds.lag_critical})`);
      lab.curl('GET', `${lab.producer}/throttle`);
      let throttle = null;
      await lab.waitFor('the producer throttled', 30_000, async () => {
        throttle = await lab.read(`${lab.producer}/throttle`);
        return throttle.mode === 'throttled' ? throttle : null;
      }, () => `mode ${throttle?.mode}, lag ${throttle?.last_total_lag} ${throttle?.last_lag_status}`, 250);
      lab.note(`+${fmt((Date.now() - t0) / 1000)} s: ${throttle.mode} at ${throttle.limit_per_sec} msg/s (lag ${throttle.last_total_lag} ${throttle.last_lag_status}, consumers measured at ${throttle.last_consumption_rate} msg/s): ${throttle.reason}`);
      lab.check('throttled at critical', `critical (lag >= ${thresholds.lag_critical})`, `${throttle.last_lag_status} at lag ${throttle.last_total_lag}`, throttle.last_lag_status === 'critical' && throttle.last_total_lag >= thresholds.lag_critical);
      const limit = throttle.limit_per_sec;
      lab.within('limit', limit, { expected: `${fraction} x measured ${throttle.last_consumption_rate} msg/s = ${fmt(fraction * throttle.last_consumption_rate, 2)}`, lo: fraction * throttle.last_consumption_rate - 0.01, hi: fraction * throttle.last_consumption_rate + 0.01, unit: 'msg/s', digits: 2 });
      lab.within('measured consumption', throttle.last_consumption_rate, { expected: `1000 / ${ms} = ${fmt(capacity)} msg/s`, lo: capacity * 0.6, hi: capacity * 1.25, unit: 'msg/s' });

      lab.step('Throttled: what reaches Kafka, and the lag');
      // The first window after the switch still carries what was sent before it.
      await sleep(1000);
      const m = await lab.measure(5);
      lab.note(`over ${fmt(m.seconds)} s: produced ${fmt(m.produced, 2)} msg/s, consumed ${fmt(m.consumed, 2)} msg/s, lag ${m.from.total_lag} -> ${m.to.total_lag}`);
      // The bucket lets through at most half a second of the limit at once.
      lab.within('production', m.produced, { expected: `the limit, ${fmt(limit, 2)} msg/s, not the 100 asked`, lo: 0, hi: limit + (limit * 0.5 + 1) / m.seconds, unit: 'msg/s', digits: 2 });
      const growth = (m.to.total_lag - m.from.total_lag) / m.seconds;
      lab.within('lag growth', growth, { expected: `${fmt(limit, 2)} - ${fmt(capacity)} = ${fmt(limit - capacity, 2)} msg/s: not growing`, lo: -capacity * 1.25, hi: 0.5, unit: 'msg/s', digits: 2 });
      await lab.post(`${lab.producer}/stop`);
      await lab.post(`${lab.producer}/throttle`, { enabled: false });
    },
  },
  {
    n: 11,
    title: 'Dead letter queue',
    summary: 'strategy 5: poison orders are retried, then set aside on orders.dlq, and the partition moves on',
    async run(lab) {
      const config = await lab.get(`${lab.consumer}/config`);
      const { processing_time_ms: ms, dlq_max_retries: retries, dlq_retry_backoff_ms: backoff, dlq_topic: topic } = config;
      lab.note(`${ms} ms per order; a failing order is retried ${retries} times (backoff ${backoff} ms, doubling), then written to ${topic}`);
      const before = await lab.read(`${lab.consumer}/stats`);
      const { count: loggedBefore } = await lab.read(`${lab.consumer}/dead-letters`);

      const count = 10;
      const poison = 2;
      lab.step(`${count} orders, ${poison} of them poison`);
      const t0 = Date.now();
      await lab.post(`${lab.producer}/produce/batch?count=${count}&poison=${poison}`);
      lab.step('Watching lag until it is 0: the poison orders do not block their partitions');
      lab.curl('GET', `${lab.monitor}/lag`);
      const done = await lab.drained(30_000);
      const took = (Date.parse(done.timestamp) - t0) / 1000;
      const waits = Array.from({ length: retries }, (_, i) => Math.min(5000, backoff * 2 ** i)).reduce((a, b) => a + b, 0);
      const expected = (count * ms + poison * waits) / 1000;
      lab.within(`${count} orders, ${poison} retried`, took, {
        expected: `${count} x ${ms} ms + ${poison} x ${waits} ms of backoff = ${fmt(expected)} s`,
        lo: expected * 0.95,
        hi: expected + 2.5,
        unit: 's',
      });

      const after = await lab.get(`${lab.consumer}/stats`);
      lab.note(`processed +${after.processed - before.processed}, retries +${after.retries - before.retries}, dead_lettered +${after.dead_lettered - before.dead_lettered}`);
      lab.check('processed', `${count} - ${poison} = ${count - poison}`, `+${after.processed - before.processed}`, after.processed - before.processed === count - poison);
      lab.check('retries', `${poison} x ${retries} = ${poison * retries}`, `+${after.retries - before.retries}`, after.retries - before.retries === poison * retries);
      lab.check('dead-lettered', String(poison), `+${after.dead_lettered - before.dead_lettered}`, after.dead_lettered - before.dead_lettered === poison);

      const { dead_letters: letters, count: logged } = await lab.get(`${lab.consumer}/dead-letters`);
      const fresh = letters.filter((d) => Date.parse(d.dead_lettered_at) >= t0);
      for (const d of fresh) lab.note(`order ${d.order_id}: ${d.error}, ${d.attempts} attempts, from partition ${d.source_partition} offset ${d.source_offset}`);
      lab.check('GET /dead-letters', `${poison} new, each tried ${retries} + 1 = ${retries + 1} times`, `${logged - loggedBefore} new, attempts ${fresh.map((d) => d.attempts).join(', ')}`, fresh.length === poison && fresh.every((d) => d.attempts === retries + 1));
    },
  },
  {
    n: 12,
    title: 'Batch processing',
    summary: 'strategy 6: batch_size x 1000 / processing_ms: 10 per 200 ms is 50 msg/s, ten times one at a time',
    async run(lab) {
      const ms = 200;
      lab.step(`One at a time at ${ms} ms per message`);
      const single = await lab.post(`${lab.consumer}/config`, { processing_time_ms: ms, batch_size: 1 });
      const oneRate = 1000 / ms;
      lab.check('capacity, batch 1', `1 x 1000 / ${ms} = ${oneRate} msg/s`, `max_throughput_per_sec ${single.max_throughput_per_sec}`, single.max_throughput_per_sec === oneRate);
      const burst = await lab.post(`${lab.producer}/burst`, { count: 400, delay_ms: 0 });
      lab.note(`sent ${burst.sent} in ${fmt(burst.duration_ms / 1000)} s`);
      await lab.sample();
      const one = await lab.measure(3);
      lab.note(`consumed ${fmt(one.consumed)} msg/s over ${fmt(one.seconds)} s`);
      lab.within('one at a time', one.consumed, { expected: `${oneRate} msg/s`, lo: oneRate * 0.7, hi: oneRate * 1.15, unit: 'msg/s' });

      const size = 10;
      lab.step(`Batches of ${size}: one processing time, one sink write, one commit per batch`);
      const batch = await lab.post(`${lab.consumer}/config`, { batch_size: size });
      const batchRate = (size * 1000) / ms;
      lab.check('capacity, batch 10', `${size} x 1000 / ${ms} = ${batchRate} msg/s`, `max_throughput_per_sec ${batch.max_throughput_per_sec} (mode ${batch.mode})`, batch.max_throughput_per_sec === batchRate && batch.mode === 'batch');
      const before = await lab.read(`${lab.consumer}/stats`);
      await lab.sample();
      const many = await lab.measure(4);
      const after = await lab.read(`${lab.consumer}/stats`);
      const perBatch = (after.processed - before.processed) / (after.batches - before.batches);
      lab.note(`consumed ${fmt(many.consumed)} msg/s over ${fmt(many.seconds)} s; ${after.processed - before.processed} orders in ${after.batches - before.batches} batches`);
      lab.within(`batches of ${size}`, many.consumed, { expected: `${batchRate} msg/s`, lo: batchRate * 0.7, hi: batchRate * 1.15, unit: 'msg/s' });
      // Full batches while orders wait; the batch in hand at the switch may be a short one.
      lab.within('orders per batch', perBatch, { expected: `${size}: full batches while orders wait`, lo: size * 0.85, hi: size, unit: '' });
      lab.within('speed-up', many.consumed / one.consumed, { expected: `${size}x for the same work per batch`, lo: size * 0.65, hi: size * 1.4, unit: 'x' });
    },
  },
];
