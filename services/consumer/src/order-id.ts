/**
 * The id of the order in a message. A message that is not one of our orders still gets an id
 * (partition/offset), so its dead letter is accounted for (GET /dead-letters) like any order.
 */
export function orderIdOf(value: Buffer | null, partition: number, offset: string): string {
  if (value) {
    try {
      const parsed: unknown = JSON.parse(value.toString());
      if (parsed && typeof parsed === 'object' && 'id' in parsed && typeof parsed.id === 'string') return parsed.id;
    } catch {
      // not JSON: fall through to the positional id
    }
  }
  return `p${partition}-o${offset}`;
}
