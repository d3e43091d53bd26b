import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsUnavailableError, readLag } from '../src/metrics-source.js';

const expected = { topic: 'orders', consumerGroup: 'order-processors' };
const report = {
  group: 'order-processors',
  topic: 'orders',
  total_lag: 120,
  // The lag monitor reports null for a partition the group has never committed on.
  partitions: [
    { partition: 1, end_offset: 0, committed_offset: null, lag: 0 },
    { partition: 0, end_offset: 220, committed_offset: 100, lag: 120 },
  ],
  partition_count: 6,
  status: 'warning',
  rate_of_change: 3.5,
  production_rate: 12.5,
  consumption_rate: 9,
  members: 2,
  timestamp: '2026-01-02T03:04:05.678Z',
  stale: false,
};

describe('readLag', () => {
  let server: Server;
  let base: string;
  let respond: (res: import('node:http').ServerResponse) => void;

  beforeAll(async () => {
    server = createServer((req, res) => (req.url === '/lag' ? respond(res) : res.writeHead(404).end()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const json = (body: unknown, status = 200) => (res: import('node:http').ServerResponse) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

  it('maps the lag monitor report to a snapshot', async () => {
    respond = json({ ...report, rebalance_cost: { events: 3, typical_stop_seconds: 1.25, last: null }, paused_partitions: { manual: [1], downstream: [2, 4] }, batch_size: 10, rate_window_seconds: 10, sample_interval_seconds: 0.5 });
    await expect(readLag(`${base}/`, expected, 1000)).resolves.toEqual({
      group: 'order-processors',
      topic: 'orders',
      totalLag: 120,
      partitionCount: 6,
      productionRate: 12.5,
      consumptionRate: 9,
      members: 2,
      sampledAt: Date.parse('2026-01-02T03:04:05.678Z'),
      stale: false,
      typicalRebalanceStopSeconds: 1.25,
      pausedPartitions: { manual: [1], downstream: [2, 4] },
      batchSize: 10,
      rateWindowMs: 10_000,
      sampleIntervalMs: 500,
      // In partition order, whatever the report's order.
      partitionLags: [120, 0],
    });
  });

  it('reads an older lag monitor, without rebalance cost, pauses, batch size, rate window or sample interval: unknown, none, 1, the default 5 s, unknown', async () => {
    respond = json(report);
    const snapshot = await readLag(base, expected, 1000);
    expect(snapshot).toMatchObject({ typicalRebalanceStopSeconds: null, pausedPartitions: { manual: [], downstream: [] }, batchSize: 1, rateWindowMs: 5000 });
    expect(snapshot).not.toHaveProperty('sampleIntervalMs');
    respond = json({ ...report, rebalance_cost: { events: 0, typical_stop_seconds: null, last: null } });
    expect((await readLag(base, expected, 1000)).typicalRebalanceStopSeconds).toBeNull();
  });

  it('keeps null rates (fewer than two samples)', async () => {
    respond = json({ ...report, production_rate: null, consumption_rate: null, rate_of_change: null });
    const snapshot = await readLag(base, expected, 1000);
    expect([snapshot.productionRate, snapshot.consumptionRate]).toEqual([null, null]);
  });

  it.each([
    ['an HTTP error', json({ error: 'kafka unavailable' }, 503), /HTTP 503/],
    ['a body of the wrong shape', json({ ...report, total_lag: -1, members: undefined }), /total_lag: .*members: /],
    ['a negative rebalance stop', json({ ...report, rebalance_cost: { typical_stop_seconds: -1 } }), /rebalance_cost\.typical_stop_seconds: /],
    ['a batch size of 0', json({ ...report, batch_size: 0 }), /batch_size: /],
    ['another consumer group', json({ ...report, group: 'someone-else' }), /reports group someone-else/],
    ['malformed JSON', (res: import('node:http').ServerResponse) => res.writeHead(200).end('{"total_lag": '), /GET .*\/lag: /],
  ])('refuses %s', async (_what, handler, message) => {
    respond = handler;
    const error = await readLag(base, expected, 1000).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MetricsUnavailableError);
    expect((error as Error).message).toMatch(message);
  });

  it('gives up after the timeout', async () => {
    respond = () => {};
    const started = Date.now();
    await expect(readLag(base, expected, 200)).rejects.toThrow(/aborted|timeout/i);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reports an unreachable lag monitor', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(readLag(`http://127.0.0.1:${port}`, expected, 1000)).rejects.toThrow(/ECONNREFUSED/);
  });
});
