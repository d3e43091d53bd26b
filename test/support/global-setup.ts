import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { REPO } from './paths.js';

/** The tests' own broker, away from the lab's 9092, so `make test` and `make demo` can coexist. */
const TEST_KAFKA_PORT = process.env.TEST_KAFKA_PORT ?? '19092';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
  }
}

export default function setup(project: TestProject) {
  const state = mkdtempSync(join(tmpdir(), 'bplab-kafka-'));
  const env = { ...process.env, KAFKA_PORT: TEST_KAFKA_PORT, KAFKA_STATE: state };
  execFileSync('bash', [join(REPO, 'hack/kafka/up.sh')], { env, stdio: 'inherit' });
  project.provide('kafkaBrokers', `127.0.0.1:${TEST_KAFKA_PORT}`);
  return () => {
    execFileSync('bash', [join(REPO, 'hack/kafka/down.sh')], { env, stdio: 'inherit' });
    rmSync(state, { recursive: true, force: true });
  };
}
