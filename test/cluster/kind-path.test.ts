import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Ajv from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { CHART, helm, helmBinary, KUBE_VERSION, RELEASE, type K8sObject } from '../support/helm.js';
import { REPO } from '../support/paths.js';

/*
 * The kind path (users with Docker), as far as a machine without a Docker daemon can prove it:
 * kind-config.yaml, skaffold.yaml, k8s/strimzi/values.yaml and hack/deploy/kind.sh (the kind
 * branch of `make up`). Nothing here creates a kind cluster or builds with Docker.
 *
 * skaffold.yaml is checked twice:
 * - always, against skaffold's published JSON schema for its apiVersion (v4beta14), read from the
 *   skaffold module in the Go module cache (`go mod download`; nothing fetched is kept in the repo):
 *   the file as written and each profile applied (profile fields over the base, then its patches);
 * - with the real skaffold, built from the Go module proxy by hack/cluster/skaffold.sh (`make
 *   cluster-build`, which `make test` runs first, builds it once: about 9 minutes cold): the
 *   effective config of each profile (`skaffold diagnose --yaml-only`), the manifests skaffold
 *   renders offline with given images, and the documented limit of the local profile.
 */

const run = promisify(execFile);
const NS = 'backpressure-lab';
const readYaml = (path: string): any => parseYaml(readFileSync(join(REPO, path), 'utf8'));

/** The four images: skaffold artifact and chart default, Dockerfile, values key, Deployment. */
const IMAGES = [
  { name: 'producer', dockerfile: 'services/producer/Dockerfile', values: 'producer', deployment: 'producer' },
  { name: 'consumer', dockerfile: 'services/consumer/Dockerfile', values: 'consumer', deployment: 'consumer' },
  { name: 'lag-monitor', dockerfile: 'services/lag-monitor/Dockerfile', values: 'lagMonitor', deployment: 'lag-monitor' },
  { name: 'operator', dockerfile: 'operator/Dockerfile', values: 'operator', deployment: 'lag-autoscaler' },
].map((i) => ({ ...i, image: `backpressure-lab/${i.name}` }));
/** The seed's ports: Service name and port, forwarded to the same local port. */
const PORTS = [
  ['producer', 8000],
  ['consumer', 8001],
  ['lag-monitor', 8010],
  ['lag-autoscaler', 8020],
] as const;

/** skaffold's name for an artifact in setValueTemplates (pkg/skaffold/util SanitizeHelmTemplateValue). */
const templateName = (image: string) => image.replace(/[./:-]/g, '_');

const skaffold = readYaml('skaffold.yaml');
const profile = (name: string) => {
  const found = (skaffold.profiles as any[]).find((p) => p.name === name);
  if (!found) throw new Error(`skaffold.yaml has no profile ${name}`);
  return found;
};
const strimziValues = readYaml('k8s/strimzi/values.yaml');
const strimziHeader = (field: string) =>
  readFileSync(join(REPO, 'k8s/strimzi/values.yaml'), 'utf8').match(new RegExp(`^#\\s*${field}\\s+(\\S+)`, 'm'))?.[1];

// --- JSON patches (RFC 6902 add/replace), as skaffold applies a profile's `patches` ----------------
function pointer(path: string): string[] {
  return path.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}
function applyPatches(doc: any, patches: { op: string; path: string; value?: unknown }[]): any {
  const out = structuredClone(doc);
  for (const { op, path, value } of patches) {
    const tokens = pointer(path);
    const last = tokens.pop()!;
    let parent = out;
    for (const t of tokens) {
      parent = Array.isArray(parent) ? parent[Number(t)] : parent[t];
      if (parent === undefined) throw new Error(`patch ${op} ${path}: no ${t}`);
    }
    if (op === 'add' && Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, value);
    else if (op === 'add') parent[last] = value;
    else if (op === 'replace') {
      if (!(last in parent)) throw new Error(`patch replace ${path}: nothing to replace`);
      parent[last] = value;
    } else throw new Error(`unsupported patch op ${op}`);
  }
  return out;
}
/** The config a profile makes: its fields over the base's (build, deploy, ...), then its patches. */
function withProfile(name: string): any {
  const p = profile(name);
  const fields = Object.fromEntries(Object.entries(p).filter(([k]) => !['name', 'activation', 'patches'].includes(k)));
  const base = structuredClone(skaffold);
  delete base.profiles;
  return applyPatches({ ...base, ...fields }, p.patches ?? []);
}

