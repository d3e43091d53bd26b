/**
 * Which member owns which partition, from the member assignments that DescribeGroups returns.
 * Pure: the poller passes the bytes in. The assignment is the classic consumer protocol's
 * ConsumerProtocolAssignment, big-endian: int16 version, int32 topic count, then per topic an
 * int16-length UTF-8 name and an int32 count of int32 partitions, then user data (ignored).
 */

/** The partitions of `topic` in one member's assignment; undefined when the bytes are not one. */
export function assignedPartitions(assignment: Uint8Array, topic: string): number[] | undefined {
  // A member of a group that has not synced yet has no assignment at all.
  if (assignment.length === 0) return [];
  const view = new DataView(assignment.buffer, assignment.byteOffset, assignment.byteLength);
  let at = 0;
  const take = (bytes: number): number => {
    if (at + bytes > view.byteLength) throw new RangeError('truncated assignment');
    const start = at;
    at += bytes;
    return start;
  };
  try {
    take(2); // version
    const topics = view.getInt32(take(4));
    if (topics < 0) return undefined;
    const mine: number[] = [];
    for (let t = 0; t < topics; t++) {
      const nameLength = view.getInt16(take(2));
      if (nameLength < 0) return undefined;
      const name = new TextDecoder().decode(assignment.subarray(take(nameLength), at));
      const count = view.getInt32(take(4));
      if (count < 0) return undefined;
      for (let i = 0; i < count; i++) {
        const partition = view.getInt32(take(4));
        if (name === topic) mine.push(partition);
      }
    }
    return mine.sort((a, b) => a - b);
  } catch {
    return undefined;
  }
}

/**
 * Partition -> member id for `topic`, or undefined when any member's assignment cannot be read
 * (then nobody's ownership is claimed: evaluate.ts falls back to the group as a whole).
 */
export function partitionOwners(members: { memberId: string; memberAssignment: Uint8Array }[], topic: string): Map<number, string> | undefined {
  const owners = new Map<number, string>();
  for (const member of members) {
    const partitions = assignedPartitions(member.memberAssignment, topic);
    if (partitions === undefined) return undefined;
    for (const partition of partitions) owners.set(partition, member.memberId);
  }
  return owners;
}
