import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { startCluster, type TestCluster } from '../../operator/test/support/apiserver.js';
import { CHART, helm, helmBinary, KUBE_VERSION, RELEASE, render as renderIn, renderText as renderTextIn, valueArgs, type K8sObject } from '../support/helm.js';
import { REPO } from '../support/paths.js';

/*
 * The Helm chart helm/backpressure-lab: helm lint and helm template for the default values and
 * every value set in its ci/, then every rendered object against a real kube-apiserver
 * (hack/testenv, free loopback ports) with the chart's CRD and Strimzi's CRDs applied: a
 * server-side dry-run of each object, each pod template as a Pod in a namespace that enforces the
 * restricted Pod Security level, the operator's Role through access reviews, and a real
 * `helm install` + `helm upgrade` that leaves the operator's replica count alone. No kubelet:
 * nothing here runs a pod.
 */

const NS = 'backpressure-lab';
const CI_SETS = readdirSync(join(CHART, 'ci')).filter((f) => f.endsWith('.yaml')).sort();
/** Each value set as helm -f arguments; "default" is values.yaml alone. */
const VALUE_SETS: { name: string; files: string[] }[] = [
  { name: 'default', files: [] },
  ...CI_SETS.map((f) => ({ name: `ci/${f}`, files: [join(CHART, 'ci', f)] })),
];
/** Strimzi 1.2's CRDs, kept beside the repository as test data (../shared/crds/README.md). */
const STRIMZI_CRDS = join(REPO, '../shared/crds/strimzi');
/** prometheus-operator v0.93.0's CRDs (ServiceMonitor, PrometheusRule, ...), likewise. */
const PROMETHEUS_OPERATOR_CRDS = join(REPO, '../shared/crds/prometheus-operator');
const PROVIDER_SETS = ['ci/strimzi-values.yaml', 'ci/plain-values.yaml', 'ci/external-values.yaml'];
const render = (files: string[], sets: string[] = [], namespace = NS) => renderIn(namespace, files, sets);
const renderText = (files: string[], sets: string[] = [], namespace = NS) => renderTextIn(namespace, files, sets);

const setFiles = (name: string) => VALUE_SETS.find((s) => s.name === name)!.files;
const find = (objects: K8sObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} in ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
};
const envOf = (workload: K8sObject): Record<string, string> =>
  Object.fromEntries(
    (workload.spec.template.spec.containers[0].env as { name: string; value?: string; valueFrom?: unknown }[]).map((e) => [
      e.name,
      e.value ?? JSON.stringify(e.valueFrom),
    ]),
  );
const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'Job'];

