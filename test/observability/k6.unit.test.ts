import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { orderOverrides } from '../../services/producer/src/orders.js';
import { loadK6Script, replay, type K6Script } from '../support/k6.js';
import { REPO } from '../support/paths.js';

/**
 * The k6 load tests, k8s/k6/steady-producer.js and burst-producer.js (the chart's files/k6/, which
 * the Jobs of `make load-steady` / `make load-burst` run). k6 itself cannot be installed here: this
 * machine reaches nothing but package registries, k6 is not in Debian's archive, and the
 * grafana/k6 image cannot be pulled (nor is k6, AGPL, built by the lab). So the scripts run in
 * Node under stubs of the `k6` and `k6/http` modules (test/support/k6.ts): this file checks their
 * options against k6's rules for the parts they use, their defaults against the chart's values,
 * and the requests and checks one iteration makes; the cluster test replays those requests
 * against the real producer.
 */

const SCRIPTS = { steady: join(REPO, 'k8s/k6/steady-producer.js'), burst: join(REPO, 'k8s/k6/burst-producer.js') };
const VALUES = parse(readFileSync(join(REPO, 'helm/backpressure-lab/values.yaml'), 'utf8'));
const load = VALUES.load;
const TARGET = 'http://producer.test:8000';

// --- k6's options, the subset the scripts use -------------------------------------------------

/** A k6 duration: Go's time.ParseDuration units (k6 adds d), e.g. 30s, 3m, 1m30s, 500ms. */
const DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h|d))+$/;
const duration = z.string().regex(DURATION, 'a k6 duration such as 30s or 1m30s');
const vus = z.number().int().positive();

/** Fields every executor takes (k6 refuses unknown ones). */
const common = {
  exec: z.string().optional(),
  startTime: duration.optional(),
  gracefulStop: duration.optional(),
  env: z.record(z.string(), z.string()).optional(),
  tags: z.record(z.string(), z.string()).optional(),
};
const arrivalVus = (s: { preAllocatedVUs: number; maxVUs?: number | undefined }) => s.maxVUs === undefined || s.maxVUs >= s.preAllocatedVUs;
const scenario = z.discriminatedUnion('executor', [
  z
    .strictObject({
      ...common,
      executor: z.literal('constant-arrival-rate'),
      rate: z.number().int().positive(),
      timeUnit: duration,
      duration,
      preAllocatedVUs: vus,
      maxVUs: vus.optional(),
    })
    .refine(arrivalVus, 'maxVUs must not be below preAllocatedVUs'),
  z
    .strictObject({
      ...common,
      executor: z.literal('ramping-arrival-rate'),
      startRate: z.number().int().nonnegative(),
      timeUnit: duration,
      stages: z.array(z.strictObject({ target: z.number().int().nonnegative(), duration })).min(1),
      preAllocatedVUs: vus,
      maxVUs: vus.optional(),
    })
    .refine(arrivalVus, 'maxVUs must not be below preAllocatedVUs'),
]);

/** k6's built-in metrics by type, and the aggregations a threshold may use on each type. */
const METRICS: Record<string, 'counter' | 'gauge' | 'rate' | 'trend'> = {
  checks: 'rate',
  http_req_failed: 'rate',
  http_reqs: 'counter',
  iterations: 'counter',
  dropped_iterations: 'counter',
  data_sent: 'counter',
  data_received: 'counter',
  vus: 'gauge',
  vus_max: 'gauge',
  iteration_duration: 'trend',
  http_req_duration: 'trend',
  http_req_blocked: 'trend',
  http_req_connecting: 'trend',
  http_req_tls_handshaking: 'trend',
  http_req_sending: 'trend',
  http_req_waiting: 'trend',
  http_req_receiving: 'trend',
};
const AGGREGATION = { counter: '(count|rate)', gauge: '(value)', rate: '(rate)', trend: '(avg|min|max|med|p\\(\\d+(\\.\\d+)?\\))' };
const expression = (metric: string) => new RegExp(`^${AGGREGATION[METRICS[metric]!]}\\s*(<=|>=|===|==|!=|<|>)\\s*-?\\d+(\\.\\d+)?$`);
/** A threshold key: a built-in metric, optionally with a tag filter, e.g. http_req_duration{name:x}. */
const metricOf = (key: string) => key.replace(/\{.*\}$/, '');
const thresholds = z
  .record(z.string(), z.array(z.union([z.string(), z.strictObject({ threshold: z.string(), abortOnFail: z.boolean().optional(), delayAbortEval: duration.optional() })])).min(1))
  .superRefine((all, ctx) => {
    for (const [key, list] of Object.entries(all)) {
      const metric = metricOf(key);
      if (!(metric in METRICS)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `${metric} is not a k6 metric` });
        continue;
      }
      for (const t of list) {
        const text = typeof t === 'string' ? t : t.threshold;
        if (!expression(metric).test(text)) ctx.addIssue({ code: 'custom', path: [key], message: `"${text}" is not a threshold on a ${METRICS[metric]} metric` });
      }
    }
  });
