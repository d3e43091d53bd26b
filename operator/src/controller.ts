import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from '@bplab/kit';
import { ClusterStatusSink, GROUP, PLURAL, VERSION } from './cluster-sink.js';
import type { MetricsSnapshot } from './decide.js';
import { AutoscalerLoop, freshMemory, MAX_BACKOFF_MS, message, type LoopMemory, type LoopView } from './loop.js';
import type { OperatorMetrics } from './metrics.js';
import { parseSpec, type AutoscalerSpec } from './spec.js';
import { setCondition } from './status.js';
import { DeploymentTarget } from './targets/deployment.js';

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

interface Entry {
  uid: string;
  generation: number;
  loop: AutoscalerLoop | null;
  memory: LoopMemory;
  /** Why the spec was refused, when it was. */
  invalid: string | null;
}

/**
 * Watches LagAutoscalers in one namespace and runs one reconcile loop per object, like
 * sample-controller but with a loop per object instead of a work queue, because each object
 * polls at its own interval. A spec change (new generation) restarts the loop at once with its
 * history kept; a deletion stops it. A failed watch is restarted with backoff.
 */
export class Controller {
  private readonly informer: Informer<LagAutoscalerObject>;
  private readonly entries = new Map<string, Entry>();
  /** Per object, the chain of pending updates: they apply in order, one at a time. */
  private readonly pending = new Map<string, Promise<void>>();
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly customObjects: CustomObjectsApi;
  private watchFailures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private watching = false;
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
    this.informer.on('add', (obj) => this.enqueue(obj, () => this.sync(obj)));
    this.informer.on('update', (obj) => this.enqueue(obj, () => this.sync(obj)));
    this.informer.on('delete', (obj) => this.enqueue(obj, () => this.remove(obj)));
    this.informer.on('error', (err) => this.onWatchError(err));
  }

  get healthy(): boolean {
    return this.watching;
  }

  async start(): Promise<void> {
    await this.startWatch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
    await Promise.all(this.pending.values());
    await Promise.all([...this.entries.values()].map((entry) => entry.loop?.stop()));
    this.entries.clear();
  }

  views(): (LoopView | { namespace: string; name: string; generation: number; invalid: string })[] {
    return [...this.entries.entries()].map(([key, entry]) => {
      if (entry.loop) return entry.loop.view();
      const [namespace = '', name = ''] = key.split('/');
      return { namespace, name, generation: entry.generation, invalid: entry.invalid ?? 'not started' };
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
      this.watching = true;
      this.watchFailures = 0;
      this.options.logger.info({ namespace: this.options.namespace, recovered }, 'watching LagAutoscalers');
      // The apiserver answers again: loops in backoff need not wait out their delay.
      if (recovered) for (const entry of this.entries.values()) entry.loop?.kick();
    }
  }

  /** The watch (or its list) failed: the apiserver is unreachable or refused. Retry with backoff. */
  private onWatchError(err: unknown): void {
    this.watching = false;
    if (this.stopped || this.restartTimer !== undefined) return;
    this.watchFailures += 1;
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (this.watchFailures - 1));
    this.options.logger.warn({ err: message(err), retryInMs: delay }, 'watch failed');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopped) void this.startWatch();
    }, delay);
  }

  /** namespace, name and the entries' key of an object from the watch. */
  private identify(obj: LagAutoscalerObject): { namespace: string; name: string; key: string } {
    const namespace = obj.metadata?.namespace ?? this.options.namespace;
    const name = obj.metadata?.name ?? '';
    return { namespace, name, key: `${namespace}/${name}` };
  }

  private enqueue(obj: LagAutoscalerObject, work: () => Promise<void>): void {
    const { key } = this.identify(obj);
    const next = (this.pending.get(key) ?? Promise.resolve())
      .then(work)
      .catch((err: unknown) => this.options.logger.error({ key, err: message(err) }, 'sync failed'));
    this.pending.set(key, next);
    void next.finally(() => {
      if (this.pending.get(key) === next) this.pending.delete(key);
    });
  }

  private async sync(obj: LagAutoscalerObject): Promise<void> {
    if (this.stopped) return;
    const { namespace, name, key } = this.identify(obj);
    const uid = obj.metadata?.uid ?? '';
    const generation = obj.metadata?.generation ?? 0;
    const existing = this.entries.get(key);
    // Status writes come back as updates with the same generation: nothing to do.
    if (existing && existing.uid === uid && existing.generation === generation) return;
    await existing?.loop?.stop();
    const memory = existing && existing.uid === uid ? existing.memory : freshMemory();
    const sink = new ClusterStatusSink(this.customObjects, this.core, { namespace, name, uid });

    let spec: AutoscalerSpec;
    try {
      spec = parseSpec(obj.spec);
    } catch (err) {
      const reason = message(err);
      this.entries.set(key, { uid, generation, loop: null, memory, invalid: reason });
      this.options.metrics.error(namespace, name, 'spec');
      this.options.logger.error({ key, err: reason }, 'refusing spec');
      const conditions = setCondition(
        memory.status?.conditions ?? [],
        { type: 'AbleToScale', status: 'False', reason: 'InvalidSpec', message: reason, observedGeneration: generation },
        new Date(),
      );
      memory.status = { ...memory.status, observedGeneration: generation, conditions };
      await sink.writeStatus(memory.status);
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
    this.entries.set(key, { uid, generation, loop, memory, invalid: null });
    logger.info({ key, generation, target: spec.scaleTargetRef.name }, existing ? 'spec changed, restarting loop' : 'starting loop');
    loop.start();
  }

  private async remove(obj: LagAutoscalerObject): Promise<void> {
    const { namespace, name, key } = this.identify(obj);
    const entry = this.entries.get(key);
    if (!entry || entry.uid !== obj.metadata?.uid) return;
    this.entries.delete(key);
    await entry.loop?.stop();
    this.options.metrics.forget(namespace, name);
    this.options.logger.info({ key }, 'LagAutoscaler deleted, loop stopped');
  }
}
