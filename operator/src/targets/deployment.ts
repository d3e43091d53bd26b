import { ApiException, PatchStrategy, setHeaderOptions, type AppsV1Api } from '@kubernetes/client-node';
import { TargetUnavailableError, type ScaleTarget } from '../loop.js';

export const FIELD_MANAGER = 'lag-autoscaler';
const CONFLICT_RETRIES = 5;

export function isStatus(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

/** A Deployment scaled through its scale subresource (RBAC: deployments/scale get + patch). */
export class DeploymentTarget implements ScaleTarget {
  readonly description: string;

  constructor(
    private readonly api: AppsV1Api,
    private readonly namespace: string,
    private readonly name: string,
  ) {
    this.description = `Deployment ${namespace}/${name}`;
  }

  async getReplicas(): Promise<number> {
    try {
      const scale = await this.api.readNamespacedDeploymentScale({ name: this.name, namespace: this.namespace });
      return scale.spec?.replicas ?? 0;
    } catch (err) {
      throw this.unavailable(err) ?? err;
    }
  }

  /** 404 and 403 are answers about the target, not outages (see TargetUnavailableError). */
  private unavailable(err: unknown): TargetUnavailableError | null {
    if (isStatus(err, 404)) return new TargetUnavailableError('TargetNotFound', `${this.description} not found`);
    if (isStatus(err, 403)) {
      return new TargetUnavailableError(
        'TargetForbidden',
        `the operator's Role does not allow deployments/scale on ${this.description} (the chart grants it for the consumer Deployment only)`,
      );
    }
    return null;
  }

  /**
   * A merge patch of spec.replicas only. It carries no resourceVersion, so a 409 means the
   * apiserver lost an internal update race: retrying the same patch is correct.
   */
  async setReplicas(replicas: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.api.patchNamespacedDeploymentScale(
          { name: this.name, namespace: this.namespace, body: { spec: { replicas } }, fieldManager: FIELD_MANAGER },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return;
      } catch (err) {
        const unavailable = this.unavailable(err);
        if (unavailable) throw unavailable;
        if (!isStatus(err, 409) || attempt >= CONFLICT_RETRIES) throw err;
      }
    }
  }
}
