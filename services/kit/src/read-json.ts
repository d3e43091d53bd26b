import type { z } from 'zod';

/** Either the checked body, or why there is none, as a sentence that names the URL. */
export type ReadResult<T> = { ok: true; body: T } | { ok: false; error: string };

/**
 * GET `url` with a timeout and check the body against `schema`: how one service reads another
 * (the operator and the producer read the lag monitor; the lag monitor reads the producer). Never
 * throws: a refused connection, a timeout, an HTTP error or an unexpected body come back as an
 * error naming the URL and the reason, ready for a log line, a condition or /status.
 */
export async function readJson<S extends z.ZodType>(url: string, schema: S, timeoutMs: number): Promise<ReadResult<z.infer<S>>> {
  const failed = (why: string) => ({ ok: false as const, error: `GET ${url}: ${why}` });
  let body: unknown;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (!response.ok) return failed(`HTTP ${response.status}`);
    body = await response.json();
  } catch (err) {
    return failed(err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err));
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) return failed(`unexpected body (${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')})`);
  return { ok: true, body: parsed.data };
}
