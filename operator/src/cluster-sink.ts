import { PatchStrategy, setHeaderOptions, type CoreV1Api, type CustomObjectsApi } from '@kubernetes/client-node';
import type { EventReason, StatusSink } from './loop.js';
import type { AutoscalerStatus } from './status.js';
import { FIELD_MANAGER } from './targets/deployment.js';

export const GROUP = 'lab.backpressure.dev';
export const VERSION = 'v1alpha1';
export const PLURAL = 'lagautoscalers';
export const KIND = 'LagAutoscaler';

export interface ObjectRef {
  namespace: string;
  name: string;
  uid: string;
}

/**
 * Status goes to the status subresource as a merge patch (RBAC: lagautoscalers/status patch);
 * events are core v1 Events on the LagAutoscaler (RBAC: events create, so no aggregation).
 */
export class ClusterStatusSink implements StatusSink {
  constructor(
    private readonly customObjects: CustomObjectsApi,
    private readonly core: CoreV1Api,
    private readonly ref: ObjectRef,
  ) {}

  async writeStatus(status: AutoscalerStatus): Promise<void> {
    await this.customObjects.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, plural: PLURAL, namespace: this.ref.namespace, name: this.ref.name, body: { status }, fieldManager: FIELD_MANAGER },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  async recordEvent(type: 'Normal' | 'Warning', reason: EventReason, message: string): Promise<void> {
    const now = new Date();
    await this.core.createNamespacedEvent({
      namespace: this.ref.namespace,
      body: {
        metadata: { generateName: `${this.ref.name}.`, namespace: this.ref.namespace },
        involvedObject: { apiVersion: `${GROUP}/${VERSION}`, kind: KIND, namespace: this.ref.namespace, name: this.ref.name, uid: this.ref.uid },
        type,
        reason,
        message,
        source: { component: FIELD_MANAGER },
        reportingComponent: FIELD_MANAGER,
        reportingInstance: FIELD_MANAGER,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }
}
