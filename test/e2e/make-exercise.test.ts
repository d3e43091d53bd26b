import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO } from '../support/paths.js';
import { freePort, freePortRange } from '../support/services.js';

/*
 * `make exercise N` for every exercise of the README, in order, against a lab started the way a
 * reader starts one (hack/lab/local-up.sh, one consumer at 500 ms) on ports, directories and
 * topics of its own beside the test broker, so a lab of yours on the usual ports is left alone.
 * Each exercise must end with PASS and leave the lab as the next one expects it.
 */
const PARTITIONS = 6;
const dir = mkdtempSync(join(tmpdir(), 'bplab-exercise-'));
const env: Record<string, string> = { LAB_RUN_DIR: join(dir, 'run'), LAB_LOG_DIR: join(dir, 'logs') };

function run(command: string, args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: REPO, env: { ...process.env, ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('make exercise N on a local lab', () => {
  beforeAll(async () => {
    const brokers = inject('kafkaBrokers');
    const topic = `exercise-${process.pid}-orders`;
    Object.assign(env, {
      KAFKA_PORT: brokers.split(':')[1]!,
      // With the test broker's state dir, hack/kafka/up.sh (run by local-up) finds it running
      // and only creates the lab's topics on it.
      KAFKA_STATE: inject('kafkaState'),
      LAB_TOPIC: topic,
      LAB_SINK_TOPIC: `${topic}.processed`,
      LAB_DLQ_TOPIC: `${topic}.dlq`,
      LAB_GROUP: `${topic}-processors`,
      LAB_PRODUCER_PORT: String(await freePort()),
      LAB_LAG_MONITOR_PORT: String(await freePort()),
      LAB_OPERATOR_PORT: String(await freePort()),
      LAB_CONSUMER_BASE_PORT: String(await freePortRange(PARTITIONS)),
    });
    const up = await run('bash', [join(REPO, 'hack/lab/local-up.sh')]);
    expect(up.code, up.output).toBe(0);
  });

  afterAll(async () => {
    // The lab's own stop, by its pid files; the broker is the test setup's and stays.
    await run('bash', [join(REPO, 'hack/lab/local-down.sh')], { KEEP_KAFKA: '1' });
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the exercises without N, and refuses a bad N with exit 2', async () => {
    const list = await run('make', ['-s', 'exercise']);
    expect(list.code, list.output).toBe(0);
    for (let n = 1; n <= 12; n++) expect(list.output).toMatch(new RegExp(`^ +${n} +\\S`, 'm'));
    for (const bad of ['13', '0', 'x']) {
      const refused = await run('bash', [join(REPO, 'hack/lab/exercise.sh'), bad]);
      expect(refused.code, refused.output).toBe(2);
      expect(refused.output).toContain(`no exercise '${bad}': N is a number from 1 to 12`);
    }
  });

  for (let n = 1; n <= 12; n++) {
    // Both spellings: `make exercise 3` and `make exercise N=3`.
    const args = n % 2 ? ['-s', 'exercise', String(n)] : ['-s', 'exercise', `N=${n}`];
    it(`make ${args.slice(1).join(' ')} passes`, async () => {
      const { code, output } = await run('make', args);
      expect(output).toMatch(new RegExp(`^PASS exercise ${n}: `, 'm'));
      expect(code, output).toBe(0);
      expect(output).not.toMatch(/^ {2}FAIL/m);
    });
  }
});
