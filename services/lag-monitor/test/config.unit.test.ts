import { describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.js';

describe('lag monitor config', () => {
  it('starts from the lab defaults', () => {
    expect(readConfig({})).toMatchObject({ PORT: 8010, TOPIC: 'orders', GROUP_ID: 'order-processors', POLL_INTERVAL_MS: 500, RATE_WINDOW_MS: 5000, EVALUATION_WINDOW_MS: 30_000 });
  });

  it.each([
    { name: 'critical not above warning', env: { LAG_WARNING: '500', LAG_CRITICAL: '500' }, error: 'LAG_CRITICAL: must be greater than LAG_WARNING' },
    { name: 'a rate window too short for two polls', env: { POLL_INTERVAL_MS: '3000', RATE_WINDOW_MS: '5000' }, error: 'RATE_WINDOW_MS: must be at least twice POLL_INTERVAL_MS' },
    { name: 'an evaluation window too short for two polls', env: { POLL_INTERVAL_MS: '1000', EVALUATION_WINDOW_MS: '1500' }, error: 'EVALUATION_WINDOW_MS: must be at least twice POLL_INTERVAL_MS' },
    { name: 'an evaluation window longer than the samples kept', env: { EVALUATION_WINDOW_MS: '600000' }, error: 'EVALUATION_WINDOW_MS:' },
    { name: 'a port that is not a number', env: { PORT: 'abc' }, error: 'PORT:' },
  ])('refuses $name, naming the variable', ({ env, error }) => {
    expect(() => readConfig(env)).toThrow(error);
  });
});