const k6Options = z.strictObject({
  scenarios: z.record(z.string().regex(/^[a-zA-Z0-9_-]+$/), scenario).refine((s) => Object.keys(s).length > 0, 'at least one scenario'),
  thresholds,
  discardResponseBodies: z.boolean().optional(),
  summaryTrendStats: z.array(z.string()).optional(),
  tags: z.record(z.string(), z.string()).optional(),
});

function expectK6Options(options: unknown) {
  const result = k6Options.safeParse(options);
  expect(result.success, result.success ? '' : z.prettifyError(result.error)).toBe(true);
}

// --- helpers ----------------------------------------------------------------------------------

const seconds = (d: string) => {
  const unit = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>;
  return [...d.matchAll(/([0-9.]+)(ns|us|µs|ms|s|m|h|d)/g)].reduce((sum, [, n, u]) => sum + Number(n) * unit[u!]!, 0);
};
/** Iterations a ramping-arrival-rate scenario starts: k6 ramps the rate linearly within a stage. */
function arrivals(s: { startRate: number; timeUnit: string; stages: { target: number; duration: string }[] }) {
  let rate = s.startRate;
  let total = 0;
  for (const stage of s.stages) {
    total += ((rate + stage.target) / 2) * (seconds(stage.duration) / seconds(s.timeUnit));
    rate = stage.target;
  }
  return total;
}
const only = (script: K6Script) => Object.values<any>(script.options.scenarios)[0];

describe('the k6 options schema of this file', () => {
  const good = {
    scenarios: { s: { executor: 'constant-arrival-rate', rate: 5, timeUnit: '1s', duration: '3m', preAllocatedVUs: 2, maxVUs: 10 } },
    thresholds: { http_req_failed: ['rate<0.01'], 'http_req_duration{name:POST /produce}': ['p(99.9)<=500', { threshold: 'avg<200', abortOnFail: true }] },
  };
  it('accepts what k6 accepts', () => expectK6Options(good));
  it.each([
    ['a missing rate', { scenarios: { s: { ...good.scenarios.s, rate: undefined } } }],
    ['a duration without a unit', { scenarios: { s: { ...good.scenarios.s, duration: '180' } } }],
    ['maxVUs below preAllocatedVUs', { scenarios: { s: { ...good.scenarios.s, maxVUs: 1 } } }],
    ['an unknown executor', { scenarios: { s: { ...good.scenarios.s, executor: 'constant-rate' } } }],
    ['a ramping scenario without stages', { scenarios: { s: { executor: 'ramping-arrival-rate', startRate: 1, timeUnit: '1s', preAllocatedVUs: 1 } } }],
    ['an unknown scenario field', { scenarios: { s: { ...good.scenarios.s, vus: 5 } } }],
    ['an unknown metric', { thresholds: { http_req_fail: ['rate<0.01'] } }],
    ['a percentile on a rate', { thresholds: { checks: ['p(95)>0.99'] } }],
    ['a rate on a trend', { thresholds: { http_req_duration: ['rate<500'] } }],
    ['no operator', { thresholds: { http_req_failed: ['rate 0.01'] } }],
  ])('refuses %s', (_what, change) => {
    expect(k6Options.safeParse({ ...good, ...change }).success).toBe(false);
  });
});

// --- the scripts ------------------------------------------------------------------------------

