import type { Server } from 'node:http';
import express, { type ErrorRequestHandler, type Express } from 'express';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import { HttpError, invalidRequest, zodProblems } from './errors.js';
import type { Logger } from './logger.js';

/** A body larger than this is refused: no endpoint takes more than a small JSON object. */
const BODY_LIMIT = '64kb';

export interface HealthReport {
  healthy: boolean;
  [key: string]: unknown;
}

interface HttpOptions {
  logger: Logger;
  registry: Registry;
  health: () => HealthReport;
  routes: (app: Express) => void;
}

/**
 * Validates one part of a request; a failure becomes a 400 naming the field and the reason. An
 * absent body (an empty POST) counts as `{}`.
 */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query'): z.infer<S> {
  const result = schema.safeParse(value ?? {});
  if (!result.success) throw invalidRequest(zodProblems(result.error, where));
  return result.data;
}

/** One express app per service: JSON in and out, /health, /metrics, JSON 404s and errors. */
export function createApp({ logger, registry, health, routes }: HttpOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: BODY_LIMIT, strict: false }));

  app.get('/health', (_req, res) => {
    const report = health();
    res.status(report.healthy ? 200 : 503).json({ status: report.healthy ? 'healthy' : 'unhealthy', ...report });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  routes(app);

  app.use((req, res) => {
    res.status(404).json({ error: `no route ${req.method} ${req.path}` });
  });
  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: err.message, ...err.details });
      return;
    }
    // body-parser's errors carry a status and a type: malformed JSON, too large, bad charset.
    const status = typeof err?.status === 'number' ? err.status : 500;
    if (status >= 400 && status < 500) {
      const reason = err.type === 'entity.parse.failed' ? 'malformed JSON' : String(err.message);
      res.status(status).json({ error: `invalid request: body: ${reason}`, problems: [{ field: 'body', reason }] });
      return;
    }
    logger.error({ err, method: req.method, path: req.path }, 'request failed');
    res.status(500).json({ error: 'internal error' });
  };
  app.use(onError);
  return app;
}

export function listen(app: Express, port: number, logger: Logger): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, '0.0.0.0', (err?: Error) => {
      if (err) return reject(err);
      logger.info({ port }, 'listening');
      resolve(server);
    });
  });
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
