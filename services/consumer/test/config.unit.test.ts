import { describe, expect, it } from 'vitest';
import { readConfig, thresholdsOf } from '../src/config.js';

describe('consumer configuration', () => {
  it("defaults: one at a time, a healthy downstream, auto-pause off with sane marks", () => {
    const config = readConfig({});
    expect(config).toMatchObject({ PROCESSING_TIME_MS: 500, BATCH_SIZE: 1, DOWNSTREAM_LATENCY_MS: 0, DOWNSTREAM_ERROR_RATE: 0, AUTO_PAUSE: false, DOWNSTREAM_PROBE_MS: 1000 });
    expect(thresholdsOf(config)).toEqual({ pauseP50Ms: 1000, resumeP50Ms: 250, pauseErrorRate: 0.5, resumeErrorRate: 0.1, windowMs: 5000, minSamples: 1, holdMs: 5000 });
  });

  it.each([
    { env: { BATCH_SIZE: '10', AUTO_PAUSE: 'true', DOWNSTREAM_ERROR_RATE: '0.25' }, expected: { BATCH_SIZE: 10, AUTO_PAUSE: true, DOWNSTREAM_ERROR_RATE: 0.25 } },
    { env: { AUTO_PAUSE: '1', AUTO_PAUSE_P50_MS: '3000', AUTO_RESUME_P50_MS: '2999' }, expected: { AUTO_PAUSE: true, AUTO_PAUSE_P50_MS: 3000, AUTO_RESUME_P50_MS: 2999 } },
    { env: {}, expected: { DLQ_TOPIC: 'orders.dlq', DLQ_MAX_RETRIES: 3, DLQ_RETRY_BACKOFF_MS: 100 } },
    { env: { DLQ_TOPIC: 'poison', DLQ_MAX_RETRIES: '0', DLQ_RETRY_BACKOFF_MS: '5000' }, expected: { DLQ_TOPIC: 'poison', DLQ_MAX_RETRIES: 0, DLQ_RETRY_BACKOFF_MS: 5000 } },
  ])('reads $env', ({ env, expected }) => {
    expect(readConfig(env)).toMatchObject(expected);
  });

  it.each([
    { name: 'a batch of 0', env: { BATCH_SIZE: '0' }, problem: /BATCH_SIZE/ },
    { name: 'a batch over 1000', env: { BATCH_SIZE: '1001' }, problem: /BATCH_SIZE/ },
    { name: 'an error rate over 1', env: { DOWNSTREAM_ERROR_RATE: '1.5' }, problem: /DOWNSTREAM_ERROR_RATE/ },
    { name: 'a latency over a minute', env: { DOWNSTREAM_LATENCY_MS: '60001' }, problem: /DOWNSTREAM_LATENCY_MS/ },
    { name: 'more than 10 retries', env: { DLQ_MAX_RETRIES: '11' }, problem: /DLQ_MAX_RETRIES/ },
    { name: 'a backoff over the 5 s cap', env: { DLQ_RETRY_BACKOFF_MS: '5001' }, problem: /DLQ_RETRY_BACKOFF_MS/ },
    { name: 'an empty dead letter topic', env: { DLQ_TOPIC: '' }, problem: /DLQ_TOPIC/ },
    { name: 'AUTO_PAUSE neither true nor false', env: { AUTO_PAUSE: 'yes' }, problem: /AUTO_PAUSE/ },
    { name: 'no hysteresis gap in latency', env: { AUTO_PAUSE_P50_MS: '500', AUTO_RESUME_P50_MS: '500' }, problem: /AUTO_RESUME_P50_MS: must be below AUTO_PAUSE_P50_MS/ },
    { name: 'no hysteresis gap in errors', env: { AUTO_PAUSE_ERROR_RATE: '0.2', AUTO_RESUME_ERROR_RATE: '0.3' }, problem: /AUTO_RESUME_ERROR_RATE: must be below AUTO_PAUSE_ERROR_RATE/ },
  ])('refuses $name, naming the variable', ({ env, problem }) => {
    expect(() => readConfig(env)).toThrow(problem);
  });
});
