import { LAB } from '@bplab/kit';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.js';

describe("the producer's throttle settings", () => {
  it("default to off, reading the lag monitor on lab.json's port on this machine every second", () => {
    expect(readConfig({})).toMatchObject({
      THROTTLE: false,
      LAG_MONITOR_URL: `http://127.0.0.1:${LAB.ports.lagMonitor}`,
      THROTTLE_POLL_MS: 1000,
      THROTTLE_FRACTION: 0.8,
      THROTTLE_BLIND_MS: 30_000,
    });
  });

  it('read what the Helm chart renders', () => {
    const env = { THROTTLE: 'true', LAG_MONITOR_URL: 'http://lag-monitor:8010', THROTTLE_POLL_MS: '2000', THROTTLE_FRACTION: '0.5', THROTTLE_BLIND_MS: '3600000' };
    expect(readConfig(env)).toMatchObject({ THROTTLE: true, LAG_MONITOR_URL: 'http://lag-monitor:8010', THROTTLE_POLL_MS: 2000, THROTTLE_FRACTION: 0.5, THROTTLE_BLIND_MS: 3_600_000 });
  });

  it.each([
    { env: { THROTTLE: 'yes' }, problem: /THROTTLE: / },
    { env: { LAG_MONITOR_URL: 'lag-monitor:8010' }, problem: /LAG_MONITOR_URL: / },
    { env: { THROTTLE_POLL_MS: '50' }, problem: /THROTTLE_POLL_MS: .*>=100/ },
    { env: { THROTTLE_FRACTION: '0' }, problem: /THROTTLE_FRACTION: .*>0/ },
    { env: { THROTTLE_FRACTION: '1.5' }, problem: /THROTTLE_FRACTION: .*<=1/ },
    { env: { THROTTLE_POLL_MS: '5000', THROTTLE_BLIND_MS: '4000' }, problem: /THROTTLE_BLIND_MS: must be at least THROTTLE_POLL_MS/ },
  ])('refuses $env, naming the variable', ({ env, problem }) => {
    expect(() => readConfig(env)).toThrow(problem);
  });
});
