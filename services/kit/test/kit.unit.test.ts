import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { env, loadConfig, RateWindow } from '../src/index.js';
import { zodProblems } from '../src/errors.js';

describe('RateWindow', () => {
  it('averages events over whole past seconds and forgets old ones', () => {
    const w = new RateWindow(60);
    const t0 = 1_000_000;
    for (let s = 0; s < 10; s++) w.add(5, t0 + s * 1000);
    expect(w.rate(10, t0 + 10_000)).toBe(5);
    expect(w.rate(60, t0 + 10_000)).toBeCloseTo(50 / 60, 2);
    expect(w.rate(10, t0 + 120_000)).toBe(0);
  });
});

describe('loadConfig', () => {
  const schema = z.object({ PORT: env.port(8000), BROKERS: env.brokers(), ON: env.bool(false) });
  it('applies defaults and converts strings', () => {
    expect(loadConfig(schema, { BROKERS: 'a:1, b:2', ON: '1' })).toEqual({ PORT: 8000, BROKERS: ['a:1', 'b:2'], ON: true });
  });
  it('names every bad variable', () => {
    expect(() => loadConfig(schema, { PORT: '70000', ON: 'yes' })).toThrow(/PORT: .*\n.*ON: /s);
  });
});

describe('zodProblems', () => {
  it('names unknown fields one by one', () => {
    const result = z.strictObject({ a: z.number() }).safeParse({ a: 'x', b: 1, c: 2 });
    expect(result.success).toBe(false);
    expect(zodProblems(result.error!, 'body')).toEqual([
      { field: 'body.a', reason: expect.stringMatching(/expected number/) },
      { field: 'body.b', reason: 'unknown field' },
      { field: 'body.c', reason: 'unknown field' },
    ]);
  });
});
