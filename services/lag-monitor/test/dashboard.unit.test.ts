import { describe, expect, it } from 'vitest';
import { dashboardHtml } from '../src/dashboard.js';
import {
  axisTicks,
  chartWindow,
  formatCount,
  formatDrain,
  formatDuration,
  formatPartitions,
  formatPaused,
  formatRate,
  formatSpan,
  formatThrottle,
  formatTrend,
  linePath,
  rebalanceLabel,
  timeStep,
} from '../src/dashboard-helpers.js';

describe('dashboard helpers', () => {
  it('formats counts, rates and trends for reading at a glance', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatCount(0)).toBe('0');
    expect(formatRate(null)).toBe('–');
    expect(formatRate(3.14159)).toBe('3.1');
    expect(formatRate(-0.01)).toBe('0');
    expect(formatRate(1234.5)).toBe('1,235');
    expect(formatTrend(null)).toBe('–');
    expect(formatTrend(120.4)).toBe('↑ 120/s');
    expect(formatTrend(-2.25)).toBe('↓ 2.3/s');
    expect(formatTrend(0)).toBe('→ 0/s');
  });

  it('formats durations with the precision that matters at each scale', () => {
    expect(formatDuration(0)).toBe('0 s');
    expect(formatDuration(4.25)).toBe('4.3 s');
    expect(formatDuration(42.6)).toBe('43 s');
    expect(formatDuration(75)).toBe('1 m 15 s');
    expect(formatDuration(7380)).toBe('2 h 03 m');
    expect(formatSpan(90)).toBe('90 s');
    expect(formatSpan(120)).toBe('2 min');
  });

  it.each([
    { stop: 3.24, text: 'rebalance 3.2 s' },
    { stop: 0, text: 'rebalance 0 s' },
    { stop: 75, text: 'rebalance 1 m 15 s' },
    { stop: null, text: 'rebalancing' },
  ])('labels a rebalance marker with its stop: $stop -> $text', ({ stop, text }) => {
    expect(rebalanceLabel(stop)).toBe(text);
  });

  it.each([
    { status: 'caught_up', seconds: null, p: 1, c: 1, text: 'caught up' },
    { status: 'draining', seconds: 75, p: 1, c: 5, text: 'empty in 1 m 15 s' },
    { status: 'not_draining', seconds: null, p: 5, c: 2, text: 'not draining: short by 3 msg/s' },
    { status: 'not_draining', seconds: null, p: 0, c: 0, text: 'not draining: nothing consumed' },
    { status: 'not_draining', seconds: null, p: 2, c: 2, text: 'not draining' },
    { status: 'unknown', seconds: null, p: null, c: null, text: 'lag per second' },
  ])('says in a few words when lag drains: $status -> $text', ({ status, seconds, p, c, text }) => {
    expect(formatDrain(status, seconds, p, c)).toBe(text);
  });

  it('puts axis ticks on round numbers from 0 up to at least the maximum', () => {
    expect(axisTicks(600)).toEqual([0, 200, 400, 600]);
    expect(axisTicks(601)).toEqual([0, 200, 400, 600, 800]);
    expect(axisTicks(0)).toEqual([0, 0.5, 1]);
    expect(axisTicks(0.3)).toEqual([0, 0.1, 0.2, 0.3]);
    expect(axisTicks(12_345)).toEqual([0, 5000, 10_000, 15_000]);
  });

  it('sizes the time window to the data, between one minute and the maximum', () => {
    expect(chartWindow(10_000, 300_000)).toBe(60_000);
    expect(chartWindow(95_000, 300_000)).toBe(120_000);
    expect(chartWindow(3_600_000, 300_000)).toBe(300_000);
    expect(timeStep(60_000)).toBe(10_000);
    expect(timeStep(300_000)).toBe(60_000);
  });

  it('draws a path through pixel points, one decimal each', () => {
    expect(linePath([])).toBe('');
    expect(linePath([[0, 10], [5.55, 2.04]])).toBe('M0,10L5.6,2');
  });
});

describe('dashboard page', () => {
  const script = dashboardHtml.match(/<script>([\s\S]*)<\/script>/)![1]!;

  it('carries a script that parses, helpers included', () => {
    expect(() => new Function(script)).not.toThrow();
    expect(script).toMatch(/function formatCount\(/);
  });

  it('loads nothing from the network: its only URL is the SVG namespace', () => {
    expect(dashboardHtml.match(/\w+:\/\/[^'"\s)]+/g)).toEqual(['http://www.w3.org/2000/svg']);
    expect(dashboardHtml).not.toMatch(/@import|<link[^>]+stylesheet|<script[^>]+src=/);
  });
});

describe('what the strategies are doing, in words', () => {
  it.each([
    { partitions: [], text: '' },
    { partitions: [3], text: 'P3' },
    { partitions: [2, 0, 1, 4], text: 'P0–P2, P4' },
    { partitions: [0, 2, 4, 5], text: 'P0, P2, P4–P5' },
  ])('partitions $partitions -> "$text"', ({ partitions, text }) => {
    expect(formatPartitions(partitions)).toBe(text);
  });

  it.each([
    { paused: { manual: [], downstream: [] }, text: 'no consumer paused' },
    { paused: { manual: [], downstream: [0, 1, 2, 3, 4, 5] }, text: 'paused by the downstream: P0–P5' },
    { paused: { manual: [4], downstream: [0, 1] }, text: 'paused by the downstream: P0–P1 · paused by hand: P4' },
  ])('paused $paused -> "$text"', ({ paused, text }) => {
    expect(formatPaused(paused)).toBe(text);
  });

  const watch = (mode: string, limit: number | null) => ({ throttle: { mode, limit_per_sec: limit, reason: 'r' }, last_error: null });
  it.each([
    { watch: null, text: null },
    { watch: { throttle: null, last_error: null }, text: 'producer throttle: not read yet' },
    { watch: { throttle: null, last_error: 'GET http://producer:8000/throttle: ECONNREFUSED' }, text: 'producer throttle: unknown (cannot read the producer)' },
    { watch: watch('off', null), text: 'producer throttle off' },
    { watch: watch('open', null), text: 'producer throttle on, open' },
    { watch: watch('throttled', 3.52), text: 'producer throttled to 3.5 msg/s' },
    { watch: watch('holding', 0), text: 'producer holding: sends nothing until the consumers commit again' },
  ])('throttle $watch -> $text', ({ watch: w, text }) => {
    expect(formatThrottle(w)).toBe(text);
  });
});