describe.each(Object.entries(SCRIPTS))('k8s/k6/%s-producer.js', (name, path) => {
  it('exports valid k6 options: an arrival-rate scenario, thresholds on k6 metrics in its grammar', async () => {
    const envs: Record<string, string>[] = [{}, { TARGET }, { RATE: '50', DURATION: '1m30s', BATCH_SIZE: '3', BASE_RATE: '2', PEAK_RATE: '40', PEAK_DURATION: '500ms', BASE_DURATION: '1h' }];
    for (const env of envs) {
      const script = await loadK6Script(path, env);
      expectK6Options(script.options);
      expect(Object.keys(script.options.thresholds)).toEqual(expect.arrayContaining(['http_req_failed', 'checks', 'http_req_duration']));
    }
  });

  it('checks every response for 201, and the check fails on any other status', async () => {
    const ok = await (await loadK6Script(path, { TARGET })).run(3);
    expect(ok.checks).toEqual(Array(3).fill({ name: 'status is 201', passed: true }));
    const refused = await (await loadK6Script(path, { TARGET }, { status: () => 503 })).run(1);
    expect(refused.checks).toEqual([{ name: 'status is 201', passed: false }]);
  });

  it('sizes its VUs for its rate: enough for a 1 s response at the highest rate', async () => {
    for (const rate of ['1', '5', '37', '400']) {
      const s = only(await loadK6Script(path, { RATE: rate, PEAK_RATE: rate, BASE_RATE: '1' }));
      expect(s.maxVUs).toBeGreaterThanOrEqual(Number(rate));
      expect(s.preAllocatedVUs).toBeGreaterThanOrEqual(1);
      expect(s.preAllocatedVUs).toBeLessThanOrEqual(s.maxVUs);
    }
  });

  it(`reads the environment the chart's Job sets (templates/k6.yaml)`, () => {
    const template = readFileSync(join(REPO, 'helm/backpressure-lab/templates/k6.yaml'), 'utf8');
    const names = name === 'steady' ? ['TARGET', 'RATE', 'DURATION'] : ['TARGET', 'BATCH_SIZE', 'BASE_RATE', 'PEAK_RATE', 'PEAK_DURATION', 'BASE_DURATION'];
    // The script and the settings module it imports (env.js reads TARGET for both).
    const source = readFileSync(path, 'utf8') + readFileSync(join(dirname(path), 'env.js'), 'utf8');
    for (const env of names) {
      expect(template).toContain(`- name: ${env}\n`);
      expect(source).toMatch(new RegExp(`['.]${env}\\b`));
    }
  });

  it('stops before any request on a bad environment, naming the variable (k6 would exit 107)', async () => {
    // An exception in a script's init code makes `k6 run` exit non-zero (107) before any request:
    // a typo in a rate never turns into a default load.
    const bad = name === 'steady'
      ? { RATE: ['abc', '0', '-5', '2.5', '5/s'], DURATION: ['3', '3 minutes', 'forever', '-1m'] }
      : { BATCH_SIZE: ['ten', '0'], BASE_RATE: ['1e3'], PEAK_RATE: ['abc', ' 100'], PEAK_DURATION: ['30', '30sec'], BASE_DURATION: ['x'] };
    for (const [variable, values] of Object.entries(bad)) {
      for (const value of values) {
        await expect(loadK6Script(path, { [variable]: value }), `${variable}=${value}`).rejects.toThrow(new RegExp(`^${variable} must be .*"${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`));
      }
    }
  });
});

describe('k8s/k6/steady-producer.js', () => {
  it(`defaults to the chart's load values: TARGET, RATE and DURATION`, async () => {
    const script = await loadK6Script(SCRIPTS.steady);
    expect(only(script)).toMatchObject({ executor: 'constant-arrival-rate', rate: load.steady.rate, timeUnit: '1s', duration: load.steady.duration });
    const { requests } = await script.run(1);
    expect(requests[0]!.url).toBe(`${load.target}/produce`);
  });

  it('takes RATE and DURATION from the environment', async () => {
    const script = await loadK6Script(SCRIPTS.steady, { RATE: '12', DURATION: '45s' });
    expect(only(script)).toMatchObject({ rate: 12, duration: '45s' });
  });

  it('POSTs one JSON order per iteration to TARGET/produce, a body the producer accepts', async () => {
    for (const target of [TARGET, `${TARGET}/`]) {
      const { requests } = await (await loadK6Script(SCRIPTS.steady, { TARGET: target })).run(7);
      expect(requests).toHaveLength(7);
      for (const req of requests) {
        expect(req.method).toBe('POST');
        expect(req.url).toBe(`${TARGET}/produce`);
        expect(req.params.headers?.['Content-Type']).toBe('application/json');
        const body = JSON.parse(req.body!);
        // The producer's own schema of POST /produce's body (strict: no unknown field).
        expect(orderOverrides.safeParse(body).success, req.body!).toBe(true);
      }
      // Orders differ from one iteration to the next (product, quantity).
      expect(new Set(requests.map((r) => r.body)).size).toBeGreaterThan(1);
    }
  });

  it('sends RATE x DURATION orders in all', async () => {
    const s = only(await loadK6Script(SCRIPTS.steady, { RATE: '4', DURATION: '1m30s' }));
    expect(s.rate * (seconds(s.duration) / seconds(s.timeUnit))).toBe(360);
  });
});

