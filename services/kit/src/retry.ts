import type { Logger } from './logger.js';

/**
 * Runs `attempt` until it succeeds or `stopped()` says to give up, backing off 0.5 s, 1 s, 1.5 s
 * ... up to 5 s between tries. For connecting to a broker that may not be there yet: the service
 * stays up and its /health says why it is waiting.
 */
export async function retryUntilDone(
  what: string,
  attempt: () => Promise<void>,
  logger: Logger,
  stopped: () => boolean,
  onFailure: (err: Error) => Promise<void> = async () => {},
): Promise<void> {
  for (let n = 1; !stopped(); n++) {
    try {
      await attempt();
      return;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      logger.warn({ err: error.message, attempt: n }, `could not ${what}; retrying`);
      await onFailure(error);
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 500 * n)));
    }
  }
}
