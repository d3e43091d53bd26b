import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Hold, Limit, Rule } from '../src/decide.js';
import { parseSpec } from '../src/spec.js';

const minimal = {
  scaleTargetRef: { name: 'consumer' },
  metricsSource: { url: 'http://lag-monitor:8010' },
  topic: 'orders',
  consumerGroup: 'order-processors',
};

/** Collects `default:` values from the CRD's OpenAPI schema, keyed by property path. */
function crdDefaults(schema: Record<string, unknown>, path: string[] = [], out: Record<string, unknown> = {}) {
  const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  for (const [key, child] of Object.entries(properties)) {
    const childPath = [...path, key];
    if ('default' in child && child.type !== 'object') out[childPath.join('.')] = child.default;
    crdDefaults(child, childPath, out);
  }
  return out;
}

function flatten(value: unknown, path: string[] = [], out: Record<string, unknown> = {}) {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) flatten(child, [...path, key], out);
  } else out[path.join('.')] = value;
  return out;
}

describe('spec', () => {
  it('applies the same defaults as the CRD schema', () => {
    const crd = parseYaml(readFileSync(new URL('../../helm/backpressure-lab/crds/lagautoscaler.yaml', import.meta.url), 'utf8'));
    const specSchema = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec;
    const fromCrd = crdDefaults(specSchema);
    const parsed = flatten(parseSpec(minimal));
    expect(Object.keys(fromCrd).length).toBeGreaterThan(10);
    for (const [path, value] of Object.entries(fromCrd)) expect(parsed[path], path).toEqual(value);
    // And nothing defaulted here that the CRD leaves unset.
    const given = flatten(minimal);
    for (const path of Object.keys(parsed)) if (!(path in given)) expect(fromCrd, path).toHaveProperty([path]);
  });

  it('the CRD status enums list exactly what the decision reports (the apiserver refuses any other value)', () => {
    const crd = parseYaml(readFileSync(new URL('../../helm/backpressure-lab/crds/lagautoscaler.yaml', import.meta.url), 'utf8'));
    const decision = crd.spec.versions[0].schema.openAPIV3Schema.properties.status.properties.lastDecision.properties;
    expect([...decision.heldBy.enum].sort()).toEqual(Object.values(Hold).sort());
    expect([...decision.rule.enum].sort()).toEqual(Object.values(Rule).sort());
    expect([...decision.limitedBy.enum].sort()).toEqual(Object.values(Limit).sort());
  });

  it.each([
    [{ ...minimal, maxReplicas: 0 }, /spec\.maxReplicas: .*>=1/],
    [{ ...minimal, minReplicas: 4, maxReplicas: 2 }, /spec\.maxReplicas: minReplicas must not exceed maxReplicas/],
    [{ ...minimal, metricsSource: { url: 'lag-monitor:8010' } }, /spec\.metricsSource\.url: must be an http\(s\) URL/],
    [{ ...minimal, scaleDown: { stabilizationWindowSeconds: 'long' } }, /spec\.scaleDown\.stabilizationWindowSeconds/],
    [{ ...minimal, lagTreshold: 5 }, /spec: Unrecognized key: "lagTreshold"/],
    [{ ...minimal, topic: undefined }, /spec\.topic/],
  ])('names the bad field: %#', (spec, message) => {
    expect(() => parseSpec(spec)).toThrow(message);
  });
});
