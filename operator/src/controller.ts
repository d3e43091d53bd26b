import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import type { Logger } from '@bplab/kit';
import { ClusterStatusSink, GROUP, PLURAL, VERSION } from './cluster-sink.js';
import type { MetricsSnapshot } from './decide.js';
import { AutoscalerLoop, freshMemory, MAX_BACKOFF_MS, message, type LoopMemory, type LoopView } from './loop.js';
import type { OperatorMetrics } from './metrics.js';
import { parseSpec, type AutoscalerSpec } from './spec.js';
import { setCondition } from './status.js';
import { DeploymentTarget } from './targets/deployment.js';
import { ExponentialBackoff, WorkQueue } from './workqueue.js';

interface LagAutoscalerObject extends KubernetesObject {
  spec?: unknown;
}

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  readMetrics: (spec: AutoscalerSpec) => Promise<MetricsSnapshot>;
  metrics: OperatorMetrics;
  logger: Logger;
}

/** One LagAutoscaler: its running loop, or why its spec was refused. */
type Entry = { uid: string; generation: number; memory: LoopMemory } & (
  | { loop: AutoscalerLoop }
  /** statusWritten is false until the refusal is in the status: a sync of this generation writes it. */
  | { refused: string; statusWritten: boolean }
);

/** A failed sync is retried after 5 ms, doubling per failure up to the loops' own cap. */
const SYNC_RETRY_BASE_MS = 5;

/**
 * Watches LagAutoscalers in one namespace, the sample-controller way: informer events put the
 * object's key on a rate-limited work queue; a worker takes one key at a time and syncs it from
 * the informer's cache; a failed sync goes back on the queue with backoff. A sync starts,
 * restarts (new generation, history kept) or stops (object gone) the object's reconcile loop:
 * one loop per object rather than one queue pass per poll, because each object polls at its own
 * interval. A failed watch is restarted with backoff.
 */
export class Controller {
  private readonly informer: Informer<LagAutoscalerObject> & ObjectCache<LagAutoscalerObject>;
  private readonly queue = new WorkQueue(new ExponentialBackoff(SYNC_RETRY_BASE_MS, MAX_BACKOFF_MS));
  private readonly entries = new Map<string, Entry>();
  private worker: Promise<void> | null = null;
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly customObjects: CustomObjectsApi;
  private watchFailures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private watchUp = false;
  private stopped = false;

