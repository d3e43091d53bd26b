import { createLogger, createRegistry } from '@bplab/kit';
import { describe, expect, it } from 'vitest';
import { AutoPause } from '../src/auto-pause.js';
import { ControlState, type Thresholds } from '../src/downstream-health.js';
import { PausedBy } from '@bplab/kit';
import { consumerMetrics } from '../src/metrics.js';

const T: Thresholds = { pauseP50Ms: 1000, resumeP50Ms: 250, pauseErrorRate: 0.5, resumeErrorRate: 0.1, windowMs: 5000, minSamples: 3, holdMs: 2000 };

/** The driver with a fake group, a fake probe and a hand-moved clock; no timers, no Kafka. */
function rig(enabled = true) {
  let now = 1_700_000_000_000;
  const calls: [PausedBy, boolean][] = [];
  let probes = 0;
  const registry = createRegistry('consumer-test');
  const metrics = consumerMetrics(registry, 'c1', 'orders');
  const auto = new AutoPause(
    { enabled, probeIntervalMs: 1000 },
    T,
    { setPaused: (by, paused) => calls.push([by, paused]) },
    {
      probe: async () => {
        probes += 1;
      },
      inFlight: () => [],
    },
    'c1',
    metrics,
    createLogger('test', 'silent'),
    () => now,
  );
  const observe = (latencyMs: number, ok = true) => auto.observe({ at: now, latencyMs, ok });
  return {
    auto,
    calls,
    registry,
    probes: () => probes,
    observe,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("the auto-pause driver applies the controller's transitions as the downstream's pause", () => {
  it('pauses on a slow downstream, probes while paused, resumes after the hold, and counts both', async () => {
    const r = rig();
    for (let i = 0; i < 3; i++) r.observe(1500);
    expect(r.calls).toEqual([[PausedBy.downstream, true]]);
    expect(r.auto.state).toBe(ControlState.paused);
    expect(r.probes()).toBe(1);
    for (let i = 0; i < 8; i++) {
      r.advance(1000);
      r.observe(10);
    }
    expect(r.calls).toEqual([
      [PausedBy.downstream, true],
      [PausedBy.downstream, false],
    ]);
    expect({ pauses: r.auto.pauses, resumes: r.auto.resumes }).toEqual({ pauses: 1, resumes: 1 });
    const text = await r.registry.metrics();
    expect(text).toMatch(/kafka_consumer_auto_pauses_total\{consumer="c1",service="consumer-test"\} 1/);
    expect(text).toMatch(/kafka_consumer_auto_resumes_total\{consumer="c1",service="consumer-test"\} 1/);
    expect(text).toMatch(/kafka_consumer_auto_paused\{consumer="c1",service="consumer-test"\} 0/);
  });

  it('a manual resume releases the pause without counting an automatic resume, and holds off a new pause', () => {
    const r = rig();
    for (let i = 0; i < 3; i++) r.observe(1500);
    r.auto.release('manual resume');
    expect(r.calls.at(-1)).toEqual([PausedBy.downstream, false]);
    expect(r.auto.resumes).toBe(0);
    for (let i = 0; i < 3; i++) r.observe(1500);
    expect(r.auto.state).toBe(ControlState.running);
    r.advance(T.holdMs);
    r.observe(1500);
    expect(r.auto.state).toBe(ControlState.paused);
  });

  it('turned off, it watches but never pauses; turned off while pausing, it lets go', () => {
    const off = rig(false);
    for (let i = 0; i < 5; i++) off.observe(1500, false);
    expect(off.calls).toEqual([]);
    expect(off.auto.stats()).toMatchObject({ samples: 5, level: 'overloaded' });

    const on = rig();
    for (let i = 0; i < 3; i++) on.observe(1500);
    on.auto.setEnabled(false);
    expect(on.calls).toEqual([
      [PausedBy.downstream, true],
      [PausedBy.downstream, false],
    ]);
  });
});