// --- Tools ------------------------------------------------------------------------------------------
async function sh(script: string, env: NodeJS.ProcessEnv = {}, cwd = REPO) {
  try {
    const { stdout, stderr } = await run('bash', ['-c', script], { cwd, env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

/** The skaffold version hack/cluster/skaffold.sh builds, and its v4beta14 schema from the Go module cache. */
const SKAFFOLD_VERSION = readFileSync(join(REPO, 'hack/cluster/skaffold.sh'), 'utf8').match(/SKAFFOLD_VERSION:-(v[\d.]+)/)?.[1];
async function skaffoldSchema(apiVersion: string): Promise<object> {
  const { stdout } = await run('go', ['mod', 'download', '-json', `github.com/GoogleContainerTools/skaffold/v2@${SKAFFOLD_VERSION}`], {
    timeout: 600_000,
    maxBuffer: 16 << 20,
  });
  const dir = (JSON.parse(stdout) as { Dir: string }).Dir;
  return JSON.parse(readFileSync(join(dir, 'docs-v2/content/en/schemas', `${apiVersion.replace('skaffold/', '')}.json`), 'utf8'));
}

/** The skaffold binary (built once and cached by hack/cluster/skaffold.sh, which prints its path). */
let SKAFFOLD_BIN: string;

let work: string;
/**
 * skaffold with a private HOME (its global config: no metrics, no update check, no survey), helm on
 * PATH, and no kubeconfig: nothing here talks to a cluster, and no profile auto-activates.
 */
async function skaffoldRun(args: string[]) {
  try {
    const { stdout, stderr } = await run(SKAFFOLD_BIN, args, {
      cwd: REPO,
      timeout: 120_000,
      maxBuffer: 16 << 20,
      env: { ...process.env, HOME: join(work, 'home'), PATH: `${join(work, 'home/bin')}:${process.env.PATH}`, KUBECONFIG: '/dev/null', SKAFFOLD_UPDATE_CHECK: 'false' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'bplab-kind-path-'));
  mkdirSync(join(work, 'home/.skaffold'), { recursive: true });
  mkdirSync(join(work, 'home/bin'));
  writeFileSync(join(work, 'home/.skaffold/config'), 'global:\n  collect-metrics: false\n  update-check: false\n  survey:\n    disable-prompt: true\n');
  symlinkSync(await helmBinary(), join(work, 'home/bin/helm'));
  SKAFFOLD_BIN = (await run('bash', [join(REPO, 'hack/cluster/skaffold.sh')], { timeout: 1_200_000 })).stdout.trim();
}, 1_200_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('kind-config.yaml', () => {
  const kind = readYaml('kind-config.yaml');

  it('is a kind v1alpha4 Cluster named backpressure-lab: a control plane and a worker, no port mappings', () => {
    expect(kind.kind).toBe('Cluster');
    expect(kind.apiVersion).toBe('kind.x-k8s.io/v1alpha4');
    expect(kind.name).toBe('backpressure-lab');
    expect(kind.nodes.map((n: any) => n.role)).toEqual(['control-plane', 'worker']);
    for (const node of kind.nodes) expect(node.extraPortMappings).toBeUndefined();
  });

  it("pins each node to a v1.34 kindest/node image by digest, the minor of the local node's Kubernetes", () => {
    const localMinor = readFileSync(join(REPO, 'hack/cluster/env.sh'), 'utf8').match(/K8S_VERSION:-v1\.(\d+)\./)?.[1];
    expect(localMinor).toBe('34');
    for (const node of kind.nodes) expect(node.image).toMatch(new RegExp(`^kindest/node:v1\\.${localMinor}\\.\\d+@sha256:[0-9a-f]{64}$`));
    expect(new Set(kind.nodes.map((n: any) => n.image)).size).toBe(1);
  });
});

describe('skaffold.yaml, read as data', () => {
  const release = skaffold.deploy.helm.releases[0];

  it('builds the four images from the repository root with their Dockerfiles (ARG NODE_IMAGE, Docker defaults)', () => {
    expect(skaffold.apiVersion).toBe('skaffold/v4beta14');
    expect(skaffold.build.artifacts.map((a: any) => a.image)).toEqual(IMAGES.map((i) => i.image));
    for (const [n, artifact] of (skaffold.build.artifacts as any[]).entries()) {
      expect(artifact.context).toBe('.');
      expect(artifact.docker).toEqual({ dockerfile: IMAGES[n]!.dockerfile });
      expect(readFileSync(join(REPO, IMAGES[n]!.dockerfile), 'utf8')).toMatch(/^ARG NODE_IMAGE=node:\d+-alpine$/m);
    }
  });

  it("sets every image's repository and tag through the chart's values paths, nothing else", () => {
    const values = readYaml('helm/backpressure-lab/values.yaml');
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
    const expected: Record<string, string> = {};
    for (const i of IMAGES) {
      expected[`${i.values}.image.repository`] = `{{.IMAGE_REPO_${templateName(i.image)}}}`;
      expected[`${i.values}.image.tag`] = `{{.IMAGE_TAG_${templateName(i.image)}}}`;
      // The chart's default repository is the artifact's name: the kind path loads exactly that.
      expect(values[i.values].image.repository).toBe(i.image);
      expect(schema.properties[i.values].properties.image).toBeDefined();
    }
    expect(release.setValueTemplates).toEqual(expected);
    expect(release).toMatchObject({ name: RELEASE, chartPath: 'helm/backpressure-lab', namespace: NS, createNamespace: true });
    expect(release.setValues).toEqual({ 'kafka.provider': 'strimzi' });
  });

  it('labels the namespace for the restricted Pod Security level before helm installs (a valid sh hook)', async () => {
    const [hook] = skaffold.deploy.helm.hooks.before;
    expect(hook.host.command.slice(0, 2)).toEqual(['sh', '-c']);
    const script = hook.host.command[2] as string;
    for (const label of ['enforce=restricted', 'enforce-version=latest', 'warn=restricted', 'audit=restricted']) {
      expect(script).toContain(`pod-security.kubernetes.io/${label}`);
    }
    writeFileSync(join(work, 'hook.sh'), script);
    const check = await sh(`sh -n "${work}/hook.sh" && shellcheck -s sh -S warning "${work}/hook.sh"`);
    expect(check.stderr + check.stdout).toBe('');
    expect(check.code).toBe(0);
    // Run by sh with a kubectl that logs its calls: creates the namespace only when it is missing,
    // labels it either way, always in skaffold's kube-context.
    const bin = join(work, 'hook-bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'kubectl'), `#!/usr/bin/env bash\necho "$*" >>"$CALLS"\n[[ "$*" == *" get namespace "* && -z "$NS_EXISTS" ]] && exit 1\nexit 0\n`);
    chmodSync(join(bin, 'kubectl'), 0o755);
    for (const exists of ['', '1']) {
      const calls = join(work, `hook-calls-${exists || 'missing'}`);
      const r = await sh(`sh "${work}/hook.sh"`, { PATH: `${bin}:${process.env.PATH}`, CALLS: calls, NS_EXISTS: exists, SKAFFOLD_KUBE_CONTEXT: 'kind-x' });
      expect(r.code, r.stderr).toBe(0);
      const lines = readFileSync(calls, 'utf8').trim().split('\n');
      expect(lines.map((l) => l.split(' ').slice(0, 4).join(' '))).toEqual([
        `--context kind-x get namespace`,
        ...(exists ? [] : ['--context kind-x create namespace']),
        '--context kind-x label --overwrite',
      ]);
      expect(lines.at(-1)).toContain(`namespace ${NS} pod-security.kubernetes.io/enforce=restricted`);
    }
  });

  it("forwards the seed's ports from the chart's Services, which render with the images skaffold sets", async () => {
    expect(skaffold.portForward).toEqual(
      PORTS.map(([name, port]) => ({ resourceType: 'service', resourceName: name, namespace: NS, port, localPort: port })),
    );
    // helm template with the --set lines skaffold derives from setValueTemplates for built images.
    const sets = IMAGES.flatMap((i) => ['--set', `${i.values}.image.repository=${i.image}`, '--set', `${i.values}.image.tag=0f1e2d3c`]);
    const objects = parseAllDocuments(
      await helm(['template', RELEASE, CHART, '--namespace', NS, '--kube-version', KUBE_VERSION, '--set', 'kafka.provider=strimzi', ...sets]),
    )
      .map((d) => d.toJSON() as K8sObject | null)
      .filter((o): o is K8sObject => o !== null);
    for (const i of IMAGES) {
      const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === i.deployment);
      expect(deployment?.spec.template.spec.containers[0].image).toBe(`${i.image}:0f1e2d3c`);
    }
    for (const [name, port] of PORTS) {
      const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === name);
      expect(service?.spec.ports.map((p: any) => p.port)).toEqual([port]);
    }
  });

  it('strimzi profile: on the kind context, Strimzi\'s operator as pinned in k8s/strimzi/values.yaml, before the lab', () => {
    const strimzi = profile('strimzi');
    expect(strimzi.activation).toEqual([{ kubeContext: `kind-${readYaml('kind-config.yaml').name}` }]);
    const config = withProfile('strimzi');
    expect(config.deploy.helm.releases.map((r: any) => r.name)).toEqual(['strimzi', 'kube-prometheus-stack', RELEASE]);
    expect(config.deploy.helm.releases[0]).toEqual({
      name: 'strimzi',
      remoteChart: strimziHeader('chart'),
      version: strimziHeader('version'),
      namespace: 'strimzi',
      createNamespace: true,
      valuesFiles: ['k8s/strimzi/values.yaml'],
      wait: true,
    });
    expect(strimziHeader('chart')).toBe('oci://quay.io/strimzi-helm/strimzi-kafka-operator');
    expect(strimziHeader('version')).toBe('1.2.0');
    // kube-prometheus-stack as k8s/ pins it and kind.sh installs it: the CRDs the lab's monitors need.
    expect(config.deploy.helm.releases[1]).toEqual({
      name: 'kube-prometheus-stack',
      repo: header(KPS_VALUES, 'chart'),
      remoteChart: 'kube-prometheus-stack',
      version: header(KPS_VALUES, 'version'),
      namespace: 'monitoring',
      createNamespace: true,
      valuesFiles: [KPS_VALUES],
      wait: true,
    });
    expect(config.deploy.helm.releases[2].dependsOn).toEqual(['strimzi', 'kube-prometheus-stack']);
  });

  it('local profile: images.sh bud for each Dockerfile, no push, the local node values and kafka.provider=plain', () => {
    const local = withProfile('local');
    expect(local.build.local).toMatchObject({ push: false });
    expect(local.build.artifacts.map((a: any) => a.image)).toEqual(IMAGES.map((i) => i.image));
    for (const [n, artifact] of (local.build.artifacts as any[]).entries()) {
      expect(artifact.context).toBe('.');
      expect(artifact.custom.buildCommand).toBe(`hack/cluster/images.sh bud "$IMAGE" ${IMAGES[n]!.dockerfile} .`);
      for (const path of artifact.custom.dependencies.paths) expect(existsSync(join(REPO, path)), path).toBe(true);
      // Every file its Dockerfile copies from the context is a dependency (so skaffold dev rebuilds).
      const copies = [...readFileSync(join(REPO, IMAGES[n]!.dockerfile), 'utf8').matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(' '));
      for (const src of copies) {
        expect(artifact.custom.dependencies.paths.some((p: string) => src === p || src.startsWith(`${p}/`)), `${IMAGES[n]!.name}: ${src}`).toBe(true);
      }
    }
    expect(readFileSync(join(REPO, 'hack/cluster/images.sh'), 'utf8')).toMatch(/^\s*bud\) shift;/m);
    const release = local.deploy.helm.releases[0];
    expect(release.valuesFiles).toEqual(['k8s/local-node-values.yaml']);
    expect(existsSync(join(REPO, 'k8s/local-node-values.yaml'))).toBe(true);
    expect(release.setValues['kafka.provider']).toBe('plain');
    expect(release.setValueTemplates).toEqual(skaffold.deploy.helm.releases[0].setValueTemplates);
  });
});

describe('skaffold.yaml against skaffold\'s JSON schema', () => {
  let validate: Ajv.ValidateFunction;
  beforeAll(async () => {
    validate = new Ajv({ allErrors: true }).compile(await skaffoldSchema(skaffold.apiVersion));
  }, 600_000);
  const errors = () => (validate.errors ?? []).map((e) => `${e.dataPath} ${e.message}`).join('; ');

  it.each([['as written'], ['strimzi'], ['local']])('%s', (name) => {
    const config = name === 'as written' ? skaffold : withProfile(name);
    expect(validate(config), errors()).toBe(true);
  });

  it('rejects what skaffold would (the schema is strict enough to mean something)', () => {
    const broken = structuredClone(skaffold);
    broken.deploy.helm.releases[0].setValueTemplate = broken.deploy.helm.releases[0].setValueTemplates;
    expect(validate(broken)).toBe(false);
  });
});

describe('skaffold.yaml, with the real skaffold', () => {
  /** NAME=TAG pairs as `skaffold deploy/render -i` takes them (what images.sh lab prints, prefixed). */
  const images = (repo: (name: string) => string) => IMAGES.map((i) => `${i.image}=${repo(i.name)}:t-7`).join(',');
  const renderObjects = async (args: string[]) => {
    const r = await skaffoldRun(['render', '--offline', '--digest-source=tag', ...args]);
    expect(r.code, r.stderr).toBe(0);
    return parseAllDocuments(r.stdout)
      .map((d) => d.toJSON() as K8sObject | null)
      .filter((o): o is K8sObject => o !== null);
  };

  it.each([
    ['', [RELEASE]],
    ['strimzi', ['strimzi', 'kube-prometheus-stack', RELEASE]],
    ['local', [RELEASE]],
  ])('skaffold diagnose --yaml-only -p "%s" reads the file and applies the profile', async (name, releases) => {
    const r = await skaffoldRun(['diagnose', '--yaml-only', ...(name ? ['-p', name] : [])]);
    expect(r.code, r.stderr).toBe(0);
    const config = parseYaml(r.stdout);
    expect(config.apiVersion).toBe('skaffold/v4beta14');
    expect(config.deploy.helm.releases.map((x: any) => x.name)).toEqual(releases);
    const lab = config.deploy.helm.releases.at(-1);
    expect(lab.setValues['kafka.provider']).toBe(name === 'local' ? 'plain' : 'strimzi');
    expect(Object.keys(config.build.artifacts[0])).toContain(name === 'local' ? 'custom' : 'docker');
  });

  it('skaffold render (default): Strimzi\'s Kafka and the four Deployments on the given images', async () => {
    const objects = await renderObjects(['-i', images((n) => `backpressure-lab/${n}`)]);
    for (const i of IMAGES) {
      const d = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === i.deployment);
      expect(d?.spec.template.spec.containers[0].image).toBe(`backpressure-lab/${i.name}:t-7`);
    }
    expect(objects.filter((o) => o.apiVersion === 'kafka.strimzi.io/v1').map((o) => o.kind)).toEqual(
      expect.arrayContaining(['Kafka', 'KafkaNodePool', 'KafkaTopic']),
    );
    expect(objects.some((o) => o.kind === 'StatefulSet')).toBe(false);
  });

  it('skaffold render -p local: the local node values, the plain Kafka, images that are never pulled', async () => {
    const objects = await renderObjects(['-p', 'local', '-i', images((n) => `localhost/bplab/${n}`)]);
    for (const i of IMAGES) {
      const container = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === i.deployment)?.spec.template.spec.containers[0];
      expect(container?.image).toBe(`localhost/bplab/${i.name}:t-7`);
      expect(container?.imagePullPolicy).toBe('Never');
    }
    const kafka = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'kafka');
    expect(kafka?.spec.template.spec.containers[0].image).toMatch(/^localhost\/bplab\/kafka:/);
    expect(objects.some((o) => o.apiVersion === 'kafka.strimzi.io/v1')).toBe(false);
  });

  it('skaffold build -p local stops at once without a Docker daemon, as skaffold.yaml says (no build runs)', async () => {
    const docker = await sh('timeout 15 docker info');
    if (docker.code === 0) return; // a Docker daemon answers here: the limit does not show
    const r = await skaffoldRun(['build', '-p', 'local']);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/docker (API|daemon)/i);
  });
});

