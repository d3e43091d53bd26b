import { describe, expect, it } from 'vitest';
import type { Observation } from '../src/downstream-health.js';
import { CallKind, DownstreamRejected, SimulatedDownstream } from '../src/downstream.js';
import type { ProcessedRecord, TopicWriter } from '../src/sink.js';

const record = (n: number): ProcessedRecord => ({ order_id: `o${n}`, consumer: 'c1', partition: 0, offset: String(n), processed_at: '2026-01-01T00:00:00.000Z' });

function rig(settings: { latencyMs: number; errorRate: number }, random = () => 0.5) {
  const writes: ProcessedRecord[][] = [];
  const seen: [Observation, CallKind][] = [];
  const sink = { write: async (messages: readonly { value: string }[]) => void writes.push(messages.map((m) => JSON.parse(m.value) as ProcessedRecord)) } as unknown as TopicWriter;
  const downstream = new SimulatedDownstream(settings, sink, (o, kind) => seen.push([o, kind]), random);
  return { downstream, writes, seen };
}

describe('the simulated downstream', () => {
  it('a healthy write stores the whole batch in one sink write and reports success', async () => {
    const r = rig({ latencyMs: 0, errorRate: 0 });
    await (await r.downstream.write([record(1), record(2), record(3)])).stored;
    expect(r.writes).toEqual([[record(1), record(2), record(3)]]);
    expect(r.seen.map(([o, kind]) => [o.ok, kind])).toEqual([[true, CallKind.write]]);
    expect(r.downstream.writes).toEqual({ ok: 1, failed: 0 });
  });

  it('a refused write stores nothing and reports the failure', async () => {
    const r = rig({ latencyMs: 0, errorRate: 0.6 }, () => 0.59);
    await expect(r.downstream.write([record(1)])).rejects.toBeInstanceOf(DownstreamRejected);
    expect(r.writes).toEqual([]);
    expect(r.seen.map(([o]) => o.ok)).toEqual([false]);
    expect(r.downstream.writes).toEqual({ ok: 0, failed: 1 });
  });

  it('an error rate below the draw lets the call through', async () => {
    const r = rig({ latencyMs: 0, errorRate: 0.6 }, () => 0.6);
    await (await r.downstream.write([record(1)])).stored;
    expect(r.writes).toHaveLength(1);
  });

  it('latency delays every call and is what the observation reports; a probe stores nothing', async () => {
    const r = rig({ latencyMs: 120, errorRate: 0 });
    await r.downstream.probe();
    expect(r.writes).toEqual([]);
    const [[observation, kind]] = r.seen as [[Observation, CallKind]];
    expect(kind).toBe(CallKind.probe);
    expect(observation.latencyMs).toBeGreaterThanOrEqual(115);
    expect(r.downstream.probes).toEqual({ ok: 1, failed: 0 });
  });

  it('a call waiting on a slow downstream is in flight, and a recovery shortens its wait', async () => {
    const r = rig({ latencyMs: 30_000, errorRate: 0 });
    const started = Date.now();
    const call = r.downstream.write([record(1)]);
    expect(r.downstream.inFlight()).toHaveLength(1);
    r.downstream.settings.latencyMs = 0;
    await (await call).stored;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(r.downstream.inFlight()).toEqual([]);
    expect(r.writes).toHaveLength(1);
  });

  it('a write resolves once accepted; it stays in flight until Kafka acknowledges the store, and a failed store is a failed call', async () => {
    const acks: { stored: () => void; failed: (err: unknown) => void }[] = [];
    const seen: Observation[] = [];
    const sink = { write: () => new Promise<void>((stored, failed) => acks.push({ stored, failed })) } as unknown as TopicWriter;
    const downstream = new SimulatedDownstream({ latencyMs: 0, errorRate: 0 }, sink, (o) => seen.push(o));
    const first = await downstream.write([record(1)]);
    const second = await downstream.write([record(2)]);
    expect(downstream.inFlight()).toHaveLength(2);
    expect(seen).toEqual([]);
    acks[0]!.stored();
    await first.stored;
    expect(seen.map((o) => o.ok)).toEqual([true]);
    acks[1]!.failed(new Error('broker down'));
    await expect(second.stored).rejects.toThrow('broker down');
    expect(seen.map((o) => o.ok)).toEqual([true, false]);
    expect(downstream.inFlight()).toEqual([]);
    expect(downstream.writes).toEqual({ ok: 1, failed: 1 });
  });

  it('settings changed at run time apply to the next call', async () => {
    const r = rig({ latencyMs: 0, errorRate: 0 }, () => 0.99);
    await r.downstream.probe();
    r.downstream.settings.errorRate = 1;
    await expect(r.downstream.probe()).rejects.toBeInstanceOf(DownstreamRejected);
    expect(r.seen.map(([o]) => o.ok)).toEqual([true, false]);
  });
});
