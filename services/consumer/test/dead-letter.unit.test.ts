import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_LOG_SIZE, DeadLetterLog, deadLetterOf, MAX_RETRY_BACKOFF_MS, poisonOf, PoisonReason, retryDelays, type DeadLetterEntry } from '../src/dead-letter.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('poisonOf: which records fail processing, and why', () => {
  it.each([
    { name: 'an order', value: json({ id: 'a1', quantity: 2 }), reason: null },
    { name: 'an order with poison false', value: json({ id: 'a1', poison: false }), reason: null },
    { name: 'an order with a poison that is not true', value: json({ id: 'a1', poison: 'yes' }), reason: null },
    { name: 'an order marked poison', value: json({ id: 'a1', poison: true }), reason: PoisonReason.flagged },
    { name: 'a tombstone', value: null, reason: PoisonReason.empty },
    { name: 'an empty value', value: Buffer.alloc(0), reason: PoisonReason.empty },
    { name: 'plain text', value: Buffer.from('hello'), reason: PoisonReason.notJson },
    { name: 'truncated JSON', value: Buffer.from('{"id": "a1",'), reason: PoisonReason.notJson },
    { name: 'JSON without an id', value: json({ x: 1 }), reason: PoisonReason.notAnOrder },
    { name: 'an id that is not a string', value: json({ id: 7 }), reason: PoisonReason.notAnOrder },
    { name: 'a JSON array', value: json([{ id: 'a1' }]), reason: PoisonReason.notAnOrder },
    { name: 'a JSON string', value: json('a1'), reason: PoisonReason.notAnOrder },
    { name: 'JSON null', value: Buffer.from('null'), reason: PoisonReason.notAnOrder },
  ])('$name', ({ value, reason }) => {
    const poison = poisonOf(value);
    expect(poison?.reason ?? null).toBe(reason);
    // The error names the reason first, then says what is wrong.
    if (poison) expect(poison.error).toMatch(new RegExp(`^${reason}: .+`));
  });
});

describe('retryDelays: backoff, doubling, capped, one wait per retry', () => {
  it.each([
    { retries: 0, backoffMs: 100, delays: [] },
    { retries: 3, backoffMs: 100, delays: [100, 200, 400] },
    { retries: 2, backoffMs: 50, delays: [50, 100] },
    { retries: 10, backoffMs: 100, delays: [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000] },
    { retries: 3, backoffMs: 0, delays: [0, 0, 0] },
    { retries: 2, backoffMs: 5000, delays: [5000, 5000] },
  ])('$retries retries from $backoffMs ms: $delays', ({ retries, backoffMs, delays }) => {
    expect(retryDelays(retries, backoffMs)).toEqual(delays);
  });

  it('never waits longer than the cap', () => {
    expect(Math.max(...retryDelays(10, MAX_RETRY_BACKOFF_MS))).toBe(MAX_RETRY_BACKOFF_MS);
  });
});

describe('deadLetterOf: the original record plus where it came from and why it died', () => {
  const source = { error: 'flagged: the order is marked poison', attempts: 4, topic: 'orders', partition: 3, offset: '41', consumer: 'consumer-1' };

  it('keeps key, value and headers, and adds the dlq headers', () => {
    const message = { key: Buffer.from('a1'), value: json({ id: 'a1', poison: true }), headers: { traceparent: Buffer.from('00-abc-def-01') } };
    expect(deadLetterOf(message, source)).toEqual({
      key: message.key,
      value: message.value,
      headers: {
        traceparent: message.headers.traceparent,
        'dlq.error': 'flagged: the order is marked poison',
        'dlq.attempts': '4',
        'dlq.source.topic': 'orders',
        'dlq.source.partition': '3',
        'dlq.source.offset': '41',
        'dlq.consumer': 'consumer-1',
      },
    });
  });

  it('a record with no key, value or headers still says where it came from', () => {
    const letter = deadLetterOf({ key: null, value: null, headers: undefined }, source);
    expect(letter).toMatchObject({ key: null, value: null });
    expect(Object.keys(letter.headers).sort()).toEqual(['dlq.attempts', 'dlq.consumer', 'dlq.error', 'dlq.source.offset', 'dlq.source.partition', 'dlq.source.topic']);
  });

  it('a dead letter sent round again says where it died last', () => {
    const again = deadLetterOf(deadLetterOf({ key: null, value: Buffer.from('x'), headers: {} }, source), { ...source, topic: 'orders.retry', offset: '7', attempts: 1 });
    expect(again.headers).toMatchObject({ 'dlq.source.topic': 'orders.retry', 'dlq.source.offset': '7', 'dlq.attempts': '1' });
  });
});

describe('DeadLetterLog: the last ones, newest first', () => {
  const entry = (n: number): DeadLetterEntry => ({
    order_id: `o${n}`,
    error: 'not_json: x',
    attempts: 3,
    source_partition: n % 6,
    source_offset: String(n),
    dead_lettered_at: new Date(n * 1000).toISOString(),
  });

  it('lists what it was given, newest first', () => {
    const log = new DeadLetterLog();
    for (const n of [1, 2, 3]) log.add(entry(n));
    expect(log.recent().map((e) => e.order_id)).toEqual(['o3', 'o2', 'o1']);
  });

  it(`keeps ${DEAD_LETTER_LOG_SIZE} by default, dropping the oldest`, () => {
    const log = new DeadLetterLog();
    for (let n = 1; n <= DEAD_LETTER_LOG_SIZE + 5; n++) log.add(entry(n));
    const recent = log.recent();
    expect(recent).toHaveLength(DEAD_LETTER_LOG_SIZE);
    expect(recent[0]!.order_id).toBe(`o${DEAD_LETTER_LOG_SIZE + 5}`);
    expect(recent.at(-1)!.order_id).toBe('o6');
  });

  it('hands out a copy: a caller cannot change the log', () => {
    const log = new DeadLetterLog(2);
    log.add(entry(1));
    log.recent().pop();
    expect(log.recent()).toHaveLength(1);
  });
});
