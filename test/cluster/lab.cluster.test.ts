import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CHART,
  OPERATOR_SA,
  PROCESSING_MS,
  RELEASE,
  helm,
  isLive,
  isReady,
  kubectl,
  kubectlStatus,
  make,
  paths,
  portForward,
  readTopic,
  settle,
  sh,
  startApiProxy,
  type Pod,
} from './support.js';

/*
 * The lab as `make up CLUSTER=local` deployed it on the real one-node cluster (the cluster
 * project's global setup): every pod Ready under the restricted Pod Security level, the seed's
 * exercises 1 and 5 through `make port-forward` and the README's own curl lines, the operator's
 * least privilege, and a `helm upgrade` that leaves the operator's replica count alone.
 */

let api: Awaited<ReturnType<typeof startApiProxy>>;
beforeAll(async () => {
  api = await startApiProxy();
  await settle(api);
});
afterAll(() => api?.stop());

/** Messages per second from processing timestamps: (n - 1) intervals over first..last. */
function rateOf(timestamps: string[]): number {
  const times = timestamps.map((t) => Date.parse(t)).sort((a, b) => a - b);
  return (times.length - 1) / ((times.at(-1)! - times[0]!) / 1000);
}

describe('the lab on the local node', () => {
  it('every pod is Ready and restricted; the namespace enforces the restricted level', async () => {
    const ns = await api.get(`/api/v1/namespaces/backpressure-lab`);
    expect(ns.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });

    const pods = (await api.get<{ items: Pod[] }>(`/api/v1/namespaces/backpressure-lab/pods`)).items;
    const live = pods.filter(isLive);
    const components = live.map((p) => p.metadata.labels['app.kubernetes.io/component']).sort();
    expect(components).toEqual(['consumer', 'kafka', 'lag-autoscaler', 'lag-monitor', 'producer']);
    for (const pod of live) expect(isReady(pod), `${pod.metadata.name} Ready`).toBe(true);
    // The topic Job's pod too, which ran to completion.
    expect(pods.filter((p) => p.status.phase === 'Succeeded').map((p) => p.metadata.labels['app.kubernetes.io/component'])).toContain('kafka-topics');
    for (const pod of pods) {
      expect(pod.spec.securityContext, pod.metadata.name).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
      for (const container of pod.spec.containers) {
        expect(container.securityContext, pod.metadata.name).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      }
    }

    // The admission really enforces it: a pod with no security context is refused.
    const refused = await kubectlStatus(['run', 'pss-probe', '--image=localhost/bplab/kafka:4.3.1', '--image-pull-policy=Never', '--restart=Never', '--dry-run=server', '--command', '--', 'sleep', '1']);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/violates PodSecurity "restricted:latest"/);

    // And the processes run as uid 1000 on a read-only root filesystem.
    const probe = "console.log(process.getuid()); try { require('fs').writeFileSync('/probe', 'x'); console.log('writable') } catch (e) { console.log(e.code) }";
    for (const deployment of ['producer', 'consumer', 'lag-monitor', 'lag-autoscaler']) {
      expect((await kubectl(['exec', `deploy/${deployment}`, '--', 'node', '-e', probe])).trim().split('\n'), deployment).toEqual(['1000', 'EROFS']);
    }
    expect(await kubectl(['exec', 'kafka-0', '--', 'cat', '/proc/self/status'])).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
  });

  it('make status prints the pods and their images, the lag and the LagAutoscaler with its conditions', async () => {
    const out = await make('status');
    for (const image of ['localhost/bplab/producer:', 'localhost/bplab/consumer:', 'localhost/bplab/lag-monitor:', 'localhost/bplab/operator:', 'localhost/bplab/kafka:4.3.1']) {
      expect(out).toContain(image);
    }
    expect(out).toMatch(/total lag \d+ \((ok|warning|critical)\), members 1/);
    expect(out).toMatch(/per partition: p0=\d+ p1=\d+ p2=\d+ p3=\d+ p4=\d+ p5=\d+/);
    expect(out).toMatch(/consumer\s+consumer\s+\d+\s+1\s+1\s+6/);
    expect(out).toMatch(/AbleToScale=True/);
    expect(out).toMatch(/MetricsAvailable=True MetricsRead/);
  });
});

