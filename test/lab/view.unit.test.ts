import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript without types: the lab's scripts run without a build step
import { NotHappened, until } from '../../hack/lab/view.mjs';

describe('a narrated scenario waits for what its story promises', () => {
  it('resolves as soon as the awaited state is seen', async () => {
    let polls = 0;
    await expect(until(() => ++polls >= 2, 5_000, 'two polls')).resolves.toBeUndefined();
    expect(polls).toBe(2);
  });

  it('says what did not happen, and what it saw instead, once the time is up', async () => {
    const waited = until(() => false, 50, 'the burst draining to lag 0', () => 'lag 57, 6 consumers running');
    await expect(waited).rejects.toBeInstanceOf(NotHappened);
    await expect(waited).rejects.toThrow('the burst draining to lag 0 did not happen within 0.05 s (lag 57, 6 consumers running)');
  });
});
