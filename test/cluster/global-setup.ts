import { execFileSync, spawn } from 'node:child_process';
import { REPO } from '../support/paths.js';
import { clusterEnv, TEST_SETS } from './support.js';

/**
 * The cluster project's setup: the real one-node cluster of hack/cluster (make cluster-up, unless
 * it already runs) and the lab on it (make up CLUSTER=local, which builds and imports the images
 * like make images, with the tests' values), then afterwards make down, and make cluster-down
 * when this setup started the cluster (a cluster that was already up stays up). Needs root.
 */
const say = (line: string) => console.log(`[cluster setup] ${line}`);

/** make <args>, its progress on this terminal; asynchronous, so vitest's own work goes on meanwhile. */
async function make(args: string[]): Promise<void> {
  const started = Date.now();
  say(`make ${args.join(' ')}`);
  const child = spawn('make', ['-s', ...args], { cwd: REPO, stdio: 'inherit' });
  const code = await new Promise<number | null>((resolve, reject) => child.once('error', reject).once('exit', resolve));
  if (code !== 0) throw new Error(`make ${args.join(' ')} failed (exit ${code}); its output is above`);
  say(`make ${args[0]}: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

function apiUp(): boolean {
  try {
    execFileSync(`${clusterEnv.CLUSTER_BIN}/kubectl`, ['--context', clusterEnv.KUBE_CONTEXT, '--request-timeout=5s', 'get', '--raw', '/readyz'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export default async function setup() {
  if (process.getuid?.() !== 0) {
    throw new Error('the cluster tests run a real Kubernetes node (containerd, iptables, mounts) and need root; without root run: npx vitest run --project unit --project integration');
  }
  const wasUp = apiUp();
  say(wasUp ? 'the local node is already up: it stays up afterwards' : 'the local node is not up: starting it, and stopping it afterwards');
  let started = false;
  try {
    if (!wasUp) {
      started = true;
      await make(['cluster-up']);
    }
    await make(['up', 'CLUSTER=local', `HELM_ARGS=${TEST_SETS.map((s) => `--set ${s}`).join(' ')}`]);
  } catch (err) {
    await teardown(started);
    throw err;
  }
  return () => teardown(started);
}

async function teardown(stopCluster: boolean): Promise<void> {
  try {
    if (apiUp()) await make(['down']);
  } finally {
    if (stopCluster) await make(['cluster-down']);
  }
}
