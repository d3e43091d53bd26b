import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PROCESSING_MS,
  TEST_SETS,
  getJson,
  isLive,
  isReady,
  kubectl,
  ms,
  ordersAndProcessed,
  paths,
  portForward,
  postJson,
  settle,
  startApiProxy,
  type Pod,
} from './support.js';

/*
 * The LagAutoscaler operator scaling real consumer pods on the real node: a burst of 500 against
 * consumers at 100 ms per message (1 -> 6 -> 1), measured from the burst; then the same with the
 * operator pod deleted mid-burst and a consumer pod force-deleted mid-drain. Orders are checked
 * end to end: every id in topic orders is in orders.processed.
 */

const GROUP = 'order-processors';
const WINDOW_S = Number(TEST_SETS.find((s) => s.startsWith('autoscaler.scaleDownWindowSeconds='))!.split('=')[1]);

interface Sample {
  t: number;
  replicas: number;
  pods: Pod[];
  operatorPods: Pod[];
  lag: any | null;
  las: any;
}

let api: Awaited<ReturnType<typeof startApiProxy>>;
let pf: Awaited<ReturnType<typeof portForward>>;
let lagUrl = '';
let producerUrl = '';

/**
 * Samples the consumer Deployment, its pods, the operator's pods, the LagAutoscaler and the lag
 * monitor's /lag four times a second (through kubectl proxy and the port-forward), so every
 * milestone of a burst gets a time without a kubectl process per look.
 */
