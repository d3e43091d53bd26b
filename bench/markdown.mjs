// The benchmark's results as Markdown: each goal of the performance issue beside what this run
// measured, and the autoscalers side by side on the cluster node. Written next to latest.json as
// latest.md; the README's performance section is a copy of it.
import { fmt, pm, sp } from './format.mjs';

const verdict = (met) => (met === null || met === undefined ? 'n/a' : met ? 'yes' : '**no**');

/** One row per goal: what it asks, what was measured, and whether the measurement meets it. */
function goalRows(r) {
  const rows = [];
  const a = r.autoscale?.summary;
  if (a) {
    rows.push(['One scale-up step per burst (bursts of 300-1000 over 0-3 s, 1 -> 6)', `${a.bursts}/${a.bursts}`, `${a.one_step}/${a.bursts}`, verdict(a.one_step === a.bursts)]);
    rows.push(['Burst to every new consumer consuming, local', '<= 3 s', pm(a.all_consuming_s, 1, ' s'), verdict(a.all_consuming_s.max <= 3)]);
    rows.push([
      'Drain / partition-bound ideal (fullest partition x processing)',
      '<= 1.3x',
      `${pm(a.drain_vs_partition_bound, 2, 'x')} (even-split ideal: ${pm(a.drain_vs_even, 2, 'x')})`,
      verdict(a.drain_vs_partition_bound.median <= 1.3),
    ]);
  }
  const ours = r.cluster?.runs?.ours;
  if (ours) rows.push(['Burst to every new consumer consuming, cluster node (pod start included)', '<= 6 s', `${fmt(ours.peak_members_consuming_s, 1)} s`, verdict(ours.peak_members_consuming_s <= 6)]);
  const c = r.consumer;
  if (c) {
    rows.push(['Consumer, one at a time, processing 0, vs kafka-consumer-perf-test', '>= 0.3x', `${fmt(c.ratio, 2)}x (${sp(c.ours.msg_per_sec)} vs ${sp(c.kafka.msg_per_sec)} msg/s)`, verdict(c.ratio >= 0.3)]);
    rows.push([`Consumer, batch ${c.batch_size}, vs kafka-consumer-perf-test`, '>= 0.5x', `${fmt(c.ratio_batch, 2)}x (${sp(c.ours_batch.msg_per_sec)} msg/s)`, verdict(c.ratio_batch >= 0.5)]);
  }
  const p = r.producer;
  if (p) rows.push(['Producer /burst vs kafka-producer-perf-test (both idempotent, acks=all)', '>= 0.7x', `${fmt(p.ratio, 2)}x (${sp(p.ours.msg_per_sec)} vs ${sp(p.kafka.msg_per_sec)} msg/s)`, verdict(p.ratio >= 0.7)]);
  const m = r.mixed;
  if (m?.summary) {
    const s = m.summary;
    rows.push([`Mixed load ${fmt(m.duration_s / 60, 0)} min: one step up per burst`, `${s.bursts}/${s.bursts}`, `${s.one_step_up}/${s.bursts}`, verdict(s.one_step_up === s.bursts)]);
    rows.push(['Mixed load: one step down per burst', `${s.bursts}/${s.bursts}`, `${s.one_step_down}/${s.bursts}`, verdict(s.one_step_down === s.bursts)]);
    rows.push([
      `Mixed load: at the steady need (${m.steady_need}) before the next burst`,
      `${s.bursts}/${s.bursts}`,
      `${s.at_steady_need_before_next}/${s.bursts}`,
      verdict(s.at_steady_need_before_next === s.bursts),
    ]);
    rows.push(['Mixed load: nothing lost', '0', `${fmt(m.lost)} of ${fmt(m.produced)}`, verdict(m.lost === 0)]);
  }
  const rss = peakRss(r);
  if (rss.length > 0) {
    const worst = Math.max(...rss.map(([, mib]) => mib));
    rows.push(['Peak RSS of every service under the bench load', '<= 100 MB', rss.map(([name, mib]) => `${name} ${fmt(mib)}`).join(', ') + ' MB', verdict(worst <= 100)]);
  }
  const slopes = memorySlopes(r);
  if (slopes.length > 0) {
    rows.push([
      'Flat memory over the mixed load (RSS slope over the second half)',
      'flat',
      slopes.map(([name, slope]) => `${name} ${fmt(slope, 2)}`).join(', ') + ' MB/min',
      verdict(slopes.every(([, slope]) => Math.abs(slope) < 0.5)),
    ]);
  }
  return rows;
}

