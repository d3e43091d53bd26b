import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { REPO } from './paths.js';
import { freePort } from './services.js';


declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    /** The broker's KAFKA_STATE dir: given it, hack/kafka/up.sh finds this broker running. */
    kafkaState: string;
  }
}

/**
 * The tests' own broker on free ports (or TEST_KAFKA_PORT), away from the lab's 9092, so that
 * `make test`, `make demo` and a second test run can share the machine.
 */
export default async function setup(project: TestProject) {
  const port = process.env.TEST_KAFKA_PORT ?? String(await freePort());
  let controller = String(await freePort());
  while (controller === port) controller = String(await freePort());
  const state = mkdtempSync(join(tmpdir(), 'bplab-kafka-'));
  const env = { ...process.env, KAFKA_PORT: port, KAFKA_CONTROLLER_PORT: controller, KAFKA_STATE: state };
  execFileSync('bash', [join(REPO, 'hack/kafka/up.sh')], { env, stdio: 'inherit' });
  project.provide('kafkaBrokers', `127.0.0.1:${port}`);
  project.provide('kafkaState', state);
  return () => {
    execFileSync('bash', [join(REPO, 'hack/kafka/down.sh')], { env, stdio: 'inherit' });
    rmSync(state, { recursive: true, force: true });
  };
}