class Recorder {
  readonly samples: Sample[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor() {
    this.loop = (async () => {
      while (!this.stopped) {
        const t = Date.now();
        try {
          const [deployment, pods, operatorPods, las, lag] = await Promise.all([
            api.get(paths.deployment('consumer')),
            api.get<{ items: Pod[] }>(paths.pods('consumer')),
            api.get<{ items: Pod[] }>(paths.pods('lag-autoscaler')),
            api.get(paths.autoscaler),
            getJson(`${lagUrl}/lag`).catch(() => null),
          ]);
          this.samples.push({ t, replicas: deployment.spec.replicas, pods: pods.items, operatorPods: operatorPods.items, lag, las });
        } catch {
          // a failed look is a gap in the record, not a failure of the lab
        }
        await sleep(Math.max(0, 250 - (Date.now() - t)));
      }
    })();
  }

  first(pred: (s: Sample) => boolean, after = 0): Sample | undefined {
    return this.samples.find((s) => s.t >= after && pred(s));
  }

  /** Polls the record until a sample after `after` satisfies pred; returns that sample. */
  async until(what: string, pred: (s: Sample) => boolean, after: number, timeout = 180_000): Promise<Sample> {
    await expect.poll(() => this.first(pred, after) !== undefined, { timeout, interval: 200, message: what }).toBe(true);
    return this.first(pred, after)!;
  }

  get latest(): Sample {
    return this.samples.at(-1)!;
  }

  /** When each consumer pod was first seen, first Running and first Ready. */
  podTimes(): Map<string, { seen: number; running?: number; ready?: number; pod: Pod }> {
    const times = new Map<string, { seen: number; running?: number; ready?: number; pod: Pod }>();
    for (const s of this.samples) {
      for (const pod of s.pods) {
        const entry = times.get(pod.metadata.name) ?? { seen: s.t, pod };
        entry.pod = pod;
        if (entry.running === undefined && pod.status.containerStatuses?.every((c) => c.state.running)) entry.running = s.t;
        if (entry.ready === undefined && isReady(pod)) entry.ready = s.t;
        times.set(pod.metadata.name, entry);
      }
    }
    return times;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

const livePods = (s: Sample) => s.pods.filter(isLive);
const readyPods = (s: Sample) => livePods(s).filter(isReady);
const endOffsets = (lag: any) => (lag?.partitions ?? []).reduce((sum: number, p: { end_offset: number }) => sum + p.end_offset, 0);
/**
 * The operator patches the scale, then writes its status: the pods can be back to one before the
 * status records the scale-down. Records on until the status has it too (a decision made after
 * `sixSeen`, when 6 replicas were first seen, for desired 1).
 */
const statusScaledDown = (r: Recorder, sixSeen: number, after: number) =>
  r.until('the LagAutoscaler status recording the scale-down', (s) => s.las.status?.desiredReplicas === 1 && Date.parse(s.las.status?.lastScaleTime ?? '') > sixSeen, after, 30_000);
const scaleTimes = (r: Recorder, after: number) => [...new Set(r.samples.map((s) => s.las.status?.lastScaleTime as string | undefined).filter((t): t is string => !!t && Date.parse(t) >= after))];
const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;

/** Group members as Kafka reports them: kafka-consumer-groups.sh --describe --members in the broker's pod. */
async function groupMembers(): Promise<{ host: string; clientId: string; partitions: number }[]> {
  const out = await kubectl(['exec', 'kafka-0', '--', 'kafka-consumer-groups.sh', '--bootstrap-server', 'localhost:9092', '--describe', '--members', '--group', GROUP]);
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[0] === GROUP && cols[2]?.startsWith('/'))
    .map((cols) => ({ host: cols[2]!.slice(1), clientId: cols[3]!, partitions: Number(cols[4]) }));
}

/**
 * Each pod's working set from the kubelet's /stats/summary (through the apiserver's node proxy),
 * waiting up to 15 s until it covers `consumers` consumer pods; a pod without stats yet maps to 0.
 */
async function memoryOfPods(consumers: number): Promise<Map<string, number>> {
  const read = async () => {
    const summary = await api.get(paths.statsSummary());
    return new Map<string, number>(summary.pods.filter((p: any) => p.podRef.namespace === 'backpressure-lab').map((p: any) => [p.podRef.name, p.memory?.workingSetBytes ?? 0]));
  };
  const deadline = Date.now() + 15_000;
  let pods = await read();
  while ([...pods].filter(([name, bytes]) => name.startsWith('consumer-') && bytes > 0).length < consumers && Date.now() < deadline) {
    await sleep(1000);
    pods = await read();
  }
  return pods;
}

/** Every order Kafka acknowledged is in orders.processed; returns the counts for the report. */
async function expectNothingLost(): Promise<{ produced: number; processed: number; duplicates: number }> {
  const { produced, processed } = await ordersAndProcessed();
  const done = new Set(processed.map((p) => p.order_id));
  const missing = produced.filter((id) => !done.has(id));
  expect(missing, `${missing.length} of ${produced.length} orders never processed`).toEqual([]);
  return { produced: produced.length, processed: processed.length, duplicates: processed.length - done.size };
}

beforeAll(async () => {
  api = await startApiProxy();
  await settle(api);
  pf = await portForward();
  lagUrl = `http://localhost:${pf.ports[8010]}`;
  producerUrl = `http://localhost:${pf.ports[8000]}`;
  // The consumers run at the tests' processing time (make up's HELM_ARGS).
  expect((await getJson(`http://localhost:${pf.ports[8001]}/config`)).processing_time_ms).toBe(PROCESSING_MS);
});
afterAll(async () => {
  await pf?.stop();
  api?.stop();
});

describe('autoscaling with real pods', () => {
  it('a burst of 500 at 100 ms: the operator scales 1 -> 6, six members drain it, and it returns to 1 after the window', async () => {
    await expect.poll(async () => (await getJson(`${lagUrl}/lag`)).total_lag, { timeout: 60_000 }).toBe(0);
    const endBefore = endOffsets(await getJson(`${lagUrl}/lag`));
    const rec = new Recorder();
    try {
      const t0 = Date.now();
      const burst = await postJson(`${producerUrl}/burst`, { count: 500, delay_ms: 5 });
      expect(burst).toMatchObject({ sent: 500 });
      // The fullest partition right after the burst, from the first /lag that holds all of it.
      const afterBurst = await rec.until('the lag monitor sees the whole burst', (s) => endOffsets(s.lag) >= endBefore + 500, t0, 30_000);
      const fullest = Math.max(...afterBurst.lag.partitions.map((p: { lag: number }) => p.lag));

      const patched = await rec.until('the operator patches the Deployment', (s) => s.replicas > 1, t0);
      const six = await rec.until('6 replicas', (s) => s.replicas === 6, t0);
      const running = await rec.until('6 consumer pods Running', (s) => livePods(s).filter((p) => p.status.containerStatuses?.every((c) => c.state.running)).length === 6, t0);
      const ready = await rec.until('6 consumer pods Ready', (s) => readyPods(s).length === 6, t0);
      const members = await rec.until('6 members in a stable group', (s) => s.lag?.members === 6 && s.lag?.group_state === 'Stable', t0);
      // Kafka's own view, while six run: one member per consumer pod, one partition each.
      const kafkaView = await groupMembers();
      const podIps = readyPods(rec.latest).map((p) => p.status.podIP).sort();
      const drained = await rec.until('lag 0 with the whole burst in the end offsets', (s) => s.lag?.total_lag === 0 && endOffsets(s.lag) >= endBefore + 500, t0);
      // Memory as the kubelet reports it, once its stats cover the six consumers (it samples a
      // new container within its housekeeping interval, about 10 s).
      const summary = await memoryOfPods(6);
      const back = await rec.until(`back to 1 pod after the ${WINDOW_S} s window`, (s) => s.replicas === 1 && livePods(s).length === 1, drained.t);
      await statusScaledDown(rec, six.t, back.t);
      await rec.stop();

      expect(Math.max(...rec.samples.map((s) => s.replicas))).toBe(6);
      expect(kafkaView.map((m) => m.host).sort()).toEqual(podIps);
      expect(kafkaView.map((m) => m.partitions)).toEqual([1, 1, 1, 1, 1, 1]);
      expect(new Set(kafkaView.map((m) => m.clientId)).size).toBe(6);
      // The operator made the change: its status records the scale, its events name it.
      const scales = scaleTimes(rec, t0 - 1000);
      expect(scales.length).toBeGreaterThanOrEqual(2);
      const events = (await api.get<{ items: any[] }>(paths.events)).items.filter((e) => e.involvedObject.kind === 'LagAutoscaler' && Date.parse(e.lastTimestamp) >= t0 - 1000);
      expect(events.map((e) => e.reason)).toEqual(expect.arrayContaining(['ScaledUp', 'ScaledDown']));
      expect(events.find((e) => e.reason === 'ScaledUp' && / to 6:/.test(e.message))).toBeDefined();
      const lost = await expectNothingLost();

      // The measurements, from the burst's start.
      const ideal = afterBurst.t - t0 + fullest * PROCESSING_MS;
      const times = rec.podTimes();
      const fresh = [...times.values()].filter((p) => Date.parse(p.pod.metadata.creationTimestamp) >= t0 - 1000);
      const firstScale = Date.parse(scales[0]!);
      console.log(`[measure] burst of 500 (delay 5 ms) against consumers at ${PROCESSING_MS} ms/message; operator poll 2 s; times from the burst's start:`);
      console.log(`[measure]   burst sent in ${ms(t0, t0 + burst.duration_ms)}; the monitor saw all of it at ${ms(t0, afterBurst.t)}, fullest partition ${fullest} orders (per partition: ${afterBurst.lag.partitions.map((p: any) => p.lag).join(' ')})`);
      console.log(`[measure]   to the scale patch: ${ms(t0, firstScale)} (operator's lastScaleTime; scale patches at ${scales.map((s) => ms(t0, Date.parse(s))).join(', ')}); replicas > 1 seen ${ms(t0, patched.t)}, 6 replicas seen ${ms(t0, six.t)}`);
      console.log(`[measure]   to the new pods Running: ${ms(t0, running.t)}; Ready: ${ms(t0, ready.t)}`);
      console.log(`[measure]   to the new members consuming (6 members, group Stable): ${ms(t0, members.t)}`);
      console.log(`[measure]   to the drain: ${ms(t0, drained.t)}; partition-bound ideal ${ms(t0, t0 + ideal)} (monitor's sample at ${ms(t0, afterBurst.t)} + ${fullest} x ${PROCESSING_MS} ms): ${(((drained.t - t0) / ideal) * 100).toFixed(0)}% of ideal`);
      console.log(`[measure]   back to 1 pod: ${ms(t0, back.t)} (${ms(drained.t, back.t)} after the drain; window ${WINDOW_S} s)`);
      for (const p of fresh) {
        const ready = p.pod.status.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;
        console.log(
          `[measure]   pod ${p.pod.metadata.name}: created -> Ready ${ready && isReady(p.pod) ? ms(Date.parse(p.pod.metadata.creationTimestamp), Date.parse(ready)) : 'n/a'} (kubelet timestamps, 1 s resolution); seen -> Running ${ms(p.seen, p.running)}, seen -> Ready ${ms(p.seen, p.ready)} (polled)`,
        );
      }
      const memory = [...summary].map(([name, bytes]) => `${name} ${bytes ? mib(bytes) : 'n/a'}`).sort();
      console.log(`[measure]   memory at the drain (kubelet /stats/summary, working set): ${memory.join(', ')}`);
      console.log(`[measure]   orders: ${lost.produced} produced in total, all processed (${lost.duplicates} processed twice)`);
    } finally {
      await rec.stop();
    }
  });

  it('faults: the operator pod deleted mid-burst and a consumer pod force-deleted mid-drain; scaling goes on, no order lost', async () => {
    await settle(api);
    await expect.poll(async () => (await getJson(`${lagUrl}/lag`)).total_lag, { timeout: 60_000 }).toBe(0);
    const endBefore = endOffsets(await getJson(`${lagUrl}/lag`));
    const oldOperator = (await api.get<{ items: Pod[] }>(paths.pods('lag-autoscaler'))).items.filter(isLive);
    expect(oldOperator).toHaveLength(1);
    const rec = new Recorder();
    try {
      const t0 = Date.now();
      let burstDone = 0;
      const burst = postJson(`${producerUrl}/burst`, { count: 1500, delay_ms: 5 }).then((b) => ((burstDone = Date.now()), b));
      // Mid-burst: the operator's pod goes (a normal delete; Recreate starts a new one after it).
      await rec.until('the first orders of the burst in Kafka', (s) => endOffsets(s.lag) > endBefore, t0, 30_000);
      const operatorDeleted = Date.now();
      await kubectl(['delete', 'pod', oldOperator[0]!.metadata.name, '--wait=false']);
      const gone = await rec.until('the old operator pod gone', (s) => !s.operatorPods.some((p) => p.metadata.name === oldOperator[0]!.metadata.name), operatorDeleted, 60_000);
      expect(burstDone === 0 || burstDone > operatorDeleted, 'the operator pod was deleted while the burst was being sent').toBe(true);
      const newOperator = await rec.until('a new operator pod Ready', (s) => s.operatorPods.some((p) => p.metadata.name !== oldOperator[0]!.metadata.name && isReady(p)), gone.t, 120_000);

      // Mid-drain: six consumers and lag left; one of them is force-deleted.
      const six = await rec.until('6 consumer pods Ready and members', (s) => readyPods(s).length === 6 && s.lag?.members === 6, t0);
      expect(six.lag.total_lag).toBeGreaterThan(0);
      const victim = readyPods(six)[0]!.metadata.name;
      const forced = Date.now();
      await kubectl(['delete', 'pod', victim, '--grace-period=0', '--force']);
      const lagAtForce = rec.latest.lag?.total_lag;
      expect(lagAtForce, 'lag left when the consumer pod was force-deleted').toBeGreaterThan(0);
      const replaced = await rec.until(
        'a replacement consumer pod Ready, 6 members again',
        (s) => readyPods(s).length === 6 && !s.pods.some((p) => p.metadata.name === victim) && s.lag?.members === 6,
        forced,
      );
      expect(await burst).toMatchObject({ sent: 1500 });
      const drained = await rec.until('lag 0 with the whole burst in the end offsets', (s) => s.lag?.total_lag === 0 && endOffsets(s.lag) >= endBefore + 1500, forced);
      // Only the new operator runs now: the scale-down after the window is its patch.
      const back = await rec.until(`back to 1 pod after the ${WINDOW_S} s window`, (s) => s.replicas === 1 && livePods(s).length === 1, drained.t);
      expect(rec.first((s) => s.replicas === 6, t0)).toBeDefined();
      await statusScaledDown(rec, six.t, back.t);
      await rec.stop();

      // Once the old pod is gone, every scale patch is the new operator's (Recreate: never two).
      const replicasWhenGone = gone.replicas;
      const scalesByNew = scaleTimes(rec, gone.t);
      const upByNew = rec.first((s) => s.replicas > replicasWhenGone, gone.t);
      if (replicasWhenGone < 6) expect(upByNew, 'a scale-up by the new operator').toBeDefined();
      expect(scalesByNew.length, 'scale patches after the old operator pod was gone').toBeGreaterThanOrEqual(replicasWhenGone < 6 ? 2 : 1);
      const lost = await expectNothingLost();
      console.log(`[measure] faults, burst of 1500 (delay 5 ms) at ${PROCESSING_MS} ms/message, times from the burst's start:`);
      const newSeen = rec.first((s) => s.operatorPods.some((p) => p.metadata.name !== oldOperator[0]!.metadata.name), t0);
      console.log(
        `[measure]   operator pod deleted at ${ms(t0, operatorDeleted)} (replicas then ${rec.first((s) => s.t >= operatorDeleted)?.replicas}), gone at ${ms(t0, gone.t)} (replicas ${replicasWhenGone}), new one created at ${ms(t0, newSeen?.t)}, Ready at ${ms(t0, newOperator.t)}; burst sent at ${ms(t0, burstDone)}`,
      );
      console.log(`[measure]   6 replicas and members at ${ms(t0, six.t)}; consumer ${victim} force-deleted at ${ms(t0, forced)} with lag ${lagAtForce}; replacement Ready and 6 members at ${ms(t0, replaced.t)}`);
      console.log(`[measure]   drained at ${ms(t0, drained.t)}; back to 1 pod at ${ms(t0, back.t)}; scale patches by the new operator at ${scalesByNew.map((s) => ms(t0, Date.parse(s))).join(', ')}`);
      console.log(`[measure]   orders: ${lost.produced} produced in total, all processed (${lost.duplicates} processed twice, redelivered after the forced delete or a rebalance)`);
    } finally {
      await rec.stop();
    }
  });
});
