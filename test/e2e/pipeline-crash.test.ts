import { afterEach, describe, expect, it, vi } from 'vitest';
import { startLab, type Lab } from '../support/lab.js';
import { getJson, postJson } from '../support/services.js';

const BACKLOG = 20_000;

/**
 * The consumer pipelines its sink writes and commits in the background (processor.ts,
 * pipeline.ts): flat out, at processing time 0, a SIGKILL always finds writes in flight and
 * acknowledged writes not yet committed. Nothing may be lost, and the only orders written twice
 * are ones the killed consumer had written without committing them: the next owner starts each
 * partition at the last commit, never past a write that was not acknowledged.
 */
describe('a consumer killed mid-pipeline on a real broker', () => {
  let lab: Lab | undefined;
  afterEach(async () => {
    await lab?.stopAll();
    lab = undefined;
  });

  it.each([
    { mode: 'one at a time', batchSize: '1' },
    { mode: 'batch 50', batchSize: '50' },
  ])('$mode: SIGKILL while draining a backlog loses nothing; duplicates are only its writes past its last commit', async ({ batchSize }) => {
    lab = await startLab(`pipeline-crash-b${batchSize}`, { consumerEnv: { PROCESSING_TIME_MS: '0', BATCH_SIZE: batchSize } });
    const l = lab;
    const victim = l.consumers[0]!;
    await postJson(`${victim.url}/pause`);
    expect((await postJson(`${l.producer.url}/produce/batch?count=${BACKLOG}`)).status).toBe(201);
    await postJson(`${victim.url}/resume`);
    await vi.waitFor(async () => expect((await getJson(`${victim.url}/stats`)).processed).toBeGreaterThan(BACKLOG / 4), { timeout: 30_000, interval: 20 });
    await victim.stop('SIGKILL');
    expect(victim.process.signalCode).toBe('SIGKILL');
    const lagAtKill = (await l.lag()).total_lag;
    l.consumers.splice(0, 1);
    // The next owner: it gets the partitions once the dead member's session (6 s) has expired.
    await l.addConsumer({}, 2);
    await l.drained(60_000);

    const produced = await l.producedIds();
    const processed = await l.processed();
    expect(produced).toHaveLength(BACKLOG);
    const seen = new Set(processed.map((p) => p.order_id));
    expect(produced.filter((id) => !seen.has(id))).toEqual([]);
    expect(new Set(processed.map((p) => p.consumer))).toEqual(new Set(['consumer-1', 'consumer-2']));

    // Where the successor started on each partition: the victim's last commit there.
    const startedAt = new Map<number, bigint>();
    for (const p of processed.filter((r) => r.consumer === 'consumer-2')) {
      const offset = BigInt(p.offset);
      if (!startedAt.has(p.partition) || offset < startedAt.get(p.partition)!) startedAt.set(p.partition, offset);
    }
    const copies = new Map<string, typeof processed>();
    for (const p of processed) copies.set(p.order_id, [...(copies.get(p.order_id) ?? []), p]);
    const twice = [...copies.values()].filter((c) => c.length > 1);
    for (const c of twice) {
      // One copy each: the victim's, uncommitted (at or past where the successor began), and the successor's.
      expect(c.map((p) => p.consumer).sort()).toEqual(['consumer-1', 'consumer-2']);
      const mine = c.find((p) => p.consumer === 'consumer-1')!;
      expect(BigInt(mine.offset)).toBeGreaterThanOrEqual(startedAt.get(mine.partition)!);
    }
    const victimWrote = processed.filter((p) => p.consumer === 'consumer-1').length;
    console.log(
      `[measure] batch ${batchSize}, ${BACKLOG} orders at processing 0: SIGKILL after the victim wrote ${victimWrote} (lag then ${lagAtKill}); ` +
        `${twice.length} written twice, all the victim's uncommitted writes; the successor wrote ${processed.length - victimWrote}`,
    );
    expect(victimWrote).toBeGreaterThan(BACKLOG / 4);
    expect(lagAtKill).toBeGreaterThan(0);
  });
});
