import type { Logger } from '@bplab/kit';
import type { OrderSender } from './sender.js';
import type { ProducerMetrics } from './metrics.js';

export interface AutoProducerSettings {
  rate_ms: number;
  batch_size: number;
  running: boolean;
}

/**
 * Sends batch_size orders every rate_ms. The next tick is scheduled from the start of the last
 * one, so the rate holds while sends are fast; a slow broker stretches ticks instead of piling
 * sends up.
 */
export class AutoProducer {
  private timer: NodeJS.Timeout | undefined;
  /** Bumped by every change, so a tick that was under way when settings changed does not reschedule. */
  private generation = 0;
  private settings: AutoProducerSettings;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    initial: AutoProducerSettings,
    private readonly sender: OrderSender,
    private readonly metrics: ProducerMetrics,
    private readonly logger: Logger,
  ) {
    this.settings = { ...initial };
    this.apply();
  }

  get current(): AutoProducerSettings {
    return { ...this.settings };
  }

  configure(change: Partial<AutoProducerSettings>): AutoProducerSettings {
    this.settings = { ...this.settings, ...change };
    this.apply();
    return this.current;
  }

  /** Stops ticking and waits for the batch in flight, so shutdown loses no acknowledged order. */
  async stop(): Promise<void> {
    this.configure({ running: false });
    await this.inFlight;
  }

  private apply(): void {
    this.metrics.running.set(this.settings.running ? 1 : 0);
    this.metrics.rateMs.set(this.settings.rate_ms);
    this.metrics.batchSize.set(this.settings.batch_size);
    clearTimeout(this.timer);
    this.generation += 1;
    if (this.settings.running) this.schedule(this.settings.rate_ms, this.generation);
  }

  private schedule(delay: number, generation: number): void {
    this.timer = setTimeout(() => void this.tick(generation), Math.max(0, delay));
  }

  private async tick(generation: number): Promise<void> {
    const started = Date.now();
    const orders = this.sender.newOrders(this.settings.batch_size);
    this.inFlight = this.sender.send(orders).then(
      () => undefined,
      (err: unknown) => {
        this.logger.warn({ err: err instanceof Error ? err.message : err }, 'auto-producer batch failed; will retry on the next tick');
      },
    );
    await this.inFlight;
    if (generation === this.generation) this.schedule(this.settings.rate_ms - (Date.now() - started), generation);
  }
}
