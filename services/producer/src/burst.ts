import type { OrderSender } from './sender.js';

/** With no delay, orders go out in chunks this big: one produce request per chunk. */
const CHUNK = 500;
/** Chunks in flight at once when there is no delay; the idempotent producer keeps their order. */
const PARALLEL_CHUNKS = 4;

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
        const n = Math.min(CHUNK, remaining);
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
