import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignedPartitions, partitionOwners } from '../src/assignment.js';

/** A ConsumerProtocolAssignment as the classic consumer protocol (and kafkajs) encodes it. */
function encode(assignment: Record<string, number[]>, userData = Buffer.alloc(0)): Buffer {
  const parts: Buffer[] = [];
  const int16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
  const int32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  parts.push(int16(1), int32(Object.keys(assignment).length));
  for (const [topic, partitions] of Object.entries(assignment)) {
    const name = Buffer.from(topic, 'utf8');
    parts.push(int16(name.length), name, int32(partitions.length), ...partitions.map(int32));
  }
  parts.push(int32(userData.length), userData);
  return Buffer.concat(parts);
}

describe('member assignments', () => {
  it.each([
    { name: 'one topic', bytes: encode({ orders: [4, 0, 2] }), partitions: [0, 2, 4] },
    { name: 'only the topic asked for', bytes: encode({ other: [1], orders: [3] }), partitions: [3] },
    { name: 'a topic it has none of', bytes: encode({ other: [1] }), partitions: [] },
    { name: 'a member not synced yet has empty bytes', bytes: Buffer.alloc(0), partitions: [] },
    { name: 'user data after the topics is ignored', bytes: encode({ orders: [1] }, Buffer.from('hello')), partitions: [1] },
    { name: 'truncated bytes are no assignment', bytes: encode({ orders: [1, 2] }).subarray(0, 12), partitions: undefined },
    { name: 'a negative count is no assignment', bytes: Buffer.from([0, 1, 0xff, 0xff, 0xff, 0xff]), partitions: undefined },
  ])('$name', ({ bytes, partitions }) => {
    expect(assignedPartitions(bytes, 'orders')).toEqual(partitions);
  });

  it('reads back what was encoded, for any assignment', () => {
    const topic = fc.string({ minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(fc.dictionary(topic, fc.uniqueArray(fc.nat(10_000), { maxLength: 50 })), (assignment) => {
        for (const [name, partitions] of Object.entries(assignment)) {
          expect(assignedPartitions(encode(assignment), name)).toEqual([...partitions].sort((a, b) => a - b));
        }
      }),
    );
  });

  it('maps partitions to the members that own them, or claims nothing when one assignment is unreadable', () => {
    const members = [
      { memberId: 'a', memberAssignment: encode({ orders: [0, 1, 2] }) },
      { memberId: 'b', memberAssignment: encode({ orders: [3, 4, 5] }) },
    ];
    expect([...partitionOwners(members, 'orders')!.entries()]).toEqual([[0, 'a'], [1, 'a'], [2, 'a'], [3, 'b'], [4, 'b'], [5, 'b']]);
    expect(partitionOwners([...members, { memberId: 'c', memberAssignment: Buffer.from([0, 1, 0]) }], 'orders')).toBeUndefined();
  });
});
