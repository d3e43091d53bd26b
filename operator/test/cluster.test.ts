import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  ApiException,
  ApiextensionsV1Api,
  AppsV1Api,
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { close, createApp, createLogger, listen } from '@bplab/kit';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Controller } from '../src/controller.js';
import { readLag } from '../src/metrics-source.js';
import { OperatorMetrics } from '../src/metrics.js';
import { operatorRoutes } from '../src/routes.js';
import type { AutoscalerStatus, Condition } from '../src/status.js';
import { CHART, render, type K8sObject } from '../../test/support/helm.js';
import { startCluster, type TestCluster } from './support/apiserver.js';

/*
 * The operator against a real kube-apiserver, etcd and kube-controller-manager (hack/testenv,
 * started on free loopback ports). The lag monitor is a STAND-IN: a tiny HTTP server in this file
 * serving /lag in the lag monitor's JSON shape with figures the test sets. Kafka is not involved.
 * The controller runs in this process with a ServiceAccount token bound only to the chart's Role
 * for the operator (helm/backpressure-lab/templates/operator.yaml, rendered by helm), so every test
 * here also shows that Role is enough.
 */

const NS = 'lab';
const GROUP = 'lab.backpressure.dev';
const VERSION = 'v1alpha1';
const PLURAL = 'lagautoscalers';
const PARTITIONS = 4;
const SCALE_DOWN_WINDOW_S = 4;

