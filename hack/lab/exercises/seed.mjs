// The README's exercises 1-8 (the seed lab's): each runs the README's commands, prints what it
// sees, and checks it against the arithmetic of "1000 ms / processing time = msg/s per consumer".
// Ranges: a lower bound where physics gives one (nothing drains faster than the consumers can
// process), an upper bound of the math plus what the measurement adds (the monitor samples once
// a second, a rebalance or a fetch takes a moment) and a margin for a busy 2-core machine.
import { sleep } from '../view.mjs';
import { fmt, NotReady } from './lab.mjs';

/** The lag monitor's poll interval and thresholds. */
const monitorConfig = (lab) => lab.read(`${lab.monitor}/config`);
const lagNow = (lab) => lab.read(`${lab.monitor}/lag`);

/** Seconds from `t0` (ms) to a monitor snapshot. */
const since = (t0, snapshot) => (Date.parse(snapshot.timestamp) - t0) / 1000;

/** The value of a metric in Prometheus text: its first series (the only one unless it has a partition label). */
function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}

export const seedExercises = [
  {
    n: 1,
    title: 'Baseline throughput',
    summary: 'one consumer: 1000 ms / 500 ms = 2 msg/s; 10 orders drain in about 5 s',
    async run(lab) {
      lab.step('What one consumer can do: one message at a time, 1000 ms / processing time');
      const config = await lab.get(`${lab.consumer}/config`);
      const ms = config.processing_time_ms;
      const rate = 1000 / ms;
      lab.note(`processing_time_ms ${ms}, max_throughput_per_sec ${config.max_throughput_per_sec}`);
      lab.check('capacity', `1000 / ${ms} ms = ${fmt(rate, 2)} msg/s`, `max_throughput_per_sec ${config.max_throughput_per_sec}`, Math.abs(config.max_throughput_per_sec - rate) < 0.01);
      const before = await lab.get(`${lab.monitor}/lag`);
      lab.check('lag before', '0', String(before.total_lag), before.total_lag === 0);

      lab.step('10 orders at once, then watch lag until it is 0');
      const count = 10;
      const t0 = Date.now();
      await lab.post(`${lab.producer}/produce/batch?count=${count}`);
      const { poll_interval_ms: poll } = await monitorConfig(lab);
      const done = await lab.drained(30_000);
      const took = since(t0, done);
      lab.note(`lag 0 in the monitor's sample ${fmt(took)} s after the orders were sent`);
      // The consumer handles them one after another: never faster than count / rate. The monitor
      // sees lag 0 up to one poll later; a fetch and the last commit add up to a second.
      const expected = count / rate;
      lab.within(`${count} orders at ${fmt(rate)} msg/s`, took, { expected: `about ${fmt(expected)} s (${count} / ${fmt(rate)})`, lo: expected * 0.95, hi: expected + poll / 1000 + 1.5, unit: 's' });
    },
  },
  {
    n: 2,
    title: 'Building up lag',
    summary: '100 msg/s against 2 msg/s: lag climbs through warning to critical',
    async run(lab) {
      const { thresholds, poll_interval_ms: poll } = await monitorConfig(lab);
      const { processing_time_ms: ms } = await lab.read(`${lab.consumer}/config`);
      const capacity = 1000 / ms;
      const load = { rate_ms: 100, batch_size: 10 };
      const asked = (load.batch_size * 1000) / load.rate_ms;

      lab.step(`The auto-producer at ${load.batch_size} orders every ${load.rate_ms} ms = ${asked} msg/s, against ${fmt(capacity)} msg/s of capacity`);
      const first = await lab.sample();
      const t0 = Date.now();
      await lab.post(`${lab.producer}/config`, { ...load, running: true });
      lab.step(`Watching lag until the status is critical (lag ${thresholds.lag_critical})`);
      lab.curl('GET', `${lab.monitor}/lag`);
      const seenStatus = [];
      const critical = await lab.waitFor('status critical', 30_000, async () => {
        const lag = await lab.sample();
        if (seenStatus.at(-1) !== lag.status) {
          seenStatus.push(lag.status);
          lab.note(`${fmt(since(t0, lag))} s: lag ${lag.total_lag}, ${lag.status}, rate_of_change ${fmt(lag.rate_of_change)}/s, produced ${fmt(lag.production_rate)}/s, consumed ${fmt(lag.consumption_rate)}/s`);
        }
        return lag.status === 'critical' ? lag : null;
      });
      await lab.post(`${lab.producer}/stop`);
      const took = since(t0, critical);
      const { produced, consumed } = lab.rates(first, critical);
      lab.note(`critical after ${fmt(took)} s at lag ${critical.total_lag}`);

      lab.check('status on the way', 'warning, then critical', seenStatus.join(' -> '), seenStatus.includes('warning') && seenStatus.at(-1) === 'critical');
      // The auto-producer never sends faster than asked; a busy machine can make it slower.
      lab.within('production rate', produced, { expected: `${asked} msg/s asked`, lo: asked * 0.6, hi: asked * 1.05, unit: 'msg/s' });
      lab.within('consumption rate', consumed, { expected: `${fmt(capacity)} msg/s (1000 / ${ms})`, lo: 0, hi: capacity * 1.25 + 0.5, unit: 'msg/s' });
      const net = produced - consumed;
      lab.within('rate_of_change', critical.rate_of_change, { expected: `produced - consumed = ${fmt(net)} msg/s`, lo: net * 0.75, hi: net * 1.25, unit: 'msg/s' });
      // Lag passes critical no sooner than critical / asked s; the monitor sees it up to a poll later.
      lab.within(`time to lag ${thresholds.lag_critical}`, took, {
        expected: `${thresholds.lag_critical} / ${fmt(net)} msg/s net = ${fmt(thresholds.lag_critical / net)} s`,
        lo: thresholds.lag_critical / asked,
        hi: thresholds.lag_critical / net + poll / 1000 + 1,
        unit: 's',
      });
    },
  },
  {
    n: 3,
    title: 'Detecting lag through metrics',
    summary: 'the monitor\'s Prometheus metrics, alerts and recommendations agree with /lag',
    async run(lab) {
      const { thresholds, poll_interval_ms: poll } = await monitorConfig(lab);
      lab.step('The lag metrics, idle');
      const idle = await lab.text(`${lab.monitor}/metrics`);
      const names = ['kafka_consumer_group_lag_total', 'kafka_consumer_group_lag', 'kafka_consumer_group_lag_seconds', 'kafka_lag_status', 'kafka_lag_rate_of_change'];
      const missing = names.filter((name) => metric(idle, name) === null);
      lab.note(names.map((name) => `${name} ${metric(idle, name)}`).join(', '));
      lab.check('lag metrics of the README', `all ${names.length} present`, missing.length ? `missing ${missing.join(', ')}` : `all ${names.length} present`, missing.length === 0);
      const partitionSeries = idle.split('\n').filter((l) => l.startsWith('kafka_consumer_group_lag{')).length;
      lab.check('lag series per partition', `${lab.partitions} (one per partition)`, String(partitionSeries), partitionSeries === lab.partitions);

      const count = thresholds.lag_warning + 50;
      lab.step(`Lag above the warning threshold (${thresholds.lag_warning}): consumer paused, ${count} orders`);
      await lab.post(`${lab.consumer}/pause`);
      const t0 = Date.now();
      await lab.post(`${lab.producer}/produce/batch?count=${count}`);
      const { produced } = await lab.read(`${lab.producer}/stats`);
      const waited = await lab.waitFor(`lag ${count} in the monitor`, 10_000, async () => {
        const lag = await lab.sample();
        return lag.partitions.reduce((sum, p) => sum + p.end_offset, 0) >= lab.base + produced && lag.total_lag === count ? lag : null;
      });
      await sleep(Math.max(0, 3000 - (Date.now() - t0)));
      const lag = await lab.sample();
      const metrics = await lab.text(`${lab.monitor}/metrics`);
      const total = metric(metrics, 'kafka_consumer_group_lag_total');
      const perPartition = metrics.split('\n').filter((l) => l.startsWith('kafka_consumer_group_lag{')).reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
      lab.note(`kafka_consumer_group_lag_total ${total}, sum over partitions ${perPartition}, kafka_lag_status ${metric(metrics, 'kafka_lag_status')}, kafka_consumer_group_lag_seconds ${metric(metrics, 'kafka_consumer_group_lag_seconds')}`);
      lab.check('kafka_consumer_group_lag_total', `${count} orders waiting`, String(total), total === count && waited.total_lag === count);
      lab.check('sum of kafka_consumer_group_lag{partition}', `the total, ${count}`, String(perPartition), perPartition === count);
      const level = metric(metrics, 'kafka_lag_status');
      lab.check('kafka_lag_status', `1 (warning: ${thresholds.lag_warning} <= ${count} < ${thresholds.lag_critical})`, String(level), level === 1);
      // How old the oldest waiting order is: it was sent at t0; the estimate is as coarse as a poll.
      // The estimate dates the orders by the last sample before them: up to a poll early.
      const age = since(t0, lag);
      lab.within('lag_seconds (oldest order\'s age)', lag.lag_seconds, { expected: `${fmt(age)} s since the orders were sent, up to a poll more`, lo: age - 0.5, hi: age + poll / 1000 + 0.5, unit: 's' });

      lab.step('Alerts (one per status change) and recommendations');
      const { alerts } = await lab.get(`${lab.monitor}/alerts?limit=5`);
      const newest = alerts[0];
      lab.note(newest ? `newest alert: ${newest.from} -> ${newest.to}: ${newest.message}` : 'no alerts');
      lab.check('newest alert', '-> warning, raised during this exercise', newest ? `${newest.from} -> ${newest.to} at +${fmt((Date.parse(newest.timestamp) - t0) / 1000)} s` : 'none', newest?.to === 'warning' && Date.parse(newest.timestamp) >= t0 - 1000);
      // The monitor learns of the pause from the consumer's commit metadata, or, failing that,
      // sees lag and no consumption once its rate window holds only paused time.
      lab.curl('GET', `${lab.monitor}/recommendations`);
      let advice = null;
      const resume = await lab.waitFor('advice to resume the paused consumer', 15_000, async () => {
        advice = await lab.read(`${lab.monitor}/recommendations`);
        return advice.recommendations.find((r) => /POST \/resume/.test(r.action));
      }, () => advice?.recommendations.map((r) => r.action).join('; '), 500);
      for (const r of advice.recommendations) lab.note(`${r.severity}: ${r.action} (${r.reason})`);
      lab.check('recommendation', 'resume the paused consumer (POST /resume)', `"${resume.action}" at +${fmt((Date.now() - t0) / 1000)} s`, true);
      await lab.post(`${lab.consumer}/resume`);
    },
  },
  {
    n: 4,
    title: 'Scaling consumers',
    summary: 'three consumers share the six partitions and consume three times as fast',
    scales: true,
    async run(lab) {
      const goal = 3;
      const { members } = await lagNow(lab);
      if (members >= goal) throw new NotReady(`exercise 4 adds consumers up to ${goal}; the group already has ${members}`);
      const { processing_time_ms: ms } = await lab.read(`${lab.consumer}/config`);
      const perConsumer = 1000 / ms;

      lab.step(`A backlog; then ${goal} consumers, and meanwhile what ${members} consumer(s) do with it`);
      await lab.post(`${lab.producer}/produce/batch?count=100`);
      lab.started.consumers = true;
      // The new consumers start once the script has checked Kafka (seconds of JVM start-up), so
      // the first seconds of its run still show the group as it was.
      const scaled = lab.target === 'cluster'
        ? lab.script(`make scale-manual REPLICAS=${goal}`, 'hack/deploy/scale-manual.sh', { REPLICAS: String(goal) })
        : lab.script(`make local-up CONSUMERS=${goal}`, 'hack/lab/local-up.sh', { CONSUMERS: String(goal), PROCESSING_MS: String(ms) });
      const [measured, up] = await Promise.allSettled([lab.measure(3), scaled]);
      if (up.status === 'rejected') throw up.reason;
      if (measured.status === 'rejected') throw measured.reason;
      const alone = measured.value;
      lab.note(`meanwhile ${alone.to.members} member(s) consumed ${fmt(alone.consumed)} msg/s over ${fmt(alone.seconds)} s`);
      if (alone.to.members !== members || alone.to.group_state !== 'Stable') lab.check('the group while measuring', `${members} member(s), Stable`, `${alone.to.members}, ${alone.to.group_state}`, false);
      lab.within(`${members} consumer(s)`, alone.consumed, { expected: `${members} x ${fmt(perConsumer)} = ${fmt(members * perConsumer)} msg/s`, lo: members * perConsumer * 0.7, hi: members * perConsumer * 1.15, unit: 'msg/s' });

      lab.curl('GET', `${lab.monitor}/lag`);
      const t0 = Date.now();
      let seen = null;
      await lab.waitFor(`the group at ${goal} members, rebalanced`, 30_000, async () => {
        seen = await lagNow(lab);
        return seen.members === goal && seen.group_state === 'Stable';
      }, () => `members ${seen?.members}, ${seen?.group_state}`);
      lab.note(`${goal} members, group Stable, ${fmt((Date.now() - t0) / 1000)} s after the start`);
      if (lab.target === 'local') {
        const urls = await lab.consumers();
        let shares = [];
        await lab.waitFor('every consumer with its share of partitions', 15_000, async () => {
          shares = await Promise.all(urls.map(async (url) => (await lab.read(`${url}/stats`)).assigned_partitions.length));
          return shares.reduce((a, b) => a + b, 0) === lab.partitions && shares.every((n) => n > 0);
        }, () => `partitions ${shares.join(', ')}`);
        for (const url of urls) {
          const s = await lab.read(`${url}/stats`);
          lab.note(`${s.consumer_id}: partitions ${s.assigned_partitions.join(',')}`);
        }
        const fair = lab.partitions / goal;
        lab.check('partitions per consumer', `${lab.partitions} / ${goal} = ${fair} each`, shares.join(', '), shares.length === goal && shares.every((n) => n === fair));
      }
      await lab.sample();
      const together = await lab.measure(3);
      lab.note(`consumed ${fmt(together.consumed)} msg/s over ${fmt(together.seconds)} s`);
      lab.within(`${goal} consumers`, together.consumed, { expected: `${goal} x ${fmt(perConsumer)} = ${fmt(goal * perConsumer)} msg/s`, lo: goal * perConsumer * 0.7, hi: goal * perConsumer * 1.15, unit: 'msg/s' });
      lab.within('speed-up', together.consumed / alone.consumed, { expected: `${goal} / ${members} = ${fmt(goal / members)}x`, lo: (goal / members) * 0.7, hi: (goal / members) * 1.4, unit: 'x' });
    },
  },
  {
    n: 5,
    title: 'Pause and resume',
    summary: 'a paused consumer stays in the group (no rebalance) while lag grows; resumed, it drains at 2 msg/s',
    async run(lab) {
      const { processing_time_ms: ms } = await lab.read(`${lab.consumer}/config`);
      const rate = 1000 / ms;
      lab.step('Pause consumer-1: the Kafka client\'s own pause');
      await lab.post(`${lab.consumer}/pause`);
      const health = await lab.get(`${lab.consumer}/health`);
      lab.check('GET /health paused', 'true', String(health.paused), health.paused === true);
      const before = await lab.read(`${lab.consumer}/stats`);

      const count = 100;
      lab.step(`A burst of ${count} orders while it is paused`);
      const t0 = Date.now();
      const burst = await lab.post(`${lab.producer}/burst`, { count, delay_ms: 10 });
      lab.note(`sent ${burst.sent} in ${fmt(burst.duration_ms / 1000)} s`);
      lab.curl('GET', `${lab.monitor}/lag`);
      const full = await lab.waitFor(`lag ${count}`, 10_000, async () => {
        const lag = await lab.sample();
        return lag.total_lag >= count ? lag : null;
      });
      await sleep(Math.max(0, 5000 - (Date.now() - t0)));
      const held = await lab.sample();
      const during = await lab.read(`${lab.consumer}/stats`);
      lab.note(`${fmt(since(t0, held))} s after the burst: lag ${held.total_lag}, members ${held.members}, consumer-1 processed +${during.processed - before.processed}`);
      lab.check('lag while paused', `${count}, nothing consumed`, `${full.total_lag}, then ${held.total_lag}`, full.total_lag === count && held.total_lag === count && during.processed === before.processed);
      lab.check('membership while paused', `still ${before.member_id.slice(0, 24)}..., no rebalance`, `members ${held.members}, rebalances +${during.rebalances - before.rebalances}`, held.members === 1 && during.member_id === before.member_id && during.rebalances === before.rebalances);

      lab.step('Resume, and watch it drain');
      await lab.post(`${lab.consumer}/resume`);
      await lab.sample();
      const drain = await lab.measure(4);
      lab.note(`lag ${drain.from.total_lag} -> ${drain.to.total_lag} in ${fmt(drain.seconds)} s`);
      lab.within('drain rate after resume', drain.consumed, { expected: `1000 / ${ms} = ${fmt(rate)} msg/s`, lo: rate * 0.7, hi: rate * 1.15, unit: 'msg/s' });
      const after = await lab.read(`${lab.consumer}/stats`);
      lab.check('rebalances over the whole exercise', '+0', `+${after.rebalances - before.rebalances}`, after.rebalances === before.rebalances && after.member_id === before.member_id);
    },
  },
  {
    n: 6,
    title: 'Processing time',
    summary: '50 ms per message = 20 msg/s, still short of 50 msg/s; 2000 ms = 0.5 msg/s',
    async run(lab) {
      const fast = 50;
      lab.step(`Fast mode: ${fast} ms per message`);
      const config = await lab.post(`${lab.consumer}/fast?time_ms=${fast}`);
      const rate = 1000 / fast;
      lab.check('capacity at 50 ms', `1000 / ${fast} = ${rate} msg/s`, `max_throughput_per_sec ${config.max_throughput_per_sec}`, config.max_throughput_per_sec === rate);

      const load = { rate_ms: 100, batch_size: 5 };
      const asked = (load.batch_size * 1000) / load.rate_ms;
      lab.step(`The producer at ${asked} msg/s: more than ${rate}`);
      await lab.post(`${lab.producer}/config`, { ...load, running: true });
      await sleep(1500);
      const m = await lab.measure(5);
      await lab.post(`${lab.producer}/stop`);
      lab.note(`over ${fmt(m.seconds)} s: produced ${fmt(m.produced)} msg/s, consumed ${fmt(m.consumed)} msg/s, lag ${m.from.total_lag} -> ${m.to.total_lag}`);
      lab.within('production rate', m.produced, { expected: `${asked} msg/s asked`, lo: asked * 0.6, hi: asked * 1.05, unit: 'msg/s' });
      // Each message also waits for its sink write and commit: a little under 1000 / 50.
      lab.within('consumption rate', m.consumed, { expected: `1000 / ${fast} = ${rate} msg/s`, lo: rate * 0.6, hi: rate * 1.1, unit: 'msg/s' });
      lab.note(`drain_status ${m.to.drain_status}: ${m.to.drain_reason}`);
      lab.check('drain status', `not_draining: ${asked} arrive, ${rate} can leave`, m.to.drain_status, m.to.drain_status === 'not_draining');

      const slow = 2000;
      lab.step(`Slow mode: ${slow} ms per message`);
      const slowConfig = await lab.post(`${lab.consumer}/slow?time_ms=${slow}`);
      lab.check('capacity at 2000 ms', `1000 / ${slow} = ${1000 / slow} msg/s`, `max_throughput_per_sec ${slowConfig.max_throughput_per_sec}`, slowConfig.max_throughput_per_sec === 1000 / slow);
    },
  },
  {
    n: 7,
    title: 'Burst detection and response',
    summary: '500 orders at once against 10 msg/s: lag, status, an alert, and advice with its arithmetic',
    async run(lab) {
      const { thresholds } = await monitorConfig(lab);
      const ms = 100;
      const rate = 1000 / ms;
      lab.step(`Consumer at ${ms} ms per message (${rate} msg/s), then a burst of 500`);
      await lab.post(`${lab.consumer}/fast?time_ms=${ms}`);
      const count = 500;
      const t0 = Date.now();
      const burst = await lab.post(`${lab.producer}/burst`, { count, delay_ms: 5 });
      lab.note(`sent ${burst.sent} in ${fmt(burst.duration_ms / 1000)} s`);
      const { produced } = await lab.read(`${lab.producer}/stats`);
      const lag = await lab.waitFor('the burst in the monitor', 10_000, async () => {
        const s = await lab.sample();
        return s.partitions.reduce((sum, p) => sum + p.end_offset, 0) >= lab.base + produced ? s : null;
      });
      lab.curl('GET', `${lab.monitor}/lag`);
      const elapsed = since(t0, lag);
      lab.note(`lag ${lag.total_lag}, ${lag.status}, lag_seconds ${fmt(lag.lag_seconds)}, ${fmt(elapsed)} s after the burst began`);
      // What arrived minus what one consumer at 10 msg/s took meanwhile; a consumer slowed by its
      // sink writes and its first fetch takes less, down to half of that on a busy machine.
      lab.within('lag after the burst', lag.total_lag, { expected: `${count} - ${rate} msg/s x ${fmt(elapsed)} s = ${Math.round(count - rate * elapsed)}`, lo: count - rate * elapsed - 10, hi: count - rate * 0.5 * elapsed, unit: '', digits: 0 });
      const expectStatus = lag.total_lag >= thresholds.lag_critical ? 'critical' : lag.total_lag >= thresholds.lag_warning ? 'warning' : 'ok';
      lab.check('status', `${expectStatus} (warning at ${thresholds.lag_warning}, critical at ${thresholds.lag_critical})`, lag.status, lag.status === expectStatus);

      const { alerts } = await lab.get(`${lab.monitor}/alerts?limit=1`);
      const alert = alerts[0];
      lab.note(alert ? `${alert.from} -> ${alert.to}: ${alert.message}` : 'no alert');
      lab.check('alert', `ok -> ${expectStatus} during the burst`, alert ? `${alert.from} -> ${alert.to} at +${fmt((Date.parse(alert.timestamp) - t0) / 1000)} s` : 'none', alert && Date.parse(alert.timestamp) >= t0 - 1000 && alert.to !== 'ok');

      // The advice sizes consumers by the per-consumer rate the monitor measured over the last
      // minute, whatever the processing time was then; the what-if below names it.
      lab.step('The advice, and the arithmetic behind it');
      const advice = await lab.get(`${lab.monitor}/recommendations`);
      for (const r of advice.recommendations) lab.note(`${r.severity}: ${r.action} (${r.reason})`);
      const drainSeconds = 10;
      const whatIf = (await lab.get(`${lab.monitor}/recommendations?production_rate=0&processing_ms=${ms}&drain_seconds=${drainSeconds}`)).what_if;
      lab.note(whatIf.reason);
      const exact = whatIf.inputs.backlog / drainSeconds / rate;
      // The kit's consumersNeeded forgives 10 % (CAPACITY_TOLERANCE) before rounding up.
      lab.within(`consumers to drain it in ${drainSeconds} s`, whatIf.consumers, {
        expected: `ceil(lag ${whatIf.inputs.backlog} / ${drainSeconds} s / ${rate} msg/s) = ${Math.min(lab.partitions, Math.ceil(exact))}`,
        lo: Math.min(lab.partitions, Math.ceil(exact - 0.1)),
        hi: Math.min(lab.partitions, Math.ceil(exact)),
        digits: 0,
      });
    },
  },
  {
    n: 8,
    title: 'Let the operator scale for you',
    summary: 'a burst of 500: the operator scales to the 6 partitions and the backlog drains six times as fast',
    scales: true,
    autoscaled: true,
    async run(lab) {
      const ms = 100;
      if (lab.target === 'local' && !lab.operatorRunning()) {
        lab.step('The operator, beside the running lab');
        lab.started.operator = true;
        await lab.script(`make local-up AUTOSCALE=1 PROCESSING_MS=${ms}`, 'hack/lab/local-up.sh', { AUTOSCALE: '1', PROCESSING_MS: String(ms), CONSUMERS: String(lab.liveConsumerPidFiles().size) });
      }
      const autoscaler = await lab.waitFor(`the operator on :${lab.ports.operator}`, 15_000, () => lab.autoscaler());
      if (autoscaler.spec.paused) throw new NotReady('the LagAutoscaler is paused: make scale-manual (no REPLICAS) resumes it');
      const { spec } = autoscaler;
      lab.note(`LagAutoscaler: lagThreshold ${spec.lagThreshold}, ${spec.minReplicas}..${spec.maxReplicas} replicas, scale-down window ${spec.scaleDown?.stabilizationWindowSeconds} s`);
      if (lab.target === 'local') await lab.allConsumers(`/fast?time_ms=${ms}`);
      const { processing_time_ms: now } = await lab.read(`${lab.consumer}/config`);
      const rate = 1000 / now;

      const count = 500;
      lab.step(`A burst of ${count} orders`);
      const t0 = Date.now();
      const burst = await lab.post(`${lab.producer}/burst`, { count, delay_ms: 5 });
      lab.note(`sent ${burst.sent} in ${fmt(burst.duration_ms / 1000)} s`);

      lab.step('Watching the operator scale');
      lab.curl('GET', `${lab.operator}/status`);
      const ceiling = Math.min(spec.maxReplicas, lab.partitions);
      let peak = 0;
      let decision = null;
      await lab.waitFor(`the operator scaling to ${ceiling}`, 20_000, async () => {
        const a = await lab.autoscaler();
        const current = a?.status?.currentReplicas ?? 0;
        if (current > peak) {
          peak = current;
          // The decision that scaled, if this status is still the one its reconcile wrote.
          if (a.status.lastDecision?.time === a.status.lastScaleTime) decision = a.status.lastDecision;
          lab.note(`+${fmt((Date.now() - t0) / 1000)} s: ${current} replicas (${a.status.lastDecision?.reason})`);
        }
        return peak >= ceiling;
      }, () => `at ${peak}`, 500);
      // The larger of the lag rule and the capacity rule, capped (the scaling decision has both).
      // The lag rule sizes for the lag expected once new consumers would be consuming, so at
      // least for the lag then. A later reconcile may have replaced the decision in the status
      // before it was read: then the burst itself, count / lagThreshold, is the lag rule's floor.
      if (decision) {
        const lagThenNeeds = Math.ceil(decision.inputs.totalLag / spec.lagThreshold);
        const wanted = Math.min(ceiling, Math.max(decision.lagReplicas, decision.capacityReplicas ?? 0));
        lab.check(
          'replicas',
          `max(lag rule ${decision.lagReplicas} (lag ${decision.inputs.totalLag} then needed ceil(/ ${spec.lagThreshold}) = ${lagThenNeeds}), capacity rule ${decision.capacityReplicas ?? 'n/a'}), at most ${ceiling} = ${wanted}`,
          String(peak),
          peak === wanted && decision.lagReplicas >= lagThenNeeds,
        );
      } else {
        const wanted = Math.min(ceiling, Math.ceil(count / spec.lagThreshold));
        lab.check('replicas', `the burst: ceil(${count} / ${spec.lagThreshold}) = ${Math.ceil(count / spec.lagThreshold)}, at most ${ceiling} = ${wanted}`, String(peak), peak === wanted);
      }

      lab.step(`${ceiling} consumers on the backlog`);
      lab.curl('GET', `${lab.monitor}/lag`);
      let seen = null;
      await lab.waitFor(`the group at ${ceiling} members, rebalanced`, 30_000, async () => {
        seen = await lagNow(lab);
        return seen.members === ceiling && seen.group_state === 'Stable';
      }, () => `members ${seen?.members}, ${seen?.group_state}`);
      lab.note(`${seen.members} members, group Stable, lag ${seen.total_lag}, ${fmt((Date.now() - t0) / 1000)} s after the burst began`);
      const together = await lab.measure(3);
      lab.note(`consumed ${fmt(together.consumed)} msg/s over ${fmt(together.seconds)} s, lag ${together.from.total_lag} -> ${together.to.total_lag}`);
      lab.within(`${ceiling} consumers`, together.consumed, { expected: `${ceiling} x 1000 / ${now} = ${fmt(ceiling * rate)} msg/s (one alone: ${fmt(rate)})`, lo: ceiling * rate * 0.6, hi: ceiling * rate * 1.15, unit: 'msg/s' });
      const left = together.to.total_lag;
      lab.note(`the ${left} left would take ${fmt(left / (ceiling * rate))} s at ${ceiling} x ${fmt(rate)} msg/s against ${fmt(left / rate)} s for one consumer`);
      lab.note(`the operator would return to ${spec.minReplicas} after its ${spec.scaleDown?.stabilizationWindowSeconds} s scale-down window; the exercise stops what it started now`);
    },
  },
];