/** Each workload's pod template as a Pod, so that Pod Security admission judges it. */
function podsOf(objects: K8sObject[]): K8sObject[] {
  return objects
    .filter((o) => WORKLOAD_KINDS.includes(o.kind))
    .map((o) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${o.kind.toLowerCase()}-${o.metadata.name}`, labels: o.spec.template.metadata?.labels },
      spec: o.spec.template.spec,
    }));
}

const toStream = (objects: K8sObject[]) => objects.map((o) => JSON.stringify(o)).join('\n---\n');

beforeAll(async () => {
  await helmBinary();
}, 900_000);

describe('helm/backpressure-lab, rendered', () => {
  it.each(VALUE_SETS)('$name: helm lint --strict passes and helm template renders', async ({ files }) => {
    const lint = await helm(['lint', CHART, '--strict', '--namespace', NS, '--kube-version', KUBE_VERSION, ...valueArgs(files)]);
    expect(lint).toContain('0 chart(s) failed');
    const objects = await render(files);
    for (const name of ['producer', 'consumer', 'lag-monitor', 'lag-autoscaler']) {
      const deployment = find(objects, 'Deployment', name);
      const service = find(objects, 'Service', name);
      const port = deployment.spec.template.spec.containers[0].ports[0];
      expect(port.name).toBe('http');
      expect(service.spec.ports).toEqual([{ name: 'http', port: port.containerPort, targetPort: 'http' }]);
    }
    expect(find(objects, 'Service', 'producer').spec.ports[0].port).toBe(8000);
    expect(find(objects, 'Service', 'consumer').spec.ports[0].port).toBe(8001);
    expect(find(objects, 'Service', 'lag-monitor').spec.ports[0].port).toBe(8010);
    expect(find(objects, 'Service', 'lag-autoscaler').spec.ports[0].port).toBe(8020);
  });

  it.each(VALUE_SETS)('$name: the consumer Deployment leaves its replica count to the operator', async ({ files }) => {
    const consumer = find(await render(files), 'Deployment', 'consumer');
    expect(consumer.spec).not.toHaveProperty('replicas');
  });

  it.each(VALUE_SETS)('$name: every container is restricted, probed, limited, read-only with emptyDirs', async ({ files }) => {
    for (const workload of (await render(files)).filter((o) => WORKLOAD_KINDS.includes(o.kind))) {
      const pod = workload.spec.template.spec;
      expect(pod.securityContext, workload.metadata.name).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 1000,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      for (const container of pod.containers) {
        expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(container.resources.limits.memory, workload.metadata.name).toBeDefined();
        for (const mount of container.volumeMounts) {
          const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
          expect(volume.emptyDir, `${workload.metadata.name} ${mount.mountPath}`).toBeDefined();
        }
        if (workload.kind !== 'Job') expect(container.readinessProbe && container.livenessProbe, workload.metadata.name).toBeTruthy();
      }
    }
  });

  it.each([
    ['ci/strimzi-values.yaml', 'lab-kafka-bootstrap:9092'],
    ['ci/plain-values.yaml', 'kafka:9092'],
    ['ci/external-values.yaml', 'broker-0.kafka.example.internal:9092,broker-1.kafka.example.internal:9092'],
  ])('%s: every client gets the provider\'s bootstrap servers', async (set, bootstrap) => {
    const objects = await render(setFiles(set));
    for (const name of ['producer', 'consumer', 'lag-monitor']) expect(envOf(find(objects, 'Deployment', name)).KAFKA_BROKERS).toBe(bootstrap);
    const kinds = new Set(objects.map((o) => o.kind));
    expect(kinds.has('Kafka')).toBe(set.includes('strimzi'));
    expect(kinds.has('StatefulSet')).toBe(set.includes('plain'));
  });

  it("every Node process gets the local lab's V8 flags and malloc arenas (lab.json), and no NODE_OPTIONS with nodeOptions empty", async () => {
    const lab = JSON.parse(readFileSync(join(REPO, 'services/kit/src/lab.json'), 'utf8'));
    const services = ['producer', 'consumer', 'lag-monitor', 'lag-autoscaler'];
    const objects = await render([]);
    for (const name of services) expect(envOf(find(objects, 'Deployment', name)).NODE_OPTIONS, name).toBe(lab.node.options);
    for (const name of services) expect(envOf(find(objects, 'Deployment', name)).MALLOC_ARENA_MAX, name).toBe(String(lab.node.mallocArenaMax));
    const plain = await render([], ['nodeOptions=']);
    for (const name of services) expect(envOf(find(plain, 'Deployment', name)), name).not.toHaveProperty('NODE_OPTIONS');
  });

  it('ci/tuned-values.yaml: every threshold reaches the LagAutoscaler or the environment', async () => {
    const tuned = parseYaml(readFileSync(join(CHART, 'ci/tuned-values.yaml'), 'utf8'));
    const objects = await render(setFiles('ci/tuned-values.yaml'));
    const { autoscaler, kafka } = tuned;

    expect(find(objects, 'LagAutoscaler', 'consumer').spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'consumer' },
      metricsSource: { url: 'http://lag-monitor:8010' },
      topic: kafka.topic,
      consumerGroup: kafka.consumerGroup,
      minReplicas: autoscaler.minReplicas,
      maxReplicas: autoscaler.maxReplicas,
      lagThreshold: autoscaler.lagThreshold,
      targetDrainSeconds: autoscaler.targetDrainSeconds,
      pollIntervalSeconds: autoscaler.pollIntervalSeconds,
      scaleDown: { stabilizationWindowSeconds: autoscaler.scaleDownWindowSeconds },
      paused: autoscaler.paused,
    });

    const producer = envOf(find(objects, 'Deployment', 'producer'));
    expect(producer).toMatchObject({
      RATE_MS: String(tuned.producer.rateMs),
      BATCH_SIZE: String(tuned.producer.batchSize),
      AUTO_START: String(tuned.producer.autoStart),
      TOPIC: kafka.topic,
      LOG_LEVEL: tuned.logLevel,
      PORT: '8000',
    });
    const consumerDeployment = find(objects, 'Deployment', 'consumer');
    expect(envOf(consumerDeployment)).toMatchObject({
      PROCESSING_TIME_MS: String(tuned.consumer.processingTimeMs),
      TOPIC: kafka.topic,
      SINK_TOPIC: kafka.sinkTopic,
      DLQ_TOPIC: kafka.dlqTopic,
      DLQ_MAX_RETRIES: String(tuned.consumer.deadLetter.maxRetries),
      DLQ_RETRY_BACKOFF_MS: String(tuned.consumer.deadLetter.retryBackoffMs),
      HEARTBEAT_INTERVAL_MS: String(tuned.consumer.heartbeatIntervalMs),
      GROUP_ID: kafka.consumerGroup,
      CONSUMER_ID: JSON.stringify({ fieldRef: { fieldPath: 'metadata.name' } }),
    });
    // One message at the start-up processing time, rounded up, plus the margin.
    expect(consumerDeployment.spec.template.spec.terminationGracePeriodSeconds).toBe(
      Math.ceil(tuned.consumer.processingTimeMs / 1000) + tuned.consumer.shutdownMarginSeconds,
    );
    expect(envOf(find(objects, 'Deployment', 'lag-monitor'))).toMatchObject({
      LAG_WARNING: String(tuned.lagMonitor.lagWarning),
      LAG_CRITICAL: String(tuned.lagMonitor.lagCritical),
      RATE_WARNING: String(tuned.lagMonitor.rateWarning),
      GROUP_ID: kafka.consumerGroup,
    });
    expect(envOf(find(objects, 'Deployment', 'lag-autoscaler'))).toMatchObject({ MODE: 'cluster', WATCH_NAMESPACE: NS });

    const broker = find(objects, 'StatefulSet', 'kafka').spec.template.spec.containers[0];
    expect(broker.image).toBe(`${kafka.plain.image.repository}:${kafka.plain.image.tag}`);
    expect(broker.imagePullPolicy).toBe(kafka.plain.image.pullPolicy);
    expect(envOf(find(objects, 'StatefulSet', 'kafka'))).toMatchObject({ KAFKA_HEAP_OPTS: kafka.plain.heapOpts, KAFKA_LOG4J_ROOT_LOGLEVEL: 'WARN' });
    const job = objects.find((o) => o.kind === 'Job')!;
    expect(envOf(job).PARTITIONS).toBe(String(kafka.partitions));
    expect(job.spec.template.spec.containers[0].command.join(' ')).toContain(`'${kafka.sinkTopic}'`);
    expect(job.spec.template.spec.containers[0].command.join(' ')).toContain(`'${kafka.dlqTopic}'`);

    expect(find(objects, 'Namespace', NS).metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });
    expect(find(objects, 'NetworkPolicy', 'producer').spec.ingress[0].from[1].namespaceSelector).toEqual(tuned.networkPolicy.metricsNamespaceSelector);
  });

  it('ci/strimzi-values.yaml: a KafkaTopic for each of the orders, processed and dead letter topics', async () => {
    const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
    const topics = (await render(setFiles('ci/strimzi-values.yaml'))).filter((o) => o.kind === 'KafkaTopic');
    expect(topics.map((t) => t.spec.topicName).sort()).toEqual([values.kafka.topic, values.kafka.sinkTopic, values.kafka.dlqTopic].sort());
    for (const topic of topics) expect(topic.spec.partitions).toBe(values.kafka.partitions);
  });

  it.each([
    ['kafka.provider=nope', /\/kafka\/provider/],
    ['autoscaler.minReplicas=0', /\/autoscaler\/minReplicas/],
    ['autoscaler.minReplicas=7', /autoscaler\.minReplicas \(7\) must not exceed autoscaler\.maxReplicas \(6\)/],
    ['lagMonitor.lagCritical=100', /lagMonitor\.lagCritical \(100\) must be greater than lagMonitor\.lagWarning \(100\)/],
    ['consumer.processingTimeMs=10001', /\/consumer\/processingTimeMs/],
    ['consumer.deadLetter.maxRetries=11', /\/consumer\/deadLetter\/maxRetries/],
    ['kafka.provider=external', /kafka\.bootstrapServers is required/],
    ['producer.rateMs=0', /\/producer\/rateMs/],
    ['autoscaler.lagTreshold=5', /additional properties 'lagTreshold'/],
  ])('--set %s fails, naming the field', async (set, message) => {
    await expect(renderText([], [set])).rejects.toThrow(message);
  });
});

describe('helm/backpressure-lab against a real kube-apiserver', () => {
  let cluster: TestCluster;
  const restrictedNamespace = async (name: string) => {
    await cluster.kubectl(['create', 'namespace', name]);
    await cluster.kubectl(['label', 'namespace', name, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/enforce-version=latest']);
  };
  const dryRun = async (objects: K8sObject[], namespace = NS) => {
    const out = await cluster.kubectl(['apply', '--dry-run=server', '--namespace', namespace, '-f', '-'], toStream(objects));
    return out.split('\n').filter((line) => line.endsWith('(server dry run)'));
  };

  beforeAll(async () => {
    cluster = await startCluster();
    await cluster.kubectl(['apply', '--server-side', '-f', join(CHART, 'crds'), '-f', STRIMZI_CRDS, '-f', PROMETHEUS_OPERATOR_CRDS]);
    // kubectl wait fails at once on a CRD whose status has no conditions yet: ask again.
    await vi.waitFor(() => cluster.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=30s']), { timeout: 60_000, interval: 500 });
    await restrictedNamespace(NS);
    // ServiceAccount admission wants the pods' ServiceAccount to exist, dry-run or not.
    await cluster.kubectl(['create', 'serviceaccount', 'lag-autoscaler', '--namespace', NS]);
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);

  it.each(VALUE_SETS)('$name: every object is accepted by a server-side dry-run', async ({ files }) => {
    const objects = await render(files);
    const accepted = await dryRun(objects);
    expect(accepted).toHaveLength(objects.length);
  });

  it('covers all three Kafka providers', () => {
    for (const set of PROVIDER_SETS) expect(VALUE_SETS.map((s) => s.name)).toContain(set);
  });

  it.each(VALUE_SETS)('$name: every pod template is admitted as a Pod under the restricted level', async ({ files }) => {
    const pods = podsOf(await render(files));
    expect(pods.length).toBeGreaterThanOrEqual(4);
    expect(await dryRun(pods)).toHaveLength(pods.length);
  });

  describe('the monitoring that make up installs beside the chart', () => {
    const MON_NS = 'monitoring';
    const manifests = (path: string) =>
      parseAllDocuments(readFileSync(join(REPO, path), 'utf8'))
        .map((d) => d.toJSON() as K8sObject | null)
        .filter((o): o is K8sObject => o !== null);
    beforeAll(() => restrictedNamespace(MON_NS));

    it.each(['k8s/jaeger/jaeger.yaml', 'k8s/monitoring-local/prometheus-operator.yaml', 'k8s/monitoring-local/prometheus.yaml'])(
      '%s: every object is accepted by a server-side dry-run, and its pods meet the restricted level',
      async (path) => {
        const objects = manifests(path);
        expect(objects.every((o) => ['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind) || o.metadata.namespace === MON_NS)).toBe(true);
        expect(await dryRun(objects, MON_NS)).toHaveLength(objects.length);
        const pods = podsOf(objects);
        // ServiceAccount admission wants a pod's ServiceAccount to exist, dry-run or not.
        const accounts = objects.filter((o) => o.kind === 'ServiceAccount');
        if (accounts.length > 0) await cluster.kubectl(['apply', '--namespace', MON_NS, '-f', '-'], toStream(accounts));
        if (pods.length > 0) expect(await dryRun(pods, MON_NS)).toHaveLength(pods.length);
      },
    );

    it("the Kafka UI's pod, with k8s/kafka-ui/values.yaml's security contexts, meets the restricted level too", async () => {
      const values = parseYaml(readFileSync(join(REPO, 'k8s/kafka-ui/values.yaml'), 'utf8'));
      const pod: K8sObject = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'kafka-ui' },
        spec: { securityContext: values.podSecurityContext, containers: [{ name: 'kafka-ui', image: 'ghcr.io/kafbat/kafka-ui', securityContext: values.securityContext }] },
      };
      expect(await dryRun([pod], MON_NS)).toHaveLength(1);
    });
  });

  it('the restricted level is enforced: a pod that does not meet it is refused', async () => {
    const plain: K8sObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unrestricted' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
    await expect(dryRun([plain])).rejects.toThrow(/violates PodSecurity "restricted:latest"/);
  });

  describe('installed with helm', () => {
    const INSTALL_NS = 'lab-installed';
    const SA = `system:serviceaccount:${INSTALL_NS}:lag-autoscaler`;
    const plain = setFiles('ci/plain-values.yaml');

    beforeAll(async () => {
      await restrictedNamespace(INSTALL_NS);
      await helm(['install', RELEASE, CHART, '--namespace', INSTALL_NS, ...valueArgs(plain)], cluster.kubeconfigPath);
    }, 120_000);

    it("the workloads' controllers create every pod in the restricted namespace (Pending: no node)", async () => {
      const components = async () =>
        (await cluster.kubectl(['get', 'pods', '--namespace', INSTALL_NS, '-o', 'jsonpath={.items[*].metadata.labels.app\\.kubernetes\\.io/component}']))
          .split(/\s+/)
          .filter(Boolean)
          .sort();
      await vi.waitFor(async () => expect(new Set(await components())).toEqual(new Set(['consumer', 'kafka', 'kafka-topics', 'lag-autoscaler', 'lag-monitor', 'producer'])), {
        timeout: 60_000,
        interval: 500,
      });
      const events = await cluster.kubectl(['get', 'events', '--namespace', INSTALL_NS, '--field-selector', 'reason=FailedCreate', '-o', 'name']);
      expect(events.trim()).toBe('');
    });

    /** Asks the apiserver's authorizer, as a SubjectAccessReview, whether the operator may do this. */
    const allowed = async (attributes: { verb: string; resource: string; group?: string; subresource?: string; name?: string; namespace?: string }) => {
      const review = {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: SA,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${INSTALL_NS}`, 'system:authenticated'],
          resourceAttributes: { namespace: INSTALL_NS, group: '', ...attributes },
        },
      };
      const out = await cluster.kubectl(['create', '-f', '-', '-o', 'jsonpath={.status.allowed}'], JSON.stringify(review));
      return out.trim() === 'true';
    };
    const LAB = 'lab.backpressure.dev';

    it.each([
      [{ verb: 'patch', group: 'apps', resource: 'deployments', subresource: 'scale', name: 'consumer' }, true],
      [{ verb: 'get', group: 'apps', resource: 'deployments', subresource: 'scale', name: 'consumer' }, true],
      [{ verb: 'list', group: LAB, resource: 'lagautoscalers' }, true],
      [{ verb: 'watch', group: LAB, resource: 'lagautoscalers' }, true],
      [{ verb: 'patch', group: LAB, resource: 'lagautoscalers', subresource: 'status', name: 'consumer' }, true],
      [{ verb: 'create', resource: 'events' }, true],
      [{ verb: 'patch', group: 'apps', resource: 'deployments', subresource: 'scale', name: 'producer' }, false],
      [{ verb: 'patch', group: 'apps', resource: 'deployments', name: 'consumer' }, false],
      [{ verb: 'update', group: LAB, resource: 'lagautoscalers', name: 'consumer' }, false],
      [{ verb: 'delete', resource: 'pods' }, false],
      [{ verb: 'get', resource: 'secrets' }, false],
      [{ verb: 'patch', group: 'apps', resource: 'deployments', subresource: 'scale', name: 'consumer', namespace: NS }, false],
    ])("the operator's ServiceAccount: %o -> allowed %s", async (attributes, expected) => {
      expect(await allowed(attributes)).toBe(expected);
    });

    it("helm upgrade changes the LagAutoscaler and the consumer's settings but keeps the operator's replica count", async () => {
      // What the operator does: patch the scale subresource, as its own ServiceAccount.
      await cluster.kubectl(['patch', 'deployment', 'consumer', '--subresource=scale', '--type=merge', '-p', '{"spec":{"replicas":4}}', '--namespace', INSTALL_NS, '--as', SA]);
      await helm(
        ['upgrade', RELEASE, CHART, '--namespace', INSTALL_NS, ...valueArgs(plain, ['autoscaler.lagThreshold=77', 'consumer.processingTimeMs=100'])],
        cluster.kubeconfigPath,
      );
      const read = async (resource: string, path: string) =>
        (await cluster.kubectl(['get', resource, '--namespace', INSTALL_NS, '-o', `jsonpath=${path}`])).trim();
      expect(await read('lagautoscaler/consumer', '{.spec.lagThreshold}')).toBe('77');
      expect(await read('deployment/consumer', '{.spec.template.spec.containers[0].env[?(@.name=="PROCESSING_TIME_MS")].value}')).toBe('100');
      expect(await read('deployment/consumer', '{.spec.replicas}')).toBe('4');
    });
  });
});
