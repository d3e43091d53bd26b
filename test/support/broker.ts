import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from './paths.js';
import { freePort } from './services.js';

const run = promisify(execFile);

/** A broker of a test's own, for tests that stop and restart Kafka. */
export async function privateBroker() {
  const port = await freePort();
  let controller = await freePort();
  while (controller === port) controller = await freePort();
  const state = mkdtempSync(join(tmpdir(), 'bplab-broker-'));
  const env = { ...process.env, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(controller), KAFKA_STATE: state };
  const script = (name: string) => run('bash', [join(REPO, 'hack/kafka', name)], { env });
  await script('up.sh');
  return {
    brokers: `127.0.0.1:${port}`,
    stop: () => script('down.sh'),
    start: () => script('up.sh'),
    destroy: async () => {
      await script('down.sh');
      rmSync(state, { recursive: true, force: true });
    },
  };
}
