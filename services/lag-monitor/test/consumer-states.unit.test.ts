import { encodeConsumerState, decodeConsumerState } from '@bplab/kit';
import { describe, expect, it } from 'vitest';
import { publishedStates, trustedState } from '../src/consumer-states.js';
import type { OffsetSample } from '../src/lag.js';

const state = (member: string, paused_by: 'manual' | 'downstream' | null, batch_size = 1) => ({ consumer: `consumer-${member}`, member, paused_by, batch_size });
const part = (partition: number, owner: string | null | undefined, consumer_state: ReturnType<typeof state> | null) => ({
  partition,
  start_offset: 0,
  end_offset: 10,
  committed_offset: 5,
  ...(owner === undefined ? {} : { owner }),
  consumer_state,
});

describe('the consumer state in commit metadata', () => {
  it('round-trips, and reads anything that is not ours as no state', () => {
    const s = state('m-1', 'downstream', 10);
    expect(decodeConsumerState(encodeConsumerState(s))).toEqual(s);
    for (const other of [null, undefined, '', 'not json', '42', '{"v":2,"consumer":"c","member":"m","paused_by":null,"batch_size":1}', '{"v":1,"consumer":"c","member":"m","paused_by":"later","batch_size":1}', '{"v":1,"consumer":"c","member":"m","paused_by":null,"batch_size":0}']) {
      expect(decodeConsumerState(other)).toBeNull();
    }
  });

  it('is trusted only while its member owns the partition', () => {
    expect(trustedState(part(0, 'a', state('a', 'manual')))).toEqual(state('a', 'manual'));
    expect(trustedState(part(0, 'b', state('a', 'manual')))).toBeNull();
    expect(trustedState(part(0, null, state('a', 'manual')))).toBeNull();
    // Ownership unknown (a rebalancing group): nobody's pause is trusted.
    expect(trustedState(part(0, undefined, state('a', 'manual')))).toBeNull();
  });

  it('gives the paused partitions by holder and the largest batch size of the owners', () => {
    const sample: OffsetSample = {
      at: 0,
      members: 2,
      group_state: 'Stable',
      partitions: [part(2, 'a', state('a', 'downstream', 5)), part(0, 'a', state('a', 'downstream', 5)), part(1, 'b', state('b', 'manual')), part(3, 'b', state('c', 'manual', 50)), part(4, 'b', null)],
    };
    expect(publishedStates(sample)).toEqual({ paused_partitions: { manual: [1], downstream: [0, 2] }, batch_size: 5 });
    expect(publishedStates({ ...sample, partitions: [] })).toEqual({ paused_partitions: { manual: [], downstream: [] }, batch_size: 1 });
  });
});
