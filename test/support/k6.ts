import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * k6 scripts (k8s/k6/) run in Node with stubbed `k6` and `k6/http` modules, so a test can read
 * their options and the requests one iteration makes, and replay those against a real producer.
 * k6 itself is not available here (see test/observability/k6.unit.test.ts).
 *
 * How: the script's text has its k6 imports replaced by reads of a per-load stub object, k6's
 * globals (__ENV, __VU, __ITER) bound to that object, and is then imported as a data: URL.
 * Files beside the script (./env.js) are loaded the same way; any other import fails (k6 runs
 * the scripts from the ConfigMap k6-scripts, where only those files are).
 */

export interface K6Params {
  headers?: Record<string, string>;
  tags?: Record<string, string>;
  [key: string]: unknown;
}
export interface K6Request {
  method: string;
  url: string;
  body: string | null;
  params: K6Params;
}
export interface K6Check {
  name: string;
  passed: boolean;
}
export interface K6Run {
  requests: K6Request[];
  checks: K6Check[];
}
export interface K6Script {
  /** The script's exported options, as k6 would read them. */
  options: any;
  /** Calls the exported default function (or each scenario's exec) n times, as VU 1. */
  run(iterations: number): Promise<K6Run>;
}
export interface LoadOptions {
  /** The stubbed response's status for a request (201 by default, what the producer answers). */
  status?: (request: K6Request) => number;
}

interface Stub {
  env: Record<string, string>;
  vu: number;
  iter: number;
  k6: Record<string, unknown>;
  'k6/http': Record<string, unknown>;
}

const REGISTRY = '__k6Stubs';
let loads = 0;

/** The stubs one load of a script sees; `record` receives every request and check. */
function stubs(env: Record<string, string>, record: K6Run, opts: LoadOptions): Stub {
  const request = (method: string, url: string, body: unknown = null, params: K6Params = {}) => {
    // k6 sends an object body form-encoded.
    const text = body === null || body === undefined ? null : typeof body === 'object' ? new URLSearchParams(body as Record<string, string>).toString() : String(body);
    const req: K6Request = { method, url: String(url), body: text, params };
    record.requests.push(req);
    const status = opts.status?.(req) ?? 201;
    return { status, body: null, headers: {}, request: req, timings: { duration: 0 }, error: '', error_code: 0 };
  };
  const http = {
    request,
    get: (url: string, params?: K6Params) => request('GET', url, null, params),
    head: (url: string, params?: K6Params) => request('HEAD', url, null, params),
    options: (url: string, body?: unknown, params?: K6Params) => request('OPTIONS', url, body, params),
    post: (url: string, body?: unknown, params?: K6Params) => request('POST', url, body, params),
    put: (url: string, body?: unknown, params?: K6Params) => request('PUT', url, body, params),
    patch: (url: string, body?: unknown, params?: K6Params) => request('PATCH', url, body, params),
    del: (url: string, body?: unknown, params?: K6Params) => request('DELETE', url, body, params),
  };
  const k6 = {
    check(value: unknown, sets: Record<string, (v: unknown) => unknown>) {
      let all = true;
      for (const [name, predicate] of Object.entries(sets)) {
        const passed = Boolean(typeof predicate === 'function' ? predicate(value) : predicate);
        record.checks.push({ name, passed });
        all &&= passed;
      }
      return all;
    },
    sleep() {},
    group: (_name: string, fn: () => unknown) => fn(),
    fail(message: string) {
      throw new Error(message);
    },
  };
  return { env: { ...env }, vu: 0, iter: 0, k6, 'k6/http': { default: http, ...http } };
}

const dataUrl = (source: string) => `data:text/javascript;base64,${Buffer.from(source).toString('base64')}`;

/**
 * The script's text as a module that takes its k6 imports and globals from stub `id`. A relative
 * import (./env.js, beside the script as in the ConfigMap) is rewritten the same way and imported
 * as its own data: URL.
 */
function rewrite(source: string, path: string, id: number): string {
  const stub = `globalThis.${REGISTRY}[${id}]`;
  const body = source.replace(/^\s*import\s+([^'";]+?)\s+from\s+['"]([^'"]+)['"];?/gm, (_all, clause: string, from: string) => {
    if (from.startsWith('./')) {
      const file = join(dirname(path), from);
      return `import ${clause} from '${dataUrl(rewrite(readFileSync(file, 'utf8'), file, id))}';`;
    }
    if (from !== 'k6' && from !== 'k6/http') throw new Error(`${path}: imports ${from}; only k6, k6/http and files beside the script are known`);
    const module = `${stub}[${JSON.stringify(from)}]`;
    return clause
      .split(/,(?![^{]*\})/)
      .map((part) => part.trim())
      .map((part) => {
        if (part.startsWith('{')) return `const ${part.replace(/\s+as\s+/g, ': ')} = ${module};`;
        const ns = /^\*\s+as\s+(\w+)$/.exec(part);
        if (ns) return `const ${ns[1]} = ${module};`;
        return `const ${part} = ${module}.default ?? ${module};`;
      })
      .join(' ');
  });
  if (/^\s*import\s(?!.* from 'data:)/m.test(body)) throw new Error(`${path}: an import form the k6 stubs do not handle`);
  // k6's per-VU globals read the stub at each use, so run() can change them between iterations.
  return `const __ENV = ${stub}.env;\n${body.replace(/\b__VU\b/g, `${stub}.vu`).replace(/\b__ITER\b/g, `${stub}.iter`)}`;
}

/**
 * Loads a k6 script with `env` as its __ENV (k6's -e). Throws what the script throws in its init
 * code (k6 would stop there too, before any request).
 */
export async function loadK6Script(path: string, env: Record<string, string> = {}, opts: LoadOptions = {}): Promise<K6Script> {
  const id = ++loads;
  const record: K6Run = { requests: [], checks: [] };
  const stub = stubs(env, record, opts);
  const registry = ((globalThis as any)[REGISTRY] ??= {}) as Record<number, Stub>;
  registry[id] = stub;
  const url = dataUrl(rewrite(readFileSync(path, 'utf8'), path, id));
  let mod: any;
  try {
    mod = await import(/* @vite-ignore */ url);
  } catch (err) {
    delete registry[id];
    throw err;
  }
  const options = mod.options ?? {};
  const execs: string[] = Object.values<any>(options.scenarios ?? {}).map((s) => s.exec ?? 'default');
  return {
    options,
    async run(iterations: number) {
      record.requests = [];
      record.checks = [];
      const data = typeof mod.setup === 'function' ? await mod.setup() : undefined;
      stub.vu = 1;
      for (const exec of execs.length ? execs : ['default']) {
        const fn = mod[exec];
        if (typeof fn !== 'function') throw new Error(`${path}: a scenario's exec "${exec}" is not an exported function`);
        for (let i = 0; i < iterations; i++) {
          stub.iter = i;
          await fn(data);
        }
      }
      if (typeof mod.teardown === 'function') await mod.teardown(data);
      return { requests: [...record.requests], checks: [...record.checks] };
    },
  };
}

/**
 * Sends recorded requests, one after the other, to baseUrl instead of the origin they name (path
 * and query kept), with their method, body and headers. Returns each response's status.
 */
export async function replay(requests: K6Request[], baseUrl: string): Promise<number[]> {
  const statuses: number[] = [];
  for (const req of requests) {
    const original = new URL(req.url);
    const target = new URL(original.pathname + original.search, baseUrl);
    const res = await fetch(target, { method: req.method, headers: req.params.headers ?? {}, body: req.body ?? undefined });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  return statuses;
}
