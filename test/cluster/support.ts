import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, vi } from 'vitest';
import { REPO } from '../support/paths.js';
import { freePort } from '../support/services.js';

/*
 * Helpers of the cluster tests (*.cluster.test.ts): the lab that `make up CLUSTER=local` deployed
 * on the real one-node cluster of hack/cluster, reached as a user reaches it: make targets,
 * kubectl, helm, `make port-forward` and curl. The Kubernetes API is read through one
 * `kubectl proxy` per file, so that polling it four times a second costs no kubectl process each.
 */

const run = promisify(execFile);

export const NS = 'backpressure-lab';
export const RELEASE = 'backpressure-lab';
export const CHART = join(REPO, 'helm/backpressure-lab');
export const OPERATOR_SA = `system:serviceaccount:${NS}:lag-autoscaler`;

/**
 * The values the tests deploy the lab with (make up HELM_ARGS): consumers at 100 ms per message,
 * a 10 s scale-down window, a 2 s operator poll and a 10 s wait before the critical-lag alert keep
 * a burst's story under a minute. Every other value is the chart's default with
 * k8s/local-node-values.yaml.
 */
export const TEST_SETS = [
  'consumer.processingTimeMs=100',
  'autoscaler.scaleDownWindowSeconds=10',
  'autoscaler.pollIntervalSeconds=2',
  // KafkaConsumerLagCritical after 10 s rather than 30 s: the alert test's burst stays short.
  'monitoring.alerts.lagCriticalFor=10s',
];
export const PROCESSING_MS = 100;

/** Settings of hack/cluster/env.sh (binaries, node name, context), as its scripts see them. */
export const clusterEnv: { CLUSTER_BIN: string; HELM_BIN: string; NODE_NAME: string; KUBE_CONTEXT: string } = JSON.parse(
  execFileSync(
    'bash',
    [
      '-c',
      'source hack/lib/common.sh && source hack/cluster/env.sh && printf \'{"CLUSTER_BIN":"%s","HELM_BIN":"%s","NODE_NAME":"%s","KUBE_CONTEXT":"%s"}\' "$CLUSTER_BIN" "$HELM_BIN" "$NODE_NAME" "$KUBE_CONTEXT"',
    ],
    { cwd: REPO, encoding: 'utf8' },
  ),
);
const KUBECTL = join(clusterEnv.CLUSTER_BIN, 'kubectl');

async function exec(file: string, args: string[], opts: { timeout?: number; env?: Record<string, string> } = {}): Promise<string> {
  try {
    const { stdout } = await run(file, args, {
      cwd: REPO,
      timeout: opts.timeout ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, ...opts.env },
    });
    return stdout;
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${err instanceof Error ? err.message : String(err)}\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

/** kubectl against the local node's context, in the lab's namespace unless args name another. */
export const kubectl = (args: string[], timeout?: number) => exec(KUBECTL, ['--context', clusterEnv.KUBE_CONTEXT, '-n', NS, ...args], { timeout });
/** kubectl's exit status and output, for commands expected to fail (auth can-i says "no" with 1). */
export async function kubectlStatus(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(KUBECTL, ['--context', clusterEnv.KUBE_CONTEXT, '-n', NS, ...args], { cwd: REPO, timeout: 60_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const { code, stdout, stderr } = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof code === 'number' ? code : -1, out: `${stdout ?? ''}${stderr ?? ''}` };
  }
}
export const helm = (args: string[]) => exec(clusterEnv.HELM_BIN, ['--kube-context', clusterEnv.KUBE_CONTEXT, '-n', NS, ...args], { timeout: 300_000 });
/** A make target, as a user runs it (make -s <target> VAR=value ...); resolves with its output. */
export const make = (target: string, vars: Record<string, string> = {}, env: Record<string, string> = {}) =>
  exec('make', ['-s', target, ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)], { timeout: 600_000, env });

/** A shell line as the README writes it (curl, jq, pipes), with the forwarded ports substituted. */
export async function sh(line: string, ports: ForwardedPorts): Promise<string> {
  const local = line.replace(/localhost:(8000|8001|8010|8020|9090|16686)\b/g, (_, port: string) => `localhost:${ports[Number(port) as SeedPort]}`);
  return (await exec('bash', ['-o', 'pipefail', '-c', local], { timeout: 60_000 })).trim();
}

/** The seed's ports that `make port-forward` serves here: the lab's four, Prometheus and Jaeger. */
export type SeedPort = 8000 | 8001 | 8010 | 8020 | 9090 | 16686;
export type ForwardedPorts = Record<SeedPort, number>;

/**
 * `make port-forward`: the seed's own ports when all six are free (the README's lines then run
 * unchanged), else free ports through the LAB_*_PORT variables (another lab on this machine).
 * Returns the ports and the environment that names them (for STOP=1 and for make status).
 */