describe('k8s/strimzi/values.yaml, against the Strimzi 1.2.0 chart', () => {
  /*
   * The top-level keys of strimzi-kafka-operator's values.yaml at Strimzi's tag 1.2.0
   * (strimzi/strimzi-kafka-operator, packaging/helm-charts/helm3/strimzi-kafka-operator/values.yaml).
   * The chart has no values.schema.json: a misspelt key would be ignored silently, hence this list.
   */
  const STRIMZI_1_2_0_KEYS = [
    'replicas', 'watchNamespaces', 'watchAnyNamespace', 'defaultImageRegistry', 'defaultImageRepository',
    'defaultImageTag', 'image', 'logVolume', 'logConfigMap', 'logConfiguration', 'logLevel',
    'fullReconciliationIntervalMs', 'operationTimeoutMs', 'kubernetesServiceDnsDomain', 'featureGates',
    'tmpDirSizeLimit', 'extraEnvs', 'tolerations', 'topologySpreadConstraints', 'affinity', 'annotations',
    'labels', 'nodeSelector', 'deploymentAnnotations', 'deploymentLabels', 'deploymentStrategy',
    'priorityClassName', 'hostUsers', 'enableServiceLinks', 'podSecurityContext', 'securityContext', 'rbac',
    'serviceAccountCreate', 'serviceAccount', 'leaderElection', 'podDisruptionBudget', 'operatorNetworkPolicy',
    'dashboards', 'kafka', 'kafkaConnect', 'topicOperator', 'userOperator', 'kafkaInit', 'kafkaBridge',
    'kafkaExporter', 'kafkaMirrorMaker2', 'cruiseControl', 'kanikoExecutor', 'buildah', 'mavenBuilder',
    'resources', 'livenessProbe', 'readinessProbe', 'createGlobalResources', 'createAggregateRoles',
    'labelsExclusionPattern', 'generateNetworkPolicy', 'connectBuildTimeoutMs', 'generatePodDisruptionBudget',
  ];

  it('pins chart 1.2.0 and sets only keys that chart reads, in the shapes its templates use', () => {
    expect(strimziHeader('version')).toBe('1.2.0');
    for (const key of Object.keys(strimziValues)) expect(STRIMZI_1_2_0_KEYS, key).toContain(key);
    // watchNamespaces: a list of namespaces; extraEnvs: container env entries (toYaml into env);
    // resources: a container's requests and limits (toYaml into resources).
    expect(strimziValues.watchNamespaces).toEqual([NS]);
    for (const env of strimziValues.extraEnvs) expect(Object.keys(env).sort()).toEqual(['name', 'value']);
    expect(Object.keys(strimziValues.resources).sort()).toEqual(['limits', 'requests']);
    for (const part of Object.values(strimziValues.resources) as Record<string, string>[]) {
      for (const k of Object.keys(part)) expect(['cpu', 'memory']).toContain(k);
    }
    // The lab's namespace enforces the restricted level: Strimzi's pods there must meet it.
    expect(strimziValues.extraEnvs).toContainEqual({ name: 'STRIMZI_POD_SECURITY_PROVIDER_CLASS', value: 'restricted' });
  });
});

