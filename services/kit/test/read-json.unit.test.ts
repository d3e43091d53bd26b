import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readJson } from '../src/read-json.js';

/** An in-process server answering each path as the table below says. */
describe('readJson: how one service reads another', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok') return res.end(JSON.stringify({ mode: 'open', limit: null, extra: 1 }));
      if (req.url === '/wrong') return res.end(JSON.stringify({ mode: 3 }));
      if (req.url === '/text') return res.end('not json');
      if (req.url === '/slow') return void setTimeout(() => res.end('{}'), 500);
      // Headers and half a body, then nothing: the timeout must cover the body too.
      if (req.url === '/stall') return void res.writeHead(200).write('{"mode":');
      res.statusCode = 503;
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const schema = z.object({ mode: z.string(), limit: z.number().nullable() });

  it('returns the checked body', async () => {
    expect(await readJson(`${base}/ok`, schema, 1000)).toEqual({ ok: true, body: { mode: 'open', limit: null } });
  });

  it.each([
    { path: '/down', error: /^GET http:\/\/127\.0\.0\.1:\d+\/down: HTTP 503$/ },
    { path: '/wrong', error: /\/wrong: unexpected body \(mode: .+; limit: .+\)$/ },
    { path: '/text', error: /\/text: .*JSON/ },
    { path: '/slow', error: /\/slow: .*(timeout|aborted)/i },
    { path: '/stall', error: /\/stall: .*(timeout|aborted)/i },
  ])('names the URL and the reason when $path fails', async ({ path, error }) => {
    const read = await readJson(`${base}${path}`, schema, 200);
    expect(read.ok).toBe(false);
    expect(!read.ok && read.error).toMatch(error);
  });

  it('names a refused connection', async () => {
    // A port that was just free: nothing listens there.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const read = await readJson(`http://127.0.0.1:${port}/x`, schema, 1000);
    expect(!read.ok && read.error).toMatch(new RegExp(`^GET http://127\\.0\\.0\\.1:${port}/x: .*ECONNREFUSED`));
  });
});