/** Stand-in for the lag monitor: serves GET /lag with the figures in `state`, timestamped now. */
class LagMonitorStandIn {
  state = { totalLag: 0, members: 1 };
  private server: Server | null = null;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      if (req.url !== '/lag') {
        res.writeHead(404).end();
        return;
      }
      const { totalLag, members } = this.state;
      const perPartition = Math.floor(totalLag / PARTITIONS);
      const partitions = Array.from({ length: PARTITIONS }, (_, partition) => {
        const lag = partition === 0 ? totalLag - perPartition * (PARTITIONS - 1) : perPartition;
        return { partition, end_offset: 1000 + lag, committed_offset: 1000, lag };
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          group: 'order-processors',
          topic: 'orders',
          total_lag: totalLag,
          partitions,
          partition_count: PARTITIONS,
          status: totalLag >= 500 ? 'critical' : totalLag >= 100 ? 'warning' : 'ok',
          rate_of_change: null,
          production_rate: null,
          consumption_rate: null,
          members,
          timestamp: new Date().toISOString(),
          stale: false,
        }),
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server!.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function statusCode(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

describe('operator against a real kube-apiserver', () => {
  let cluster: TestCluster;
  let role: K8sObject;
  let admin: { apps: AppsV1Api; core: CoreV1Api; custom: CustomObjectsApi };
  let operatorConfig: KubeConfig;
  let controller: Controller;
  let operatorHttp: Awaited<ReturnType<typeof listen>>;
  let operatorUrl: string;
  const lagMonitor = new LagMonitorStandIn();

  const replicas = async (name = 'consumer') =>
    (await admin.apps.readNamespacedDeploymentScale({ name, namespace: NS })).spec?.replicas;
  const autoscaler = async (name: string) =>
    (await admin.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: NS, name })) as {
      metadata: { generation: number };
      status?: AutoscalerStatus;
    };
  const condition = async (name: string, type: Condition['type']) =>
    (await autoscaler(name)).status?.conditions.find((c) => c.type === type);
  const patchSpec = (name: string, spec: Record<string, unknown>) =>
    admin.custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, plural: PLURAL, namespace: NS, name, body: { spec } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  const createAutoscaler = (name: string, spec: Record<string, unknown>, namespace = NS) =>
    admin.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace,
      fieldValidation: 'Strict',
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'LagAutoscaler', metadata: { name }, spec },
    });
  const baseSpec = () => ({
    scaleTargetRef: { name: 'consumer' },
    metricsSource: { url: `http://127.0.0.1:${lagMonitor.port}` },
    topic: 'orders',
    consumerGroup: 'order-processors',
  });
  /** Whether the operator's ServiceAccount may do this, as the apiserver's authorizer answers now. */
  const can = async (verb: string, resource: string, subresource?: string, group = 'apps', name?: string) =>
    (
      await operatorConfig.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { namespace: NS, verb, group, resource, ...(subresource ? { subresource } : {}), ...(name ? { name } : {}) } } },
      })
    ).status?.allowed;
  const eventReasons = async (name: string) =>
    (await admin.core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=${name}` })).items.map((e) => e.reason);

  beforeAll(async () => {
    cluster = await startCluster();
    const kc = cluster.kubeConfig;
    admin = { apps: kc.makeApiClient(AppsV1Api), core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi) };

    await cluster.kubectl(['apply', '-f', join(CHART, 'crds/lagautoscaler.yaml')]);
    await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=30s', `crd/${PLURAL}.${GROUP}`]);
    await cluster.kubectl(['create', 'namespace', NS]);
    await cluster.kubectl(['create', 'namespace', 'schema']);
    // The operator's ServiceAccount, Role and RoleBinding exactly as the chart renders them.
    const rbac = (await render(NS, [], [], ['--show-only', 'templates/operator.yaml'])).filter((o) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind));
    role = rbac.find((o) => o.kind === 'Role')!;
    await cluster.kubectl(['apply', '-n', NS, '-f', '-'], rbac.map((o) => JSON.stringify(o)).join('\n'));
    const tokenRequest = await admin.core.createNamespacedServiceAccountToken({
      name: 'lag-autoscaler',
      namespace: NS,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    operatorConfig = new KubeConfig();
    operatorConfig.loadFromOptions({
      clusters: [{ name: 'testenv', server: cluster.server, caData: cluster.caData }],
      users: [{ name: 'lag-autoscaler', token: tokenRequest.status!.token }],
      contexts: [{ name: 'operator', cluster: 'testenv', user: 'lag-autoscaler', namespace: NS }],
      currentContext: 'operator',
    });

    await admin.apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: 'consumer' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'consumer' } },
          template: { metadata: { labels: { app: 'consumer' } }, spec: { containers: [{ name: 'consumer', image: 'bplab/consumer:dev' }] } },
        },
      },
    });

    await lagMonitor.start();
    const registry = new Registry();
    const metrics = new OperatorMetrics(registry);
    const logger = createLogger('lag-autoscaler-test', process.env.LOG_LEVEL ?? 'silent');
    controller = new Controller({
      kubeConfig: operatorConfig,
      namespace: NS,
      readMetrics: (spec) => readLag(spec.metricsSource.url, spec, 1000),
      metrics,
      logger,
    });
    await controller.start();
    const health = () => ({ healthy: true, watching: controller.watching });
    operatorHttp = await listen(createApp({ logger, registry, health, routes: operatorRoutes(health, () => controller.views()) }), 0, logger);
    operatorUrl = `http://127.0.0.1:${(operatorHttp.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await controller?.stop();
    if (operatorHttp) await close(operatorHttp);
    await lagMonitor.stop();
    await cluster?.stop();
  });

  it('installs the CRD with its printer columns, and defaults every optional field', async () => {
    const crd = await cluster.kubeConfig.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: `${PLURAL}.${GROUP}` });
    const version = crd.spec.versions[0]!;
    expect(version.subresources?.status).toBeDefined();
    expect(version.additionalPrinterColumns?.map((c) => c.name)).toEqual(['Target', 'Lag', 'Replicas', 'Desired', 'Partitions', 'Age']);

    // In a namespace the operator does not watch: only the schema acts on it.
    const created = (await createAutoscaler('defaults', baseSpec(), 'schema')) as { spec: Record<string, unknown> };
    expect(created.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'consumer' },
      minReplicas: 1,
      maxReplicas: 10,
      allowIdleConsumers: false,
      lagThreshold: 100,
      targetDrainSeconds: 30,
      pollIntervalSeconds: 5,
      scaleUp: { stabilizationWindowSeconds: 0, periodSeconds: 15 },
      scaleDown: { stabilizationWindowSeconds: 30, periodSeconds: 15 },
      paused: false,
    });
  });

  it('rejects invalid specs with the schema', async () => {
    const invalid: [string, Record<string, unknown>, RegExp][] = [
      ['no target', { ...baseSpec(), scaleTargetRef: undefined }, /spec.scaleTargetRef: Required value/],
      ['minReplicas 0', { ...baseSpec(), minReplicas: 0 }, /spec.minReplicas/],
      ['min above max', { ...baseSpec(), minReplicas: 5, maxReplicas: 2 }, /minReplicas must not exceed maxReplicas/],
      ['lagThreshold 0', { ...baseSpec(), lagThreshold: 0 }, /spec.lagThreshold/],
      ['not an http URL', { ...baseSpec(), metricsSource: { url: 'kafka://broker' } }, /spec.metricsSource.url/],
      ['a StatefulSet', { ...baseSpec(), scaleTargetRef: { name: 'c', kind: 'StatefulSet' } }, /spec.scaleTargetRef.kind/],
      ['poll interval 0', { ...baseSpec(), pollIntervalSeconds: 0 }, /spec.pollIntervalSeconds/],
      ['negative window', { ...baseSpec(), scaleDown: { stabilizationWindowSeconds: -1 } }, /stabilizationWindowSeconds/],
      ['unknown field', { ...baseSpec(), maxReplica: 3 }, /unknown field .{0,2}spec\.maxReplica/],
    ];
    for (const [what, spec, message] of invalid) {
      const error = await createAutoscaler(`bad-${what.replace(/\W+/g, '-').toLowerCase()}`, spec, 'schema').then(
        () => null,
        (err: unknown) => err,
      );
      expect(error, what).toBeInstanceOf(ApiException);
      expect([400, 422], what).toContain(statusCode(error));
      expect(String((error as ApiException<string>).body), what).toMatch(message);
    }
  });

  it('scales up to the partition count as lag grows and back to min after it drains, with stabilisation', async () => {
    // The lag is there before the autoscaler: its first decision has no sample before it, so no
    // growth is projected and the plain lag rule sizes it. (A jump between two samples would read
    // as growth and be projected over the scale-up lead: decide's unit tests cover that.)
    lagMonitor.state.totalLag = 250;
    const created = Date.now();
    await createAutoscaler('consumer', {
      ...baseSpec(),
      minReplicas: 1,
      maxReplicas: 10,
      lagThreshold: 100,
      pollIntervalSeconds: 1,
      scaleDown: { stabilizationWindowSeconds: SCALE_DOWN_WINDOW_S },
    });
    // Lag 250 / threshold 100 -> 3 replicas. Measured: from the autoscaler's creation to the patch seen.
    await vi.waitFor(async () => expect(await replicas()).toBe(3), { timeout: 10_000, interval: 50 });
    console.log(`reaction time, autoscaler created on lag 250 to Deployment scaled: ${Date.now() - created} ms (poll interval 1 s)`);
    // The status follows the patch.
    await vi.waitFor(
      async () => {
        expect((await condition('consumer', 'MetricsAvailable'))?.status).toBe('True');
        expect((await autoscaler('consumer')).status!.lastDecision).toMatchObject({ rule: 'lag', desiredReplicas: 3 });
      },
      { timeout: 5_000, interval: 100 },
    );
    // kube-controller-manager acts on the patched Deployment: the ReplicaSet follows.
    await vi.waitFor(
      async () => {
        const sets = await admin.apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: 'app=consumer' });
        expect(sets.items[0]?.spec?.replicas).toBe(3);
      },
      { timeout: 10_000, interval: 200 },
    );

    // Lag 1000 would need 10: capped at 4 partitions, never above.
    lagMonitor.state.totalLag = 1000;
    await vi.waitFor(async () => expect(await replicas()).toBe(PARTITIONS), { timeout: 10_000, interval: 50 });
    await vi.waitFor(
      async () => {
        const status = (await autoscaler('consumer')).status!;
        expect(status.lastDecision?.inputs.totalLag).toBe(1000);
        // The CRD's status schema keeps the decision's values (a field it lacks would be pruned; a
        // null one is dropped by the merge patch).
        expect(status.lastDecision).toMatchObject({ rule: 'lag', limitedBy: 'partitions' });
        expect(status.lastDecision?.heldBy).toBeUndefined();
        expect(status).toMatchObject({ currentReplicas: PARTITIONS, desiredReplicas: PARTITIONS, partitions: PARTITIONS });
        expect(status.conditions.find((c) => c.type === 'ScalingLimited')).toMatchObject({ status: 'True', reason: 'PartitionCount' });
      },
      { timeout: 10_000, interval: 200 },
    );
    const before = (await autoscaler('consumer')).status!.lastDecision!.time;
    await vi.waitFor(async () => expect((await autoscaler('consumer')).status!.lastDecision!.time > before).toBe(true), { timeout: 5_000, interval: 200 });
    expect(await replicas()).toBe(PARTITIONS);

    // Drained: down to min only after the scale-down window (highest recommendation in it).
    lagMonitor.state.totalLag = 0;
    const drained = Date.now();
    await vi.waitFor(async () => expect(await replicas()).toBe(1), { timeout: 20_000, interval: 100 });
    const downAfterMs = Date.now() - drained;
    console.log(`scale-down after drain: ${downAfterMs} ms (window ${SCALE_DOWN_WINDOW_S} s)`);
    expect(downAfterMs).toBeGreaterThanOrEqual((SCALE_DOWN_WINDOW_S - 1) * 1000);

    await vi.waitFor(async () => expect(await eventReasons('consumer')).toEqual(expect.arrayContaining(['ScaledUp', 'ScaledDown'])), {
      timeout: 5_000,
      interval: 200,
    });
    const status = (await autoscaler('consumer')).status!;
    expect(status.lastScaleTime).toBeDefined();
    expect(status.observedGeneration).toBe((await autoscaler('consumer')).metadata.generation);

    const metricsText = await (await fetch(`${operatorUrl}/metrics`)).text();
    expect(metricsText).toMatch(/lag_autoscaler_current_replicas\{namespace="lab",name="consumer"[^}]*\} 1/);
    expect(metricsText).toMatch(/lag_autoscaler_scale_events_total\{namespace="lab",name="consumer",direction="up"[^}]*\} 2/);
    expect(metricsText).toMatch(/lag_autoscaler_reconcile_duration_seconds_count/);
    const views = (await (await fetch(`${operatorUrl}/status`)).json()) as { name: string; status: AutoscalerStatus }[];
    expect(views.find((v) => v.name === 'consumer')?.status.currentReplicas).toBe(1);
    expect((await fetch(`${operatorUrl}/healthz`)).status).toBe(200);
  });

  it('respects min and max, and picks up a spec change at once', async () => {
    lagMonitor.state.totalLag = 0;
    await patchSpec('consumer', { minReplicas: 2, maxReplicas: 3 });
    const generation = (await autoscaler('consumer')).metadata.generation;
    await vi.waitFor(async () => expect(await replicas()).toBe(2), { timeout: 5_000, interval: 50 });
    lagMonitor.state.totalLag = 5000;
    await vi.waitFor(async () => expect(await replicas()).toBe(3), { timeout: 5_000, interval: 50 });
    await vi.waitFor(
      async () => {
        const status = (await autoscaler('consumer')).status!;
        expect(status.observedGeneration).toBe(generation);
        expect(status.conditions.find((c) => c.type === 'ScalingLimited')).toMatchObject({ status: 'True', reason: 'TooManyReplicas' });
      },
      { timeout: 5_000, interval: 200 },
    );
    lagMonitor.state.totalLag = 0;
    await vi.waitFor(async () => expect(await replicas()).toBe(2), { timeout: 15_000, interval: 100 });
    await vi.waitFor(
      async () => expect((await condition('consumer', 'ScalingLimited'))).toMatchObject({ status: 'True', reason: 'TooFewReplicas' }),
      { timeout: 5_000, interval: 200 },
    );
  });

  it('holds and sets MetricsAvailable=False while the lag monitor is down', async () => {
    lagMonitor.state.totalLag = 5000;
    await vi.waitFor(async () => expect(await replicas()).toBe(3), { timeout: 5_000, interval: 50 });
    await lagMonitor.stop();
    await vi.waitFor(
      async () => expect(await condition('consumer', 'MetricsAvailable')).toMatchObject({ status: 'False', reason: 'MetricsUnavailable' }),
      { timeout: 10_000, interval: 200 },
    );
    // Well past the scale-down window with no metrics: still held at 3.
    const held = (await autoscaler('consumer')).status!.lastDecision!.time;
    await vi.waitFor(
      async () => {
        const status = (await autoscaler('consumer')).status!;
        expect(Date.parse(status.lastDecision!.time) - Date.parse(held)).toBeGreaterThanOrEqual((SCALE_DOWN_WINDOW_S + 1) * 1000);
        expect(status.lastDecision).toMatchObject({ reason: 'metrics unavailable', heldBy: 'metricsUnavailable' });
      },
      { timeout: 15_000, interval: 500 },
    );
    expect(await replicas()).toBe(3);
    expect(await eventReasons('consumer')).toContain('MetricsUnavailable');

    lagMonitor.state.totalLag = 0;
    await lagMonitor.start();
    await vi.waitFor(async () => expect((await condition('consumer', 'MetricsAvailable'))?.status).toBe('True'), { timeout: 10_000, interval: 200 });
  });

  it('reports a target outside its Role, and stops the loop when its LagAutoscaler is deleted', async () => {
    // The chart's Role names the consumer Deployment only: any other target is refused with 403.
    await createAutoscaler('ghost', { ...baseSpec(), scaleTargetRef: { name: 'no-such-deployment' }, pollIntervalSeconds: 1 });
    await vi.waitFor(
      async () => expect(await condition('ghost', 'AbleToScale')).toMatchObject({ status: 'False', reason: 'TargetForbidden' }),
      { timeout: 10_000, interval: 200 },
    );
    expect(controller.views().map((v) => v.name)).toContain('ghost');
    await admin.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: NS, name: 'ghost' });
    await vi.waitFor(() => expect(controller.views().map((v) => v.name)).not.toContain('ghost'), { timeout: 10_000, interval: 100 });
  });

  it('recovers after the apiserver crashes and restarts', async () => {
    await vi.waitFor(async () => expect(await replicas()).toBe(2), { timeout: 15_000, interval: 100 });
    lagMonitor.state.totalLag = 5000;
    const { stopMs, startMs } = await cluster.restartApiserver();
    const upAt = Date.now();
    console.log(`apiserver restart: stopped in ${stopMs} ms, up again in ${startMs} ms`);
    // The lag rose while the apiserver was away: the loop's backoff ends and it scales to max 3.
    await vi.waitFor(async () => expect(await replicas()).toBe(3), { timeout: 40_000, interval: 200 });
    console.log(`after the apiserver came back: scaled within ${Date.now() - upAt} ms`);
    // The watch is back too: a spec change still reaches the loop.
    const patched = Date.now();
    await patchSpec('consumer', { maxReplicas: 4 });
    await vi.waitFor(async () => expect(await replicas()).toBe(4), { timeout: 40_000, interval: 200 });
    console.log(`spec change after the restart applied in ${Date.now() - patched} ms`);
  });

  it('needs no more than its Role: broader verbs are denied to its ServiceAccount', async () => {
    const apps = operatorConfig.makeApiClient(AppsV1Api);
    const core = operatorConfig.makeApiClient(CoreV1Api);
    const denied = async (call: () => Promise<unknown>) => statusCode(await call().then(() => null, (err: unknown) => err));
    expect(await denied(() => apps.deleteNamespacedDeployment({ name: 'consumer', namespace: NS }))).toBe(403);
    expect(await denied(() => core.listNamespacedSecret({ namespace: NS }))).toBe(403);
    expect(await denied(() => apps.patchNamespacedDeployment(
      { name: 'consumer', namespace: NS, body: { spec: { replicas: 9 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    ))).toBe(403);
    expect(await denied(() => apps.readNamespacedDeploymentScale({ name: 'consumer', namespace: 'default' }))).toBe(403);

    expect(await can('patch', 'deployments', 'scale', 'apps', 'consumer')).toBe(true);
    expect(await can('patch', 'deployments', 'scale', 'apps', 'producer')).toBe(false);
    expect(await can('update', 'deployments', 'scale', 'apps', 'consumer')).toBe(false);
    expect(await can('delete', 'lagautoscalers', undefined, GROUP)).toBe(false);
    expect(await can('update', 'lagautoscalers', undefined, GROUP)).toBe(false);
    // And the apiserver takes the token the controller runs with for the ServiceAccount itself.
    const review = await operatorConfig.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe(`system:serviceaccount:${NS}:lag-autoscaler`);
  });

  it('writes a refused spec\'s status once the apiserver takes it: a failed write is retried, not forgotten', async () => {
    const applyRole = (rules: { resources: string[] }[]) => cluster.kubectl(['apply', '-n', NS, '-f', '-'], JSON.stringify({ ...role, rules }));
    await applyRole(role.rules.filter((rule: { resources: string[] }) => !rule.resources.includes('lagautoscalers/status')));
    await vi.waitFor(async () => expect(await can('patch', 'lagautoscalers', 'status', GROUP)).toBe(false), { timeout: 10_000, interval: 100 });
    try {
      // The apiserver stores any int64; a JavaScript number holds integers exactly only up to
      // 2^53 - 1, so the operator refuses this spec that the schema lets through.
      await createAutoscaler('refused', { ...baseSpec(), lagThreshold: 2 ** 53 });
      await vi.waitFor(() => expect(controller.views().find((v) => v.name === 'refused')).toMatchObject({ invalid: expect.stringMatching(/spec\.lagThreshold/) }), {
        timeout: 10_000,
        interval: 100,
      });
      expect((await autoscaler('refused')).status).toBeUndefined();
    } finally {
      await applyRole(role.rules);
    }
    // Nothing about the object changes from here: only a retry of the failed write can set this.
    await vi.waitFor(
      async () => expect(await condition('refused', 'AbleToScale')).toMatchObject({ status: 'False', reason: 'InvalidSpec', message: expect.stringMatching(/spec\.lagThreshold/) }),
      { timeout: 20_000, interval: 200 },
    );
  });
});
