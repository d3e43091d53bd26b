import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { drainEstimate } from '../src/drain.js';

describe('drain estimate: lag / (consumption - production) while draining', () => {
  it.each([
    { name: 'no lag', lag: 0, p: 5, c: 5, seconds: null, status: 'caught_up', reason: 'no lag' },
    { name: 'no rates yet', lag: 10, p: null, c: null, seconds: null, status: 'unknown', reason: 'no rates yet' },
    { name: 'draining 300 at 10 - 4 msg/s', lag: 300, p: 4, c: 10, seconds: 50, status: 'draining', reason: 'draining 6 msg/s (consumed 10 - produced 4): 300 messages in about 50 s' },
    { name: 'short by 3 msg/s', lag: 300, p: 5, c: 2, seconds: null, status: 'not_draining', reason: 'not draining: short by 3 msg/s (produced 5, consumed 2)' },
    { name: 'consumption only matches production', lag: 300, p: 2, c: 2, seconds: null, status: 'not_draining', reason: 'not draining: consumption only matches production (2 msg/s)' },
    { name: 'nothing consumed (paused, stuck, stopped)', lag: 300, p: 0, c: 0, seconds: null, status: 'not_draining', reason: 'not draining: nothing consumed in the rate window' },
  ])('$name', ({ lag, p, c, seconds, status, reason }) => {
    expect(drainEstimate(lag, p, c)).toEqual({ drain_seconds: seconds, drain_status: status, drain_reason: reason });
  });

  it('gives a time exactly when consumption outpaces production, and that time drains the lag', () => {
    const rate = fc.double({ min: 0, max: 10_000, noNaN: true }).map((r) => Math.round(r * 100) / 100);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), rate, rate, (lag, p, c) => {
        const d = drainEstimate(lag, p, c);
        const net = Math.round((c - p) * 100) / 100;
        expect(d.drain_status).toBe(net > 0 ? 'draining' : 'not_draining');
        if (d.drain_seconds !== null) expect(Math.abs(d.drain_seconds * net - lag)).toBeLessThanOrEqual(0.005 * net + 1e-6 * lag);
      }),
    );
  });
});
