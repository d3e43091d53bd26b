import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKafka } from '../support/kafka.js';
import { startLab, type Lab } from '../support/lab.js';
import { getJson } from '../support/services.js';

interface Case {
  service: 'producer' | 'consumer' | 'monitor';
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  status: number;
  field?: string;
  reason?: RegExp;
}

const json = (value: unknown) => JSON.stringify(value);

const cases: Case[] = [
  { service: 'producer', method: 'POST', path: '/produce', body: '{"quantity": 2,', status: 400, field: 'body', reason: /malformed JSON/ },
  { service: 'producer', method: 'POST', path: '/produce', body: json({ quantity: -1 }), status: 400, field: 'body.quantity', reason: />=1/ },
  { service: 'producer', method: 'POST', path: '/produce', body: json({ quantity: 'two' }), status: 400, field: 'body.quantity', reason: /expected number/ },
  { service: 'producer', method: 'POST', path: '/produce', body: json({ sequence: 1 }), status: 400, field: 'body.sequence', reason: /unknown field/ },
  { service: 'producer', method: 'POST', path: '/produce', body: json([1, 2]), status: 400, field: 'body', reason: /expected object/ },
  { service: 'producer', method: 'POST', path: '/produce', body: json({ product: 'x'.repeat(70_000) }), status: 413, field: 'body', reason: /too large/ },
  { service: 'producer', method: 'POST', path: '/produce/batch?count=0', status: 400, field: 'query.count', reason: />=1/ },
  { service: 'producer', method: 'POST', path: '/produce/batch?count=100001', status: 400, field: 'query.count', reason: /<=100000/ },
  { service: 'producer', method: 'POST', path: '/produce/batch?count=ten', status: 400, field: 'query.count', reason: /expected number/ },
  { service: 'producer', method: 'POST', path: '/produce/batch?count=2.5', status: 400, field: 'query.count', reason: /expected int/ },
  { service: 'producer', method: 'POST', path: '/burst', body: json({ count: -5 }), status: 400, field: 'body.count', reason: />=1/ },
  { service: 'producer', method: 'POST', path: '/burst', body: json({ count: 10, delay_ms: 'fast' }), status: 400, field: 'body.delay_ms', reason: /expected number/ },
  { service: 'producer', method: 'POST', path: '/burst', body: json({ count: 1_000_000, delay_ms: 10 }), status: 400, field: 'body.delay_ms', reason: /10 minutes/ },
  { service: 'producer', method: 'POST', path: '/burst', body: json({ count: 2_000_000 }), status: 400, field: 'body.count', reason: /<=1000000/ },
  { service: 'producer', method: 'POST', path: '/config', body: json({ rate_ms: 0 }), status: 400, field: 'body.rate_ms', reason: />=1/ },
  { service: 'producer', method: 'POST', path: '/config', body: json({ batch_size: 5000 }), status: 400, field: 'body.batch_size', reason: /<=1000/ },
  { service: 'producer', method: 'POST', path: '/config', body: json({ running: 'yes' }), status: 400, field: 'body.running', reason: /expected boolean/ },
  { service: 'producer', method: 'GET', path: '/orders', status: 404 },
  { service: 'consumer', method: 'POST', path: '/slow?time_ms=-1', status: 400, field: 'query.time_ms', reason: />=0/ },
  { service: 'consumer', method: 'POST', path: '/fast?time_ms=99999', status: 400, field: 'query.time_ms', reason: /<=10000/ },
  { service: 'consumer', method: 'POST', path: '/fast?time_ms=quick', status: 400, field: 'query.time_ms', reason: /expected number/ },
  { service: 'consumer', method: 'POST', path: '/config', body: json({ processing_time_ms: -1 }), status: 400, field: 'body.processing_time_ms', reason: />=0/ },
  { service: 'consumer', method: 'POST', path: '/config', body: json({ paused: 'no' }), status: 400, field: 'body.paused', reason: /expected boolean/ },
  { service: 'consumer', method: 'POST', path: '/config', body: json({ processing: 5 }), status: 400, field: 'body.processing', reason: /unknown field/ },
  { service: 'consumer', method: 'POST', path: '/config', body: '{paused:true}', status: 400, field: 'body', reason: /malformed JSON/ },
  { service: 'consumer', method: 'POST', path: '/stop', status: 404 },
  { service: 'monitor', method: 'GET', path: '/lag/history?limit=0', status: 400, field: 'query.limit', reason: />=1/ },
  { service: 'monitor', method: 'GET', path: '/lag/history?limit=many', status: 400, field: 'query.limit', reason: /expected number/ },
  { service: 'monitor', method: 'GET', path: '/lag/history?limit=1000000', status: 400, field: 'query.limit', reason: /<=1200/ },
  { service: 'monitor', method: 'GET', path: '/alerts?limit=-3', status: 400, field: 'query.limit', reason: />=1/ },
  { service: 'monitor', method: 'POST', path: '/lag', status: 404 },
];

describe('bad input gets a 4xx naming the field and the reason', () => {
  let lab: Lab;
  let urls: Record<Case['service'], string>;
  beforeAll(async () => {
    lab = await startLab('bad-input');
    urls = { producer: lab.producer.url, consumer: lab.consumers[0]!.url, monitor: lab.monitor.url };
  });
  afterAll(() => lab?.stopAll());

  it.each(cases)('$service $method $path $body -> $status $field', async (c) => {
    const res = await fetch(`${urls[c.service]}${c.path}`, {
      method: c.method,
      headers: c.body === undefined ? {} : { 'content-type': 'application/json' },
      body: c.body,
    });
    expect(res.status).toBe(c.status);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await res.json()) as any;
    expect(body.error).toEqual(expect.any(String));
    if (c.field) {
      const problem = body.problems.find((p: { field: string }) => p.field === c.field);
      expect(problem, `problems: ${JSON.stringify(body.problems)}`).toBeDefined();
      expect(problem.reason).toMatch(c.reason!);
    }
  });

  it('nothing crashed and nothing was produced by the refused requests', async () => {
    for (const url of Object.values(urls)) expect((await fetch(`${url}/health`)).status).toBe(200);
    expect((await getJson(`${lab.producer.url}/stats`)).produced).toBe(0);
    expect(lab.consumers[0]!.process.exitCode).toBeNull();
  });

  it('the largest batch the API allows (count=100000) is taken whole: 201, every order in the topic, the poison ones counted across requests', async () => {
    // One produce request per 500 orders: in a single request the broker refused the partitions'
    // record batches (over its 1 MB message.max.bytes) and the caller got a 503. Each request's
    // orders are made as it goes out: the producer runs under the lab's 64 MB old-generation cap.
    const res = await fetch(`${lab.producer.url}/produce/batch?count=100000&poison=999`, { method: 'POST' });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(await res.json()).toMatchObject({ sent: 100_000, poison: 999, first_sequence: 1, last_sequence: 100_000 });
    expect(await getJson(`${lab.producer.url}/stats`)).toMatchObject({ produced: 100_000, poison_sent: 999 });
    const admin = testKafka(lab.brokers).admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(lab.topic);
      expect(offsets.reduce((sum, p) => sum + Number(p.high), 0)).toBe(100_000);
    } finally {
      await admin.disconnect();
    }
  });
});
