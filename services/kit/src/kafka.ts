import { Kafka, logLevel, type Admin, type LogEntry } from 'kafkajs';
import type { Logger } from './logger.js';

export type { Admin, Consumer, EachMessagePayload, Producer } from 'kafkajs';

/**
 * The lab's one way to reach Kafka. Every service gets its client here, so that a swap of the
 * client library (kafkajs is unmaintained) stays inside this module.
 */
export function createKafka(clientId: string, brokers: string[], logger: Logger): Kafka {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    // Short, bounded retries: callers see a broker outage within seconds and decide themselves.
    retry: { initialRetryTime: 300, retries: 5, maxRetryTime: 3000 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...extra } = entry.log;
      const level = entry.level === logLevel.ERROR ? 'error' : entry.level === logLevel.WARN ? 'warn' : 'info';
      kafkaLogger[level]({ namespace: entry.namespace, ...extra }, message);
    },
  });
}

interface BrokerState {
  up: boolean;
  since: string;
  error?: string;
}

/**
 * Asks the broker for its cluster metadata every few seconds, so /health can say whether Kafka
 * answers and why not, independently of whether any traffic is flowing.
 */
export class BrokerProbe {
  private state: BrokerState = { up: false, since: new Date().toISOString(), error: 'not checked yet' };
  private timer: NodeJS.Timeout | undefined;
  private readonly admin: Admin;

  constructor(kafka: Kafka, private readonly intervalMs = 2000) {
    this.admin = kafka.admin({ retry: { retries: 0 } });
  }

  get current(): BrokerState {
    return this.state;
  }

  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.admin.disconnect().catch(() => {});
  }

  /** Lets a failed write mark the broker down at once instead of at the next probe. */
  reportFailure(error: unknown): void {
    this.set(false, error instanceof Error ? error.message : String(error));
  }

  private async check(): Promise<void> {
    try {
      await this.admin.connect();
      await this.admin.describeCluster();
      this.set(true);
    } catch (err) {
      this.set(false, err instanceof Error ? err.message : String(err));
      await this.admin.disconnect().catch(() => {});
    }
  }

  private set(up: boolean, error?: string): void {
    const since = up === this.state.up ? this.state.since : new Date().toISOString();
    this.state = error === undefined ? { up, since } : { up, since, error };
  }
}
