import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { REPO } from './paths.js';

/** The chart, and the Kubernetes version it is rendered for (the testenv's, hack/testenv/env.sh). */
export const CHART = join(REPO, 'helm/backpressure-lab');
export const RELEASE = 'backpressure-lab';
export const KUBE_VERSION = 'v1.34.4';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: any;
  [field: string]: any;
}

const run = promisify(execFile);
let binary: Promise<string> | undefined;

/** helm, built once from the Go module proxy and cached (hack/cluster/helm.sh prints its path). */
export function helmBinary(): Promise<string> {
  binary ??= run('bash', [join(REPO, 'hack/cluster/helm.sh')], { timeout: 900_000 }).then((r) => r.stdout.trim());
  return binary;
}

/** Runs helm; only a command given a kubeconfig talks to a cluster (never the user's). */
export async function helm(args: string[], kubeconfig?: string): Promise<string> {
  const bin = await helmBinary();
  try {
    const { stdout } = await run(bin, kubeconfig ? ['--kubeconfig', kubeconfig, ...args] : args, {
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, KUBECONFIG: kubeconfig ?? '/dev/null' },
    });
    return stdout;
  } catch (err) {
    const { stderr } = err as { stderr?: string };
    throw new Error(`helm ${args.join(' ')}: ${stderr || String(err)}`);
  }
}

export function valueArgs(files: string[], sets: string[] = []): string[] {
  return [...files.flatMap((f) => ['-f', f]), ...sets.flatMap((s) => ['--set', s])];
}

/** helm template of the chart, as text (extra: e.g. ['--show-only', 'templates/operator.yaml']). */
export function renderText(namespace: string, files: string[] = [], sets: string[] = [], extra: string[] = []): Promise<string> {
  return helm(['template', RELEASE, CHART, '--namespace', namespace, '--kube-version', KUBE_VERSION, ...valueArgs(files, sets), ...extra]);
}

export async function render(namespace: string, files: string[] = [], sets: string[] = [], extra: string[] = []): Promise<K8sObject[]> {
  return parseAllDocuments(await renderText(namespace, files, sets, extra))
    .map((doc) => doc.toJSON() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}
