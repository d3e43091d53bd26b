import { z } from 'zod';

/** Parses the environment once against a zod schema; the error names every bad variable and why. */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return result.data;
}

/** Env values are strings: these read them as the types a service needs. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback),
  int: (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(fallback),
  number: (fallback: number, min = 0) => z.coerce.number().min(min).default(fallback),
  string: (fallback: string) => z.string().min(1).default(fallback),
  brokers: (fallback = '127.0.0.1:9092') =>
    z.string().default(fallback).transform((value) => value.split(',').map((b) => b.trim()).filter(Boolean)),
  bool: (fallback: boolean) =>
    z.enum(['true', 'false', '1', '0']).default(fallback ? 'true' : 'false').transform((v) => v === 'true' || v === '1'),
};

/** Settings every service reads the same way. */
export const commonEnv = {
  SERVICE_NAME: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  KAFKA_BROKERS: env.brokers(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
};