const KPS_VALUES = 'k8s/kube-prometheus-stack/values.yaml';
const KAFKA_UI_VALUES = 'k8s/kafka-ui/values.yaml';
/** A '#   <field> <value>' line of a values file's header (the chart's repository, its version). */
const header = (path: string, field: string) => readFileSync(join(REPO, path), 'utf8').match(new RegExp(`^#\\s*${field}\\s+(\\S+)`, 'm'))?.[1];
/** Every leaf path of a values object, dotted (kube-state-metrics stays one key). */
const leafPaths = (o: Record<string, unknown>, prefix = ''): string[] =>
  Object.entries(o).flatMap(([k, v]) =>
    v && typeof v === 'object' && !Array.isArray(v) && !['resources', 'podSecurityContext', 'securityContext', 'yamlApplicationConfig'].includes(k)
      ? leafPaths(v as Record<string, unknown>, `${prefix}${k}.`)
      : [`${prefix}${k}`],
  );

describe('the kind-only monitoring: kube-prometheus-stack and the Kafka UI (their charts cannot be fetched here)', () => {
  /*
   * Paths these values files may set, read from kube-prometheus-stack 88.x's values.yaml
   * (prometheus-community/helm-charts, charts/kube-prometheus-stack; grafana.* and
   * kube-state-metrics.* are its subcharts' values) and kafbat's kafka-ui 1.5.2 values.yaml. Neither
   * chart has a values.schema.json: a misspelt key would be ignored silently, hence these lists.
   */
  const KPS_88_PATHS = [
    'kubeEtcd.enabled', 'kubeScheduler.enabled', 'kubeControllerManager.enabled', 'kubeProxy.enabled', 'nodeExporter.enabled',
    'alertmanager.enabled', 'prometheus.prometheusSpec.scrapeInterval', 'prometheus.prometheusSpec.evaluationInterval',
    'prometheus.prometheusSpec.retention', 'prometheus.prometheusSpec.resources', 'grafana.defaultDashboardsEnabled',
    'grafana.sidecar.dashboards.enabled', 'grafana.sidecar.dashboards.label', 'grafana.sidecar.dashboards.labelValue',
    'grafana.sidecar.dashboards.searchNamespace', 'grafana.resources', 'prometheusOperator.resources', 'kube-state-metrics.resources',
  ];
  const KAFKA_UI_1_5_PATHS = ['yamlApplicationConfig', 'podSecurityContext', 'securityContext', 'volumes', 'volumeMounts', 'resources'];
  const kps = readYaml(KPS_VALUES);
  const kafkaUi = readYaml(KAFKA_UI_VALUES);
  const chartValues = readYaml('helm/backpressure-lab/values.yaml');

  it('kube-prometheus-stack: pinned, only keys the chart reads, selecting the lab by its release label', () => {
    expect(header(KPS_VALUES, 'chart')).toBe('https://prometheus-community.github.io/helm-charts');
    expect(header(KPS_VALUES, 'version')).toMatch(/^88\.\d+\.\d+$/);
    for (const path of leafPaths(kps)) expect(KPS_88_PATHS, path).toContain(path);
    // Its Prometheus selects release=<its release name> (the *NilUsesHelmValues defaults, left
    // alone): the release kind.sh installs must be the label the lab's chart puts on its monitors.
    expect(chartValues.monitoring.releaseLabel).toBe('kube-prometheus-stack');
    expect(kps.prometheus.prometheusSpec).not.toHaveProperty('serviceMonitorSelectorNilUsesHelmValues');
    // Grafana's sidecar loads the dashboard ConfigMap by the label the chart gives it.
    expect(kps.grafana.sidecar.dashboards).toMatchObject({ enabled: true, label: 'grafana_dashboard', labelValue: '1', searchNamespace: 'ALL' });
    expect(readFileSync(join(CHART, 'templates/grafana-dashboard.yaml'), 'utf8')).toMatch(/grafana_dashboard: "1"/);
  });

  it('the Kafka UI: pinned, only keys the chart reads, at the Strimzi bootstrap, admitted by the Kafka NetworkPolicy', () => {
    expect(header(KAFKA_UI_VALUES, 'chart')).toBe('https://kafbat.github.io/helm-charts');
    expect(header(KAFKA_UI_VALUES, 'version')).toBe('1.5.2');
    for (const path of leafPaths(kafkaUi)) expect(KAFKA_UI_1_5_PATHS, path).toContain(path);
    expect(kafkaUi.yamlApplicationConfig.kafka.clusters).toEqual([
      { name: NS, bootstrapServers: `${chartValues.kafka.strimzi.clusterName}-kafka-bootstrap.${NS}:9092` },
    ]);
    // kafbat's chart labels its pods app.kubernetes.io/name=<chart name> (kafka-ui).
    expect(chartValues.networkPolicy.kafkaUiPodSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'kafka-ui' } });
    expect(kafkaUi.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(kafkaUi.podSecurityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  });
});