  constructor(private readonly options: ControllerOptions) {
    const { kubeConfig, namespace } = options;
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
    const list = () =>
      this.customObjects.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL }) as Promise<
        KubernetesListObject<LagAutoscalerObject>
      >;
    this.informer = makeInformer(kubeConfig, `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`, list);
    for (const verb of ['add', 'update', 'delete'] as const) this.informer.on(verb, (obj) => this.queue.add(this.keyOf(obj)));
    this.informer.on('error', (err) => this.onWatchError(err));
  }

  /** Whether the watch on LagAutoscalers is up (it is restarted with backoff when it fails). */
  get watching(): boolean {
    return this.watchUp;
  }

  async start(): Promise<void> {
    this.worker ??= this.runWorker();
    await this.startWatch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
    this.queue.shutDown();
    await this.worker;
    await Promise.all([...this.entries.values()].map((entry) => ('loop' in entry ? entry.loop.stop() : undefined)));
    this.entries.clear();
  }

  views(): (LoopView | { namespace: string; name: string; generation: number; invalid: string })[] {
    return [...this.entries.entries()].map(([key, entry]) => {
      if ('loop' in entry) return entry.loop.view();
      const { namespace, name } = splitKey(key);
      return { namespace, name, generation: entry.generation, invalid: entry.refused };
    });
  }

  private async startWatch(): Promise<void> {
    let failed = false;
    const onError = () => (failed = true);
    this.informer.on('error', onError);
    try {
      await this.informer.start();
    } finally {
      this.informer.off('error', onError);
    }
    if (!failed) {
      const recovered = this.watchFailures > 0;
      this.watchUp = true;
      this.watchFailures = 0;
      this.options.logger.info({ namespace: this.options.namespace, recovered }, 'watching LagAutoscalers');
      // The apiserver answers again: loops in backoff need not wait out their delay.
      if (recovered) for (const entry of this.entries.values()) if ('loop' in entry) entry.loop.kick();
    }
  }

  /** The watch (or its list) failed: the apiserver is unreachable or refused. Retry with backoff. */
  private onWatchError(err: unknown): void {
    this.watchUp = false;
    if (this.stopped || this.restartTimer !== undefined) return;
    this.watchFailures += 1;
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (this.watchFailures - 1));
    this.options.logger.warn({ err: message(err), retryInMs: delay }, 'watch failed');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopped) void this.startWatch();
    }, delay);
  }

  /** The work queue's key of an object from the watch. */
  private keyOf(obj: LagAutoscalerObject): string {
    return `${obj.metadata?.namespace ?? this.options.namespace}/${obj.metadata?.name ?? ''}`;
  }

  private async runWorker(): Promise<void> {
    while (await this.processNextWorkItem());
  }

  /** One key, one sync; a failed sync goes back on the queue with backoff. False once the queue is shut down. */
  private async processNextWorkItem(): Promise<boolean> {
    const key = await this.queue.get();
    if (key === undefined) return false;
    try {
      await this.sync(key);
      this.queue.forget(key);
    } catch (err) {
      this.queue.addRateLimited(key);
      this.options.logger.warn({ key, err: message(err), retries: this.queue.retries(key) }, 'sync failed, requeued');
    } finally {
      this.queue.done(key);
    }
    return true;
  }

  /**
   * Brings the loop of one key in line with the object in the informer's cache. Idempotent: a
   * second sync of an unchanged object does nothing, and a status write (same generation) is an
   * unchanged object.
   */
  private async sync(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const obj = this.informer.get(name, namespace);
    const existing = this.entries.get(key);
    if (obj === undefined) {
      if (existing) await this.remove(key, existing);
      return;
    }
    const uid = obj.metadata?.uid ?? '';
    const generation = obj.metadata?.generation ?? 0;
    if (existing && existing.uid === uid && existing.generation === generation && ('loop' in existing || existing.statusWritten)) return;
    if (existing && 'loop' in existing) await existing.loop.stop();
    const memory = existing && existing.uid === uid ? existing.memory : freshMemory();
    const sink = new ClusterStatusSink(this.customObjects, this.core, { namespace, name, uid });

    let spec: AutoscalerSpec;
    try {
      spec = parseSpec(obj.spec);
    } catch (err) {
      const reason = message(err);
      this.entries.set(key, { uid, generation, memory, refused: reason, statusWritten: false });
      await this.refuse(sink, generation, memory, reason);
      this.entries.set(key, { uid, generation, memory, refused: reason, statusWritten: true });
      this.options.metrics.error(namespace, name, 'spec');
      this.options.logger.error({ key, err: reason }, 'refusing spec');
      return;
    }

    const { readMetrics, metrics, logger } = this.options;
    const loop = new AutoscalerLoop({
      namespace,
      name,
      generation,
      spec,
      target: new DeploymentTarget(this.apps, namespace, spec.scaleTargetRef.name),
      readMetrics,
      sink,
      metrics,
      logger,
      memory,
    });
    this.entries.set(key, { uid, generation, memory, loop });
    logger.info({ key, generation, target: spec.scaleTargetRef.name }, existing ? 'spec changed, restarting loop' : 'starting loop');
    loop.start();
  }

  /** Says why in the status: AbleToScale=False, InvalidSpec. A failed write fails the sync, which is retried. */
  private async refuse(sink: ClusterStatusSink, generation: number, memory: LoopMemory, reason: string): Promise<void> {
    const conditions = setCondition(
      memory.status?.conditions ?? [],
      { type: 'AbleToScale', status: 'False', reason: 'InvalidSpec', message: reason, observedGeneration: generation },
      new Date(),
    );
    const status = { ...memory.status, observedGeneration: generation, conditions };
    await sink.writeStatus(status);
    memory.status = status;
  }

  private async remove(key: string, entry: Entry): Promise<void> {
    const { namespace, name } = splitKey(key);
    this.entries.delete(key);
    if ('loop' in entry) await entry.loop.stop();
    this.options.metrics.forget(namespace, name);
    this.options.logger.info({ key }, 'LagAutoscaler deleted, loop stopped');
  }
}

/** namespace/name: a name has no slash, so the first one splits. */
function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
