import { randomUUID } from 'node:crypto';
import { z } from 'zod';

const PRODUCTS = ['keyboard', 'mouse', 'monitor', 'headset', 'webcam', 'dock', 'cable', 'laptop stand'];

export interface Order {
  id: string;
  sequence: number;
  timestamp: string;
  customer_id: string;
  product: string;
  quantity: number;
  amount: number;
  producer: string;
  /** Present only on a poison order: every consumer fails to process it (dead letter queue). */
  poison?: true;
}

/** Fields a client may set on POST /produce; everything else is generated. */
export const orderOverrides = z.strictObject({
  id: z.string().min(1).max(128).optional(),
  customer_id: z.string().min(1).max(128).optional(),
  product: z.string().min(1).max(128).optional(),
  quantity: z.number().int().min(1).max(10_000).optional(),
  amount: z.number().min(0).max(1_000_000).optional(),
  /** true makes the order poison: consumers retry it, then write it to the dead letter topic. */
  poison: z.boolean().optional(),
});
export type OrderOverrides = z.infer<typeof orderOverrides>;

/** Pure except for randomness, which the caller may pass in for tests. `timestamp` is ISO 8601, shared by a batch. */
export function buildOrder(
  sequence: number,
  producer: string,
  overrides: OrderOverrides = {},
  timestamp = new Date().toISOString(),
  random: () => number = Math.random,
): Order {
  const quantity = overrides.quantity ?? 1 + Math.floor(random() * 5);
  return {
    id: overrides.id ?? randomUUID(),
    sequence,
    timestamp,
    customer_id: overrides.customer_id ?? `customer-${1 + Math.floor(random() * 1000)}`,
    product: overrides.product ?? PRODUCTS[Math.floor(random() * PRODUCTS.length)]!,
    quantity,
    amount: overrides.amount ?? Math.round(quantity * (5 + random() * 195) * 100) / 100,
    producer,
    ...(overrides.poison === true ? { poison: true as const } : {}),
  };
}

/**
 * Whether order `index` (0-based) of `count` is one of the `poison` poison ones: exactly `poison`
 * of them, spread evenly over the batch, so they land on every partition rather than in a run.
 */
export function isPoisonAt(index: number, count: number, poison: number): boolean {
  return Math.floor(((index + 1) * poison) / count) > Math.floor((index * poison) / count);
}

/**
 * The order id is the key: ids are random, so the default murmur2 partitioner spreads orders
 * evenly over every partition, and all events of one order would still land on one partition.
 */
export function orderKey(order: Order): string {
  return order.id;
}