export async function portForward(): Promise<{ ports: ForwardedPorts; env: Record<string, string>; stop: () => Promise<void> }> {
  const seed: SeedPort[] = [8000, 8001, 8010, 8020, 9090, 16686];
  const taken = await Promise.all(seed.map((p) => isListening(p)));
  const ports = Object.fromEntries(seed.map((p) => [p, p])) as ForwardedPorts;
  if (taken.some(Boolean)) {
    for (const p of seed) ports[p] = await freePort();
    console.log(`[cluster] a seed port is taken on this machine: forwarding to ${JSON.stringify(ports)} instead`);
  }
  const env = {
    LAB_PRODUCER_PORT: String(ports[8000]),
    LAB_CONSUMER_BASE_PORT: String(ports[8001]),
    LAB_LAG_MONITOR_PORT: String(ports[8010]),
    LAB_OPERATOR_PORT: String(ports[8020]),
    LAB_PROMETHEUS_PORT: String(ports[9090]),
    LAB_JAEGER_PORT: String(ports[16686]),
  };
  await make('port-forward', {}, env);
  return { ports, env, stop: async () => void (await make('port-forward', { STOP: '1' }, env)) };
}

async function isListening(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** `kubectl proxy` on a free port: the Kubernetes API over plain HTTP for cheap, frequent polls. */
export async function startApiProxy(): Promise<{ get: <T = any>(path: string) => Promise<T>; stop: () => void }> {
  const port = await freePort();
  const proxy: ChildProcess = spawn(KUBECTL, ['--context', clusterEnv.KUBE_CONTEXT, 'proxy', `--port=${port}`, '--address=127.0.0.1'], { stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  const get = async <T = any>(path: string): Promise<T> => {
    const res = await fetch(`${base}${path}`);
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const stop = () => void proxy.kill('SIGTERM');
  try {
    await vi.waitFor(async () => expect((await fetch(`${base}/readyz`)).status).toBe(200), { timeout: 20_000, interval: 100 });
  } catch (err) {
    stop();
    throw err;
  }
  return { get, stop };
}

export const paths = {
  deployment: (name: string) => `/apis/apps/v1/namespaces/${NS}/deployments/${name}`,
  pods: (component: string) => `/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/component=${component}`)}`,
  autoscaler: `/apis/lab.backpressure.dev/v1alpha1/namespaces/${NS}/lagautoscalers/consumer`,
  events: `/api/v1/namespaces/${NS}/events`,
  statsSummary: () => `/api/v1/nodes/${clusterEnv.NODE_NAME}/proxy/stats/summary`,
};

export interface Pod {
  metadata: { name: string; uid: string; creationTimestamp: string; deletionTimestamp?: string; labels: Record<string, string> };
  spec: { containers: { image: string; securityContext?: any }[]; securityContext?: any; nodeName?: string };
  status: {
    phase: string;
    podIP?: string;
    conditions?: { type: string; status: string; lastTransitionTime: string }[];
    containerStatuses?: { ready: boolean; state: { running?: { startedAt: string } } }[];
  };
}
export const isReady = (pod: Pod) => pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
export const isLive = (pod: Pod) => !pod.metadata.deletionTimestamp && pod.status.phase !== 'Succeeded' && pod.status.phase !== 'Failed';

/** The records of a topic, read inside the Kafka pod (the broker advertises its in-cluster name). */
export async function readTopic<T = any>(topic: string): Promise<T[]> {
  const offsets = await kubectl(['exec', 'kafka-0', '--', 'kafka-get-offsets.sh', '--bootstrap-server', 'localhost:9092', '--topic', topic]);
  const total = offsets
    .trim()
    .split('\n')
    .reduce((sum, line) => sum + Number(line.split(':')[2] ?? 0), 0);
  if (total === 0) return [];
  const out = await kubectl(
    ['exec', 'kafka-0', '--', 'kafka-console-consumer.sh', '--bootstrap-server', 'localhost:9092', '--topic', topic, '--from-beginning', '--max-messages', String(total), '--timeout-ms', '60000'],
    120_000,
  );
  const records = out
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as T);
  expect(records, `records read from ${topic}`).toHaveLength(total);
  return records;
}

/** Every order Kafka acknowledged (topic orders) and the processed records (orders.processed). */
export async function ordersAndProcessed(): Promise<{ produced: string[]; processed: { order_id: string; consumer: string; processed_at: string }[] }> {
  const [orders, processed] = await Promise.all([readTopic<{ id: string }>('orders'), readTopic<{ order_id: string; consumer: string; processed_at: string }>('orders.processed')]);
  return { produced: orders.map((o) => o.id), processed };
}

export async function getJson<T = any>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return (await res.json()) as T;
}
export async function postJson<T = any>(url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/**
 * The lab at rest: autoscaling on, one consumer pod (none terminating), nothing lagging. Each test
 * file starts from here, whatever the file before it left behind.
 */
export async function settle(api: Awaited<ReturnType<typeof startApiProxy>>): Promise<void> {
  await make('scale-manual');
  await vi.waitFor(
    async () => {
      const pods = (await api.get<{ items: Pod[] }>(paths.pods('consumer'))).items;
      const deployment = await api.get(paths.deployment('consumer'));
      expect(`${deployment.spec.replicas} replicas, ${pods.length} pods, ${pods.filter(isReady).length} ready`).toBe('1 replicas, 1 pods, 1 ready');
    },
    { timeout: 120_000, interval: 500 },
  );
}

export const ms = (from: number, to: number | null | undefined) => (to == null ? 'never' : `${((to - from) / 1000).toFixed(1)} s`);
