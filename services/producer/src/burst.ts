import { MAX_ORDERS_PER_REQUEST, PRODUCERS, type OrderSender } from './sender.js';

/**
 * Chunks under way at once when there is no delay: one in flight on each producer, and one more
 * being built, so no producer waits for its next chunk.
 */
const PARALLEL_CHUNKS = PRODUCERS + 1;

export interface BurstResult {
  sent: number;
  duration_ms: number;
  rate_per_sec: number;
}

/**
 * count orders, delay_ms apart. delay_ms 0 means "as fast as Kafka takes them": chunked and
 * pipelined, which is what the benchmark compares against Kafka's ProducerPerformance.
 */
export async function burst(sender: OrderSender, count: number, delayMs: number): Promise<BurstResult> {
  const started = performance.now();
  let sent = 0;
  if (delayMs === 0) {
    let remaining = count;
    const lane = async () => {
      while (remaining > 0) {
        const n = Math.min(MAX_ORDERS_PER_REQUEST, remaining);
        remaining -= n;
        await sender.send(sender.newOrders(n));
        sent += n;
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_CHUNKS }, lane));
  } else {
    for (let i = 0; i < count; i++) {
      const tick = performance.now();
      await sender.send(sender.newOrders(1));
      sent += 1;
      const wait = delayMs - (performance.now() - tick);
      if (i < count - 1 && wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
  const duration = performance.now() - started;
  return { sent, duration_ms: Math.round(duration), rate_per_sec: Math.round((sent / duration) * 1000) };
}
