import { createLogger } from '@bplab/kit';
import { describe, expect, it } from 'vitest';
import { MemorySink } from '../src/local.js';
import { EventReason } from '../src/loop.js';

describe("MemorySink: the local mode's events, served on /status", () => {
  it(`keeps the newest ${MemorySink.KEEP_EVENTS} however long the operator runs, oldest first`, async () => {
    const sink = new MemorySink(createLogger('test', 'silent'));
    const total = MemorySink.KEEP_EVENTS * 3 + 7;
    for (let n = 1; n <= total; n++) {
      await sink.recordEvent('Normal', EventReason.scaledUp, `event ${n}`);
      expect(sink.events.length).toBeLessThanOrEqual(MemorySink.KEEP_EVENTS);
    }
    expect(sink.events).toHaveLength(MemorySink.KEEP_EVENTS);
    expect(sink.events[0]!.message).toBe(`event ${total - MemorySink.KEEP_EVENTS + 1}`);
    expect(sink.events.at(-1)!.message).toBe(`event ${total}`);
  });
});
