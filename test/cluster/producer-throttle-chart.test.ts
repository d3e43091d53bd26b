import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../services/producer/src/config.js';
import { render, renderText, type K8sObject } from '../support/helm.js';

/*
 * The chart's producer.throttle values (helm template only, no cluster): each reaches the
 * producer's environment, and what the chart renders is what the producer's own config reads.
 */

const NS = 'backpressure-lab';

const producerEnv = (objects: K8sObject[]): Record<string, string> => {
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'producer')!;
  return Object.fromEntries((deployment.spec.template.spec.containers[0].env as { name: string; value: string }[]).map((e) => [e.name, e.value]));
};

describe("the chart's producer.throttle values", () => {
  it("default to off, reading this release's lag monitor Service, and the producer accepts them", async () => {
    const env = producerEnv(await render(NS));
    expect(env).toMatchObject({ THROTTLE: 'false', LAG_MONITOR_URL: 'http://lag-monitor:8010', THROTTLE_POLL_MS: '1000', THROTTLE_FRACTION: '0.8', THROTTLE_BLIND_MS: '30000' });
    expect(readConfig(env)).toMatchObject({ THROTTLE: false, LAG_MONITOR_URL: 'http://lag-monitor:8010', THROTTLE_POLL_MS: 1000, THROTTLE_FRACTION: 0.8, THROTTLE_BLIND_MS: 30_000 });
  });

  it('each reach the environment as the producer reads them (a large value from a file stays an integer)', async () => {
    // A values file, as a user would write one: helm reads its numbers as floats (3600000 would
    // print as 3.6e+06 unconverted), and --set would read 0.5 as a string.
    const dir = mkdtempSync(join(tmpdir(), 'bplab-throttle-chart-'));
    const file = join(dir, 'values.yaml');
    writeFileSync(file, 'producer:\n  throttle:\n    enabled: true\n    lagMonitorUrl: http://monitor.elsewhere:9000\n    pollMs: 2000\n    fraction: 0.5\n    blindMs: 3600000\n');
    try {
      const env = producerEnv(await render(NS, [file]));
      expect(env.THROTTLE_BLIND_MS).toBe('3600000');
      expect(readConfig(env)).toMatchObject({ THROTTLE: true, LAG_MONITOR_URL: 'http://monitor.elsewhere:9000', THROTTLE_POLL_MS: 2000, THROTTLE_FRACTION: 0.5, THROTTLE_BLIND_MS: 3_600_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    // --set-json: plain --set would read 1.5 as a string and fail on the type, not the bound.
    [['--set-json', 'producer.throttle.fraction=0'], /'\/producer\/throttle\/fraction': exclusiveMinimum/],
    [['--set-json', 'producer.throttle.fraction=1.5'], /'\/producer\/throttle\/fraction': maximum/],
    [['--set', 'producer.throttle.pollMs=50'], /'\/producer\/throttle\/pollMs': minimum/],
    [['--set', 'producer.throttle.lagMonitorUrl=lag-monitor:8010'], /\/producer\/throttle\/lagMonitorUrl/],
    [['--set', 'producer.throttle.enable=true'], /additional properties 'enable'/],
  ])('%j fails, naming the field', async (args, message) => {
    await expect(renderText(NS, [], [], args)).rejects.toThrow(message);
  });
});
