import { ApiException, type AppsV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { TargetUnavailableError } from '../src/loop.js';
import { DeploymentTarget, FIELD_MANAGER } from '../src/targets/deployment.js';

/**
 * A real apiserver answers a merge patch without resourceVersion with 409 only when it loses an
 * internal update race, which no test can cause on demand. So this stub stands in for AppsV1Api
 * to answer with the status codes under test; the real patch (content type, field manager,
 * scale subresource, RBAC) is exercised against a real kube-apiserver in cluster.test.ts.
 */
function stubApi(answers: number[]) {
  const patches: unknown[] = [];
  const api = {
    patchNamespacedDeploymentScale: async (request: unknown) => {
      patches.push(request);
      const code = answers.shift() ?? 200;
      if (code !== 200) throw new ApiException(code, `HTTP ${code}`, {}, {});
      return {};
    },
  } as unknown as AppsV1Api;
  return { api, patches };
}

describe('DeploymentTarget.setReplicas', () => {
  it('retries the same merge patch after 409 conflicts', async () => {
    const { api, patches } = stubApi([409, 409]);
    await new DeploymentTarget(api, 'lab', 'consumer').setReplicas(4);
    expect(patches).toHaveLength(3);
    for (const patch of patches) expect(patch).toEqual({ name: 'consumer', namespace: 'lab', body: { spec: { replicas: 4 } }, fieldManager: FIELD_MANAGER });
  });

  it('gives up after five conflicts in a row and reports the last one', async () => {
    const { api, patches } = stubApi([409, 409, 409, 409, 409, 409]);
    await expect(new DeploymentTarget(api, 'lab', 'consumer').setReplicas(4)).rejects.toMatchObject({ code: 409 });
    expect(patches).toHaveLength(5);
  });

  it('turns a 404 into TargetNotFound and a 403 into TargetForbidden, and does not retry them or other errors', async () => {
    await expect(new DeploymentTarget(stubApi([404]).api, 'lab', 'consumer').setReplicas(2)).rejects.toMatchObject({ reason: 'TargetNotFound' });
    const forbidden = stubApi([403, 200]);
    const refused = new DeploymentTarget(forbidden.api, 'lab', 'consumer').setReplicas(2);
    await expect(refused).rejects.toBeInstanceOf(TargetUnavailableError);
    await expect(refused).rejects.toMatchObject({ reason: 'TargetForbidden' });
    expect(forbidden.patches).toHaveLength(1);
    const failing = stubApi([500, 200]);
    await expect(new DeploymentTarget(failing.api, 'lab', 'consumer').setReplicas(2)).rejects.toMatchObject({ code: 500 });
    expect(failing.patches).toHaveLength(1);
  });
});
