import { parse } from '@bplab/kit';
import type { Express } from 'express';
import { z } from 'zod';
import type { AutoProducer } from './auto-producer.js';
import { burst } from './burst.js';
import { orderOverrides } from './orders.js';
import type { OrderSender } from './sender.js';
import type { ProducerMetrics } from './metrics.js';
import type { ThrottleLoop } from './throttle-loop.js';

/** Caps keep one request from tying the producer up for long: documented in the README. */
export const LIMITS = { batchCount: 100_000, burstCount: 1_000_000, delayMs: 10_000, burstMs: 600_000, rateMs: 60_000, batchSize: 1_000 };

const batchQuery = z
  .object({
    count: z.coerce.number().int().min(1).max(LIMITS.batchCount).default(10),
    poison: z.coerce.number().int().min(0).max(LIMITS.batchCount).default(0),
  })
  .refine((q) => q.poison <= q.count, { path: ['poison'], message: 'must be at most count' });
const burstBody = z
  .strictObject({
    count: z.number().int().min(1).max(LIMITS.burstCount).default(100),
    delay_ms: z.number().int().min(0).max(LIMITS.delayMs).default(10),
  })
  .refine((b) => b.count * b.delay_ms <= LIMITS.burstMs, {
    path: ['delay_ms'],
    message: `count x delay_ms must be at most ${LIMITS.burstMs} ms (10 minutes)`,
  });
const configBody = z.strictObject({
  rate_ms: z.number().int().min(1).max(LIMITS.rateMs).optional(),
  batch_size: z.number().int().min(1).max(LIMITS.batchSize).optional(),
  running: z.boolean().optional(),
});
const throttleBody = z.strictObject({ enabled: z.boolean() });

export interface ProducerDeps {
  topic: string;
  sender: OrderSender;
  auto: AutoProducer;
  metrics: ProducerMetrics;
  throttle: ThrottleLoop;
}

export function producerRoutes({ topic, sender, auto, metrics, throttle }: ProducerDeps) {
  return (app: Express) => {
    app.post('/produce', async (req, res) => {
      const overrides = parse(orderOverrides, req.body, 'body');
      const orders = sender.newOrders(1, overrides);
      const [ack] = await sender.send(orders);
      res.status(201).json({ order: orders[0], ...ack });
    });

    app.post('/produce/batch', async (req, res) => {
      const { count, poison } = parse(batchQuery, req.query, 'query');
      const { first, last } = await sender.sendNew(count, poison);
      res.status(201).json({ sent: count, poison, first_sequence: first, last_sequence: last });
    });

    app.post('/burst', async (req, res) => {
      const { count, delay_ms } = parse(burstBody, req.body, 'body');
      res.status(201).json(await burst(sender, count, delay_ms));
    });

    app.post('/start', (_req, res) => {
      res.json(auto.configure({ running: true }));
    });
    app.post('/stop', (_req, res) => {
      res.json(auto.configure({ running: false }));
    });
    app.post('/config', (req, res) => {
      res.json(auto.configure(parse(configBody, req.body, 'body')));
    });
    app.get('/config', (_req, res) => {
      res.json({ ...auto.current, topic, producer_id: sender.producerId });
    });

    app.post('/throttle', (req, res) => {
      res.json(throttle.setEnabled(parse(throttleBody, req.body, 'body').enabled));
    });
    app.get('/throttle', (_req, res) => {
      res.json(throttle.current);
    });

    app.get('/stats', (_req, res) => {
      const settings = auto.current;
      res.json({
        produced: sender.produced,
        poison_sent: sender.poisonSent,
        errors: sender.errors,
        last_sequence: sender.lastSequence,
        rate_10s: metrics.rate.rate(10),
        rate_60s: metrics.rate.rate(60),
        auto_producer: { ...settings, target_rate_per_sec: settings.running ? (settings.batch_size * 1000) / settings.rate_ms : 0 },
        throttle: throttle.current,
      });
    });
  };
}