describe('k8s/k6/burst-producer.js', () => {
  it(`defaults to the chart's load values: base, ramp to the peak, peak, ramp back, base`, async () => {
    const script = await loadK6Script(SCRIPTS.burst);
    const b = load.burst;
    expect(only(script)).toMatchObject({
      executor: 'ramping-arrival-rate',
      startRate: b.baseRate,
      timeUnit: '1s',
      stages: [
        { target: b.baseRate, duration: b.baseDuration },
        { target: b.peakRate, duration: '5s' },
        { target: b.peakRate, duration: b.peakDuration },
        { target: b.baseRate, duration: '5s' },
        { target: b.baseRate, duration: b.baseDuration },
      ],
    });
    const { requests } = await script.run(1);
    expect(requests[0]!.url).toBe(`${load.target}/produce/batch?count=${b.batchSize}`);
  });

  it('POSTs /produce/batch?count=BATCH_SIZE to TARGET, no body (the producer makes the orders)', async () => {
    const { requests } = await (await loadK6Script(SCRIPTS.burst, { TARGET: `${TARGET}/`, BATCH_SIZE: '25' })).run(4);
    expect(requests).toHaveLength(4);
    for (const req of requests) {
      expect(req).toMatchObject({ method: 'POST', url: `${TARGET}/produce/batch?count=25`, body: null });
    }
  });

  it('adds up to BATCH_SIZE x (2 x base x baseDuration + (base + peak) x 5 s + peak x peakDuration) orders', async () => {
    const orders = async (env: Record<string, string>) => {
      const script = await loadK6Script(SCRIPTS.burst, env);
      return Number(env.BATCH_SIZE ?? load.burst.batchSize) * arrivals(only(script));
    };
    // The chart's defaults: 10 x (2 x 20 x 30 + 120 x 5 + 100 x 30) = 48,000 (the script's header).
    expect(await orders({})).toBe(48_000);
    expect(await orders({ BATCH_SIZE: '3', BASE_RATE: '2', PEAK_RATE: '10', PEAK_DURATION: '1m', BASE_DURATION: '10s' })).toBe(3 * (2 * 2 * 10 + 12 * 5 + 10 * 60));
  });

  it(`matches make scale-auto's sizing on kind: its values make 150 requests, BURST/150 orders each`, async () => {
    // hack/deploy/scale-auto.sh passes --set load.burst.<key>=<value> and says 150 requests.
    const sh = readFileSync(join(REPO, 'hack/deploy/scale-auto.sh'), 'utf8');
    const sets = Object.fromEntries([...sh.matchAll(/load\.burst\.(baseRate|peakRate|baseDuration|peakDuration)=(\w+)/g)].map(([, k, v]) => [k!, v!]));
    expect(Object.keys(sets).sort()).toEqual(['baseDuration', 'baseRate', 'peakDuration', 'peakRate']);
    expect(sh).toContain('batch * 150');
    const script = await loadK6Script(SCRIPTS.burst, {
      BATCH_SIZE: '2',
      BASE_RATE: sets.baseRate!,
      PEAK_RATE: sets.peakRate!,
      BASE_DURATION: sets.baseDuration!,
      PEAK_DURATION: sets.peakDuration!,
    });
    expect(arrivals(only(script))).toBe(150);
  });
});

describe('replay (test/support/k6.ts), as the cluster test uses it', () => {
  it('sends the recorded requests to another base URL with their method, path, query, headers and body', async () => {
    const seen: { method?: string; url?: string; type?: string; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, type: req.headers['content-type'], body });
        res.writeHead(seen.length === 2 ? 503 : 201).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const steady = await (await loadK6Script(SCRIPTS.steady)).run(2);
      const burst = await (await loadK6Script(SCRIPTS.burst, { BATCH_SIZE: '3' })).run(1);
      expect(await replay([...steady.requests, ...burst.requests], base)).toEqual([201, 503, 201]);
      expect(seen.map((r) => [r.method, r.url, r.type])).toEqual([
        ['POST', '/produce', 'application/json'],
        ['POST', '/produce', 'application/json'],
        ['POST', '/produce/batch?count=3', undefined],
      ]);
      expect(seen[0]!.body).toBe(steady.requests[0]!.body);
      expect(seen[2]!.body).toBe('');
    } finally {
      server.close();
    }
  });
});