/** Each service's highest VmHWM over every phase that ran it. */
function peakRss(r) {
  const peaks = new Map();
  const add = (name, mib) => {
    if (typeof mib === 'number') peaks.set(name, Math.max(peaks.get(name) ?? 0, mib));
  };
  add('producer', r.producer?.ours_rss_mib);
  add('consumer', r.consumer?.ours_rss_mib);
  add('lag monitor', r.consumer?.monitor_rss_mib);
  add('operator', r.autoscale?.operator_rss_mib);
  add('consumer', r.autoscale?.consumer_rss_mib);
  const services = r.mixed?.memory?.services ?? {};
  for (const [name, s] of Object.entries(services)) add(name.startsWith('consumer') ? 'consumer' : name.replace('-', ' '), s.rss?.peak_mib);
  return [...peaks.entries()].map(([name, mib]) => [name, Math.round(mib)]);
}

function memorySlopes(r) {
  const services = r.mixed?.memory?.services ?? {};
  return Object.entries(services)
    .filter(([, s]) => typeof s.rss?.second_half_slope_mib_per_min === 'number')
    .map(([name, s]) => [name, s.rss.second_half_slope_mib_per_min]);
}

function table(header, rows) {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

export function markdownReport(r) {
  const env = r.environment ?? {};
  const lines = [
    `Measured by \`make bench\` on ${r.started_at?.slice(0, 10) ?? '?'}: ${env.cpu ?? '?'}, ${env.cores ?? '?'} cores, ${env.memory_gib ?? '?'} GiB, ` +
      `Linux ${env.kernel ?? '?'}, Node ${env.node ?? '?'}, one Kafka ${env.kafka ?? '?'} broker on loopback; ratios against Kafka's own tools on the same broker in the same run.`,
    '',
    table(['goal', 'target', 'measured', 'met'], goalRows(r)),
  ];
  const kept = Object.entries(r).filter(([, part]) => part?.measured_at && part.measured_at !== r.started_at);
  if (kept.length > 0) lines.push('', `Kept from earlier runs on the same machine: ${kept.map(([name, part]) => `${name} (${part.measured_at.slice(0, 16).replace('T', ' ')} UTC)`).join(', ')}.`);
  const side = r.cluster?.side_by_side;
  if (side?.length) {
    const s = r.cluster.settings;
    lines.push(
      '',
      `On the real one-node cluster (Kubernetes ${s.kubernetes}), the same consumer Deployment (${s.processing_ms} ms per order, ${s.partitions} partitions) and the same burst of ${s.burst}, ` +
        `scaled once by our operator and once by KEDA ${s.keda_version} (ScaledObject lagThreshold ${s.keda.lagThreshold}, defaults otherwise); seconds from the burst:`,
      '',
      table(
        ['', 'ours', 'KEDA', 'KEDA / ours'],
        side.map((x) => [x.what, `${fmt(x.ours_s, 1)} s`, `${fmt(x.keda_s, 1)} s`, `${fmt(x.keda_over_ours, 1)}x`]),
      ),
      '',
      `Replica path: ours ${r.cluster.runs.ours.path}, KEDA ${r.cluster.runs.keda.path}.`,
    );
  }
  return `${lines.join('\n')}\n`;
}
