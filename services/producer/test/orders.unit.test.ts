import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildOrder, isPoisonAt, orderOverrides } from '../src/orders.js';

describe('buildOrder', () => {
  it('gives every order a unique id, its sequence, a timestamp and business fields', () => {
    const now = '2026-01-01T00:00:00.000Z';
    const a = buildOrder(1, 'p', {}, now);
    const b = buildOrder(2, 'p', {}, now);
    expect(a.id).not.toBe(b.id);
    expect(a).toMatchObject({ sequence: 1, timestamp: '2026-01-01T00:00:00.000Z', producer: 'p' });
    expect(a.quantity).toBeGreaterThanOrEqual(1);
    expect(a.amount).toBeGreaterThan(0);
  });

  it('lets the caller override business fields', () => {
    const o = buildOrder(1, 'p', { id: 'x-1', product: 'desk', quantity: 3, amount: 10 });
    expect(o).toMatchObject({ id: 'x-1', product: 'desk', quantity: 3, amount: 10 });
  });

  it('refuses unknown and out-of-range overrides', () => {
    expect(orderOverrides.safeParse({ sequence: 5 }).success).toBe(false);
    expect(orderOverrides.safeParse({ quantity: 0 }).success).toBe(false);
    expect(orderOverrides.safeParse({ amount: -1 }).success).toBe(false);
    expect(orderOverrides.safeParse({ poison: 'yes' }).success).toBe(false);
  });

  it('marks a poison order, and only a poison order, with poison: true', () => {
    expect(buildOrder(1, 'p', { poison: true })).toMatchObject({ poison: true });
    expect(buildOrder(1, 'p', { poison: false })).not.toHaveProperty('poison');
    expect(buildOrder(1, 'p')).not.toHaveProperty('poison');
  });
});

describe('isPoisonAt: M poison orders of N, spread evenly', () => {
  const positions = (count: number, poison: number) => Array.from({ length: count }, (_, i) => i).filter((i) => isPoisonAt(i, count, poison));

  it.each([
    { count: 10, poison: 0, at: [] },
    { count: 10, poison: 10, at: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
    { count: 10, poison: 2, at: [4, 9] },
    { count: 6, poison: 3, at: [1, 3, 5] },
    { count: 1, poison: 1, at: [0] },
  ])('$poison of $count: $at', ({ count, poison, at }) => {
    expect(positions(count, poison)).toEqual(at);
  });

  it('exactly M of N, never two closer together than N / M rounded down', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }).chain((count) => fc.tuple(fc.constant(count), fc.integer({ min: 0, max: count }))), ([count, poison]) => {
        const at = positions(count, poison);
        expect(at).toHaveLength(poison);
        for (let k = 1; k < at.length; k++) expect(at[k]! - at[k - 1]!).toBeGreaterThanOrEqual(Math.floor(count / poison));
      }),
    );
  });
});
