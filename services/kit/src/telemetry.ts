import { context, propagation, trace, type Context, type Tracer } from '@opentelemetry/api';

interface Telemetry {
  tracer: Tracer;
  shutdown: () => Promise<void>;
}

/**
 * Traces go to an OTLP/HTTP endpoint (Jaeger's 4318) when one is configured; without one the
 * OpenTelemetry API stays a no-op and costs nothing. The SDK and its exporter are imported only
 * then: loaded, they hold about 25 MB of every process, traced or not. Spans are made by hand
 * where messages move, so no auto-instrumentation is loaded.
 */
export async function startTelemetry(service: string, endpoint: string | undefined): Promise<Telemetry> {
  if (!endpoint) return { tracer: trace.getTracer(service), shutdown: async () => {} };
  const [{ NodeSDK }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': service }),
    traceExporter: new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, '')}/v1/traces` }),
    instrumentations: [],
  });
  sdk.start();
  return { tracer: trace.getTracer(service), shutdown: () => sdk.shutdown() };
}

/** The active trace context as Kafka headers (W3C traceparent/tracestate). */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const headers: Record<string, string> = {};
  propagation.inject(ctx, headers);
  return headers;
}

/** The producer's trace context from a consumed message's headers. */
export function contextFromHeaders(headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined): Context {
  const carrier: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) carrier[key] = first.toString();
  }
  return propagation.extract(context.active(), carrier);
}