describe('seed exercises through make port-forward and the README curl lines', () => {
  let pf: Awaited<ReturnType<typeof portForward>>;
  const line = (l: string) => sh(l, pf.ports);
  const json = async (l: string) => JSON.parse(await line(l));

  beforeAll(async () => {
    // One consumer, as the local lab's exercises have, and no autoscaler moving it.
    await make('scale-manual', { REPLICAS: '1' });
    pf = await portForward();
    // The seed's consumer starts at 500 ms per message; the tests' lab at 100 ms (exercise 6's line).
    await vi.waitFor(async () => expect(await json(`curl -s -X POST 'localhost:8001/slow?time_ms=500'`)).toMatchObject({ processing_time_ms: 500 }), { timeout: 30_000, interval: 500 });
  });
  afterAll(async () => {
    // Back to the tests' processing time: this pod may be the one the next file starts from.
    if (pf) await json(`curl -s -X POST 'localhost:8001/fast?time_ms=${PROCESSING_MS}'`);
    await pf?.stop();
    await make('scale-manual');
  });

  it('exercise 1: 10 orders drain at about 2 msg/s (1000 ms / 500 ms)', async () => {
    expect(await json('curl -s localhost:8001/config | jq')).toMatchObject({ processing_time_ms: 500, max_throughput_per_sec: 2, paused: false });
    await expect.poll(() => line('curl -s localhost:8010/lag | jq .total_lag'), { timeout: 60_000, interval: 500 }).toBe('0');
    const before = new Set((await readTopic<{ order_id: string }>('orders.processed')).map((p) => p.order_id));

    expect(await json(`curl -s -X POST 'localhost:8000/produce/batch?count=10'`)).toMatchObject({ sent: 10 });
    // The README's "sleep 2; ..." line, polled: the monitor sees the batch as lag ...
    await expect
      .poll(async () => (await json(`curl -s localhost:8010/lag | jq '{total_lag, status, rate_of_change}'`)).total_lag, { timeout: 30_000, interval: 250 })
      .toBeGreaterThan(0);
    // ... and then lag 0 again.
    await expect.poll(() => line('curl -s localhost:8010/lag | jq .total_lag'), { timeout: 60_000, interval: 500 }).toBe('0');

    const fresh = (await readTopic<{ order_id: string; processed_at: string }>('orders.processed')).filter((p) => !before.has(p.order_id));
    expect(fresh).toHaveLength(10);
    const rate = rateOf(fresh.map((p) => p.processed_at));
    console.log(`[measure] exercise 1 in the cluster: 10 orders processed at ${rate.toFixed(2)} msg/s (local lab: 1.7 < rate <= 2.05)`);
    expect(rate).toBeGreaterThan(1.7);
    expect(rate).toBeLessThanOrEqual(2.05);
  });

  it('exercise 5: a paused consumer keeps its membership while lag builds, and drains after resume', async () => {
    expect(await json(`curl -s -X POST 'localhost:8001/fast?time_ms=20'`)).toMatchObject({ processing_time_ms: 20 });
    await expect.poll(() => line('curl -s localhost:8010/lag | jq .total_lag'), { timeout: 60_000, interval: 500 }).toBe('0');
    const before = await json('curl -s localhost:8001/stats');

    expect(await json('curl -s -X POST localhost:8001/pause')).toMatchObject({ paused: true });
    expect(await line('curl -s localhost:8001/health | jq .paused')).toBe('true');
    expect(await json(`curl -s -X POST localhost:8000/burst -H 'Content-Type: application/json' -d '{"count": 100, "delay_ms": 10}'`)).toMatchObject({ sent: 100 });
    await expect
      .poll(
        async () => {
          const lag = await json(`curl -s localhost:8010/lag | jq '{total_lag, members}'`);
          expect(lag.members).toBe(1);
          return lag.total_lag;
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBe(100);

    expect(await json('curl -s -X POST localhost:8001/resume')).toMatchObject({ paused: false });
    await expect.poll(() => line(`curl -s localhost:8010/lag | jq -c "{total_lag, status}"`), { timeout: 60_000, interval: 500 }).toBe('{"total_lag":0,"status":"ok"}');
    const after = await json('curl -s localhost:8001/stats');
    expect(after.member_id).toBe(before.member_id);
    expect(after.rebalances).toBe(before.rebalances);
    expect(after.processed).toBeGreaterThanOrEqual(before.processed + 100);
  });

  // The runner against the cluster: the seed's baseline, the dead letter queue (the chart's
  // orders.dlq topic and the consumer's DLQ settings) and batch mode, each checked by its math.
  it.each(['1', '11', '12'])('make exercise %s passes against the cluster through make port-forward', async (n) => {
    const out = await make('exercise', { N: n }, pf.env);
    expect(out).toMatch(/against the cluster through make port-forward/);
    expect(out).toMatch(new RegExp(`^PASS exercise ${n}: `, 'm'));
  });
});

describe('access control and helm upgrade', () => {
  it("the operator's ServiceAccount can scale the consumer Deployment in its namespace and nothing else", async () => {
    // Held at 1 (autoscaler paused), so that the count below can only have come from these requests.
    await make('scale-manual', { REPLICAS: '1' });
    const can = async (verbAndResource: string[], namespace = 'backpressure-lab') =>
      (await kubectlStatus(['auth', 'can-i', ...verbAndResource, `--as=${OPERATOR_SA}`, '--namespace', namespace])).out.trim();
    expect(await can(['patch', 'deployments.apps/consumer', '--subresource=scale'])).toBe('yes');
    expect(await can(['get', 'deployments.apps/consumer', '--subresource=scale'])).toBe('yes');
    expect(await can(['patch', 'deployments.apps/producer', '--subresource=scale'])).toBe('no');
    expect(await can(['patch', 'deployments.apps/consumer'])).toBe('no');
    expect(await can(['delete', 'deployments.apps/consumer'])).toBe('no');
    expect(await can(['delete', 'pods'])).toBe('no');
    expect(await can(['get', 'secrets'])).toBe('no');
    expect(await can(['patch', 'deployments.apps/consumer', '--subresource=scale'], 'default')).toBe('no');
    expect(await can(['patch', 'deployments.apps/consumer', '--subresource=scale'], 'kube-system')).toBe('no');

    // The same through real requests as that ServiceAccount (server-side dry runs: authorized, admitted, not stored).
    const asOperator = (namespace: string, deployment: string) =>
      kubectlStatus(['--namespace', namespace, `--as=${OPERATOR_SA}`, 'patch', 'deployment', deployment, '--subresource=scale', '--type=merge', '-p', '{"spec":{"replicas":2}}', '--dry-run=server']);
    expect(await asOperator('backpressure-lab', 'consumer')).toMatchObject({ code: 0, out: expect.stringMatching(/scale.autoscaling\/consumer patched/) });
    expect((await asOperator('backpressure-lab', 'producer')).out).toMatch(/forbidden/i);
    expect((await asOperator('default', 'consumer')).out).toMatch(/forbidden/i);
    const deployment = await api.get(paths.deployment('consumer'));
    expect(deployment.spec.replicas).toBe(1);
  });

  it('helm upgrade --set autoscaler.lagThreshold changes the LagAutoscaler and leaves the replica count alone', async () => {
    await make('scale-manual', { REPLICAS: '3' });
    const before = await api.get(paths.deployment('consumer'));
    const podsBefore = (await api.get<{ items: Pod[] }>(paths.pods('consumer'))).items.filter(isLive).map((p) => p.metadata.name).sort();
    expect(before.spec.replicas).toBe(3);
    expect(podsBefore).toHaveLength(3);
    const lagThreshold = (await api.get(paths.autoscaler)).spec.lagThreshold;
    expect(lagThreshold).not.toBe(77);

    // Paused stays true through the upgrade: helm would set it back to the chart's value.
    await helm(['upgrade', RELEASE, CHART, '--reuse-values', '--set', 'autoscaler.lagThreshold=77', '--set', 'autoscaler.paused=true']);
    const las = await api.get(paths.autoscaler);
    expect(las.spec).toMatchObject({ lagThreshold: 77, paused: true });
    const after = await api.get(paths.deployment('consumer'));
    expect(after.spec.replicas).toBe(3);
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect((await api.get<{ items: Pod[] }>(paths.pods('consumer'))).items.filter(isLive).map((p) => p.metadata.name).sort()).toEqual(podsBefore);

    await helm(['upgrade', RELEASE, CHART, '--reuse-values', '--set', `autoscaler.lagThreshold=${lagThreshold}`, '--set', 'autoscaler.paused=false']);
    expect((await api.get(paths.autoscaler)).spec).toMatchObject({ lagThreshold, paused: false });
    await settle(api);
  });
});
