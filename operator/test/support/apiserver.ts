import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mkdtempSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { freePort } from '../../../test/support/services.js';
import { isAlive } from '../../src/targets/pid.js';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const UP = join(REPO_ROOT, 'hack/testenv/up.sh');
const DOWN = join(REPO_ROOT, 'hack/testenv/down.sh');
const BUILD = join(REPO_ROOT, 'hack/testenv/build.sh');

/**
 * A real etcd + kube-apiserver + kube-controller-manager on free loopback ports, from
 * hack/testenv/up.sh (binaries built once by hack/testenv/build.sh into the cache), with a
 * state dir of its own per run.
 */
export interface TestCluster {
  kubeConfig: KubeConfig;
  kubeconfigPath: string;
  server: string;
  caData: string;
  /**
   * Runs kubectl (KUBECTL, default the one hack/testenv/build.sh built with the apiserver, so
   * their versions match) as the admin. Manifests go through kubectl
   * rather than client-node's typed APIs, whose serializer drops fields it names differently
   * (`default`, `x-kubernetes-validations` in a CRD schema).
   */
  kubectl(args: string[], input?: string): Promise<string>;
  /**
   * Kills kube-apiserver (a crash: on SIGTERM it would wait up to 60 s for open watches to end),
   * waits for it to be gone, and starts it again with up.sh.
   */
  restartApiserver(): Promise<{ stopMs: number; startMs: number }>;
  stop(): Promise<void>;
}

export async function startCluster(): Promise<TestCluster> {
  const state = mkdtempSync(join(tmpdir(), 'bplab-testenv-'));
  const env = {
    ...process.env,
    TESTENV_STATE: state,
    TESTENV_ETCD_PORT: String(await freePort()),
    TESTENV_ETCD_PEER_PORT: String(await freePort()),
    TESTENV_APISERVER_PORT: String(await freePort()),
    TESTENV_KCM_PORT: String(await freePort()),
  };
  const up = async () => {
    try {
      return (await run(UP, { env, timeout: 150_000 })).stdout.trim();
    } catch (err) {
      const { stderr } = err as { stderr?: string };
      throw new Error(`hack/testenv/up.sh failed (state ${state}):\n${stderr ?? String(err)}`);
    }
  };
  const kubeconfigPath = await up();
  // build.sh prints its bin dir; with everything cached it only checks and returns.
  const kubectlBinary = process.env.KUBECTL ?? join((await run('bash', [BUILD])).stdout.trim(), 'kubectl');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const cluster = kubeConfig.getCurrentCluster()!;
  return {
    kubeConfig,
    kubeconfigPath,
    server: cluster.server,
    caData: cluster.caData ?? '',
    kubectl(args, input) {
      return new Promise((resolve, reject) => {
        const child = execFile(
          kubectlBinary,
          ['--kubeconfig', kubeconfigPath, ...args],
          { timeout: 60_000 },
          (err, stdout, stderr) => (err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)),
        );
        child.stdin?.end(input ?? '');
      });
    },
    async restartApiserver() {
      const pid = Number((await readFile(join(state, 'kube-apiserver.pid'), 'utf8')).trim());
      const stopping = Date.now();
      process.kill(pid, 'SIGKILL');
      while (isAlive(pid)) await sleep(100);
      const starting = Date.now();
      await up();
      return { stopMs: starting - stopping, startMs: Date.now() - starting };
    },
    async stop() {
      await run(DOWN, { env, timeout: 90_000 });
      await rm(state, { recursive: true, force: true });
    },
  };
}
