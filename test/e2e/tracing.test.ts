import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../support/lab.js';
import { postJson } from '../support/services.js';

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
}

/**
 * A stand-in for Jaeger's OTLP/HTTP receiver (no Jaeger binary can run here): it keeps the spans
 * the services export as OTLP JSON. The services and the broker are real.
 */
function otlpReceiver(spans: Span[]): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (chunk) => (data += chunk));
    req.on('end', () => {
      const payload = JSON.parse(data);
      for (const rs of payload.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...ss.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

describe('tracing', () => {
  const spans: Span[] = [];
  let receiver: { server: Server; url: string };
  let lab: Lab;
  beforeAll(async () => {
    receiver = await otlpReceiver(spans);
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '200' };
    lab = await startLab('tracing', { consumerEnv: { ...otel, PROCESSING_TIME_MS: '0' }, producerEnv: otel });
  });
  afterAll(async () => {
    await lab?.stopAll();
    receiver?.server.close();
  });

  it('links the producer span to the consumer span through the Kafka headers', async () => {
    const res = await postJson(`${lab.producer.url}/produce`, { product: 'traced' });
    expect(res.status).toBe(201);
    await lab.drained();
    await expect.poll(() => spans.filter((s) => s.name.endsWith(' process')).length, { timeout: 20_000 }).toBeGreaterThan(0);
    const send = spans.find((s) => s.name === `${lab.topic} send`);
    const processSpan = spans.find((s) => s.name === `${lab.topic} process`);
    expect(send).toBeDefined();
    expect(processSpan).toMatchObject({ traceId: send!.traceId, parentSpanId: send!.spanId });
    const [record] = await lab.processed();
    expect(record!.trace_id).toBe(send!.traceId);
  });
});
