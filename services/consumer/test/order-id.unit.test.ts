import { describe, expect, it } from 'vitest';
import { orderIdOf } from '../src/order-id.js';

describe('orderIdOf', () => {
  it.each([
    { name: 'an order', value: Buffer.from(JSON.stringify({ id: 'abc' })), id: 'abc' },
    { name: 'JSON without an id', value: Buffer.from('{"x":1}'), id: 'p2-o7' },
    { name: 'not JSON', value: Buffer.from('hello'), id: 'p2-o7' },
    { name: 'a tombstone', value: null, id: 'p2-o7' },
  ])('$name', ({ value, id }) => {
    expect(orderIdOf(value, 2, '7')).toBe(id);
  });
});
