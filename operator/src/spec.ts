import { z } from 'zod';

/**
 * The LagAutoscaler spec with the same defaults and limits as the CRD's OpenAPI schema
 * (helm/backpressure-lab/crds/lagautoscaler.yaml). The apiserver applies them for cluster objects; this schema
 * applies them to the local-mode YAML file and re-checks what the informer delivers.
 */

const behaviour = (stabilizationWindowSeconds: number) =>
  z
    .object({
      /** Scale-down: the highest recommendation inside this window wins; scale-up: the lowest. */
      stabilizationWindowSeconds: z.number().int().min(0).max(3600).default(stabilizationWindowSeconds),
      /** At most this many replicas added (or removed) per period; absent means no step limit. */
      maxStep: z.number().int().min(1).optional(),
      periodSeconds: z.number().int().min(1).max(1800).default(15),
    })
    .strict();

export const autoscalerSpecSchema = z
  .object({
    scaleTargetRef: z
      .object({
        apiVersion: z.literal('apps/v1').default('apps/v1'),
        kind: z.literal('Deployment').default('Deployment'),
        name: z.string().min(1),
      })
      .strict(),
    metricsSource: z
      .object({
        /** Base URL of the lag monitor; the operator reads `<url>/lag`. */
        url: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL'),
      })
      .strict(),
    topic: z.string().min(1),
    consumerGroup: z.string().min(1),
    minReplicas: z.number().int().min(1).default(1),
    maxReplicas: z.number().int().min(1).default(10),
    /** Lets maxReplicas exceed the partition count; the extra consumers would sit idle. */
    allowIdleConsumers: z.boolean().default(false),
    /** Target lag per replica (KEDA's lagThreshold). */
    lagThreshold: z.number().int().min(1).default(100),
    /** How fast the backlog should drain; feeds the capacity rule. */
    targetDrainSeconds: z.number().int().min(1).default(30),
    pollIntervalSeconds: z.number().int().min(1).max(300).default(5),
    scaleUp: behaviour(0).prefault({}),
    scaleDown: behaviour(30).prefault({}),
    paused: z.boolean().default(false),
  })
  .strict()
  .refine((spec) => spec.minReplicas <= spec.maxReplicas, {
    message: 'minReplicas must not exceed maxReplicas',
    path: ['maxReplicas'],
  });

export type AutoscalerSpec = z.infer<typeof autoscalerSpecSchema>;
/** What a caller may write: everything with a default is optional. */
export type AutoscalerSpecInput = z.input<typeof autoscalerSpecSchema>;

/** Parses a spec; the error names every bad field under `where` (e.g. `spec.maxReplicas`). */
export function parseSpec(value: unknown, where = 'spec'): AutoscalerSpec {
  const result = autoscalerSpecSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${[where, ...issue.path].join('.')}: ${issue.message}`);
  throw new Error(`invalid LagAutoscaler ${problems.join('; ')}`);
}
