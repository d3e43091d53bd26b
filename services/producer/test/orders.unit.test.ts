import { describe, expect, it } from 'vitest';
import { buildOrder, orderOverrides } from '../src/orders.js';

describe('buildOrder', () => {
  it('gives every order a unique id, its sequence, a timestamp and business fields', () => {
    const now = new Date('2026-01-01T00:00:00Z');
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
  });
});