describe('hack/deploy/kind.sh (the kind branch of make up)', () => {
  const LIB = 'hack/deploy/kind.sh';

  it('passes bash -n and shellcheck, as does hack/cluster/skaffold.sh', async () => {
    for (const script of [LIB, 'hack/cluster/skaffold.sh']) {
      const r = await sh(`bash -n ${script} && shellcheck -x -S warning ${script}`);
      expect(r.stdout + r.stderr, script).toBe('');
      expect(r.code, script).toBe(0);
    }
  });

  it('names the same images, Dockerfiles and values keys as skaffold.yaml, and the same Strimzi chart', async () => {
    const r = await sh(
      `source hack/lib/common.sh; source ${LIB}
       for n in "\${KIND_IMAGES[@]}"; do echo "$n \${KIND_DOCKERFILE[$n]} \${KIND_VALUES_KEY[$n]}"; done
       kind_strimzi_chart; kind_strimzi_version; echo "$KIND_CONTEXT"; kind_tag; kind_tag`,
    );
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 4)).toEqual(IMAGES.map((i) => `${i.name} ${i.dockerfile} ${i.values}`));
    expect(lines.slice(4, 7)).toEqual([strimziHeader('chart'), strimziHeader('version'), profile('strimzi').activation[0].kubeContext]);
    expect(lines[7]).toMatch(/^[0-9a-f]{12}$/);
    expect(lines[8]).toBe(lines[7]);
  });

  it('kind_images + kind_up run the right docker, kind, kubectl and helm commands (stubbed tools)', async () => {
    // Stubs on PATH: each logs its argv (one call a line, arguments separated by \x1f); kind lists
    // the clusters it "created"; kubectl finds no namespace yet.
    const bin = join(work, 'stub-bin');
    const calls = join(work, 'calls.log');
    mkdirSync(bin, { recursive: true });
    const stub = (name: string, body = '') =>
      writeFileSync(join(bin, name), `#!/usr/bin/env bash\n{ printf %s ${name}; printf '\\x1f%s' "$@"; echo; } >>"${calls}"\n${body}\nexit 0\n`);
    stub('docker');
    stub(
      'kind',
      `case "$1 $2" in
         "version "*) echo "kind v0.33.0 go1.25.4 linux/amd64" ;;
         "get clusters") cat "${work}/clusters" 2>/dev/null ;;
         "create cluster") echo "$4" >>"${work}/clusters" ;;
       esac`,
    );
    stub('kubectl', `[[ "$*" == *" get namespace "* ]] && exit 1`);
    stub('helm');
    for (const name of ['docker', 'kind', 'kubectl', 'helm']) chmodSync(join(bin, name), 0o755);

    const r = await sh(`source hack/lib/common.sh; source ${LIB}; kind_images t1 >"${work}/refs"; kind_up t1 --set consumer.processingTimeMs=100`, {
      PATH: `${bin}:${process.env.PATH}`,
      DEPLOY_DIR: join(work, 'deploy'),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(work, 'refs'), 'utf8')).toBe(IMAGES.map((i) => `${i.name}=${i.image}:t1\n`).join(''));
    const log = readFileSync(calls, 'utf8').trim().split('\n').map((l) => l.split('\x1f'));
    const index = (pred: (c: string[]) => boolean) => log.findIndex(pred);
    const cmd = (c: string[]) => c.join(' ');

    // The cluster is created once, from kind-config.yaml, before anything is loaded into it.
    const creates = log.filter((c) => c[1] === 'create');
    expect(creates.map(cmd)).toEqual([`kind create cluster --name backpressure-lab --config ${REPO}/kind-config.yaml`]);
    for (const i of IMAGES) {
      expect(log.map(cmd)).toContain(`docker build --build-arg NODE_IMAGE=node:24-alpine -t ${i.image}:t1 -f ${i.dockerfile} .`);
      const load = index((c) => cmd(c) === `kind load docker-image --name backpressure-lab ${i.image}:t1`);
      expect(load).toBeGreaterThan(index((c) => c[1] === 'create'));
    }
    // The namespace, labelled, before Strimzi's chart; Strimzi waited for before the lab's chart.
    const label = index((c) => c[0] === 'kubectl' && c.includes('label'));
    const strimzi = index((c) => c[0] === 'helm' && c.includes('strimzi'));
    const rollout = index((c) => c[0] === 'kubectl' && c.includes('rollout'));
    const lab = index((c) => c[0] === 'helm' && c.includes(RELEASE));
    expect(label).toBeGreaterThanOrEqual(0);
    expect([label < strimzi, strimzi < rollout, rollout < lab]).toEqual([true, true, true]);
    expect(log[label]).toEqual(expect.arrayContaining(['pod-security.kubernetes.io/enforce=restricted']));
    expect(cmd(log[strimzi]!)).toBe(
      `helm --kube-context kind-backpressure-lab upgrade --install strimzi oci://quay.io/strimzi-helm/strimzi-kafka-operator --version 1.2.0 ` +
        `--namespace strimzi --create-namespace -f ${REPO}/k8s/strimzi/values.yaml --wait --timeout 5m`,
    );
    expect(cmd(log[rollout]!)).toContain('-n strimzi rollout status deployment/strimzi-cluster-operator');
    // Monitoring beside the lab, before its chart (whose ServiceMonitors need the CRDs): the two
    // charts as their values files pin them, and Jaeger's manifest.
    const kps = index((c) => c[0] === 'helm' && c.includes('kube-prometheus-stack'));
    const kafkaUi = index((c) => c[0] === 'helm' && c.includes('kafka-ui'));
    const jaeger = index((c) => c[0] === 'kubectl' && c.includes(`${REPO}/k8s/jaeger/jaeger.yaml`));
    expect([rollout < kps, kps < lab, kafkaUi < lab, jaeger < lab, jaeger > 0]).toEqual([true, true, true, true, true]);
    expect(cmd(log[kps]!)).toBe(
      `helm --kube-context kind-backpressure-lab upgrade --install kube-prometheus-stack kube-prometheus-stack ` +
        `--repo ${header(KPS_VALUES, 'chart')} --version ${header(KPS_VALUES, 'version')} --namespace monitoring --create-namespace ` +
        `-f ${REPO}/${KPS_VALUES} --wait --timeout 10m`,
    );
    expect(cmd(log[kafkaUi]!)).toBe(
      `helm --kube-context kind-backpressure-lab upgrade --install kafka-ui kafka-ui --repo ${header(KAFKA_UI_VALUES, 'chart')} ` +
        `--version ${header(KAFKA_UI_VALUES, 'version')} --namespace monitoring --create-namespace -f ${REPO}/${KAFKA_UI_VALUES} --wait --timeout 10m`,
    );
    expect(cmd(log[jaeger]!)).toBe(`kubectl --context kind-backpressure-lab apply -f ${REPO}/k8s/jaeger/jaeger.yaml`);

    // The lab's chart: its helm arguments render the four Deployments on the loaded images.
    const labArgs = log[lab]!.slice(1);
    expect(labArgs.slice(0, 6)).toEqual(['--kube-context', 'kind-backpressure-lab', 'upgrade', '--install', RELEASE, CHART]);
    expect(labArgs.slice(-2)).toEqual(['--set', 'consumer.processingTimeMs=100']);
    const rendered = parseAllDocuments(await helm(['template', ...labArgs.slice(4), '--kube-version', KUBE_VERSION]))
      .map((d) => d.toJSON() as K8sObject | null)
      .filter((o): o is K8sObject => o !== null);
    for (const i of IMAGES) {
      const d = rendered.find((o) => o.kind === 'Deployment' && o.metadata.name === i.deployment);
      expect(d?.spec.template.spec.containers[0].image).toBe(`${i.image}:t1`);
    }
    expect(rendered.find((o) => o.kind === 'Kafka')?.apiVersion).toBe('kafka.strimzi.io/v1');
  });
});
