import { consumersNeeded, requiredRate, round } from '@bplab/kit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ratePerConsumer, whatIf, type WhatIfContext } from '../src/whatif.js';

const ctx: WhatIfContext = { backlog: 300, partitions: 6, measuredProductionRate: 4, measuredPerConsumerRate: 2, drainTargetSeconds: 60 };

describe('what-if: consumers needed with the operator arithmetic', () => {
  it.each([
    { name: 'measured inputs only: (4 + 300 / 60) / 2 = 4.5 -> 5', query: {}, needed: 5, consumers: 5, capped: false, rate: 2 },
    { name: 'faster processing: 100 ms is 10 msg/s each, (4 + 5) / 10 -> 1', query: { processing_ms: 100 }, needed: 1, consumers: 1, capped: false, rate: 10 },
    { name: 'more production: (50 + 5) / 10 -> 6', query: { processing_ms: 100, production_rate: 50 }, needed: 6, consumers: 6, capped: false, rate: 10 },
    { name: 'beyond the partitions: (100 + 5) / 10 -> 11, capped at 6', query: { processing_ms: 100, production_rate: 100 }, needed: 11, consumers: 6, capped: true, rate: 10 },
    { name: 'a slower drain target: (4 + 300 / 300) / 2 -> 3', query: { drain_seconds: 300 }, needed: 3, consumers: 3, capped: false, rate: 2 },
    { name: 'nothing arriving, nothing waiting: nobody', query: { production_rate: 0 }, context: { backlog: 0 }, needed: 0, consumers: 0, capped: false, rate: 2 },
  ])('$name', ({ query, context, needed, consumers, capped, rate }) => {
    const answer = whatIf(query, { ...ctx, ...context });
    expect(answer).toMatchObject({ consumers_needed: needed, consumers, capped_by_partitions: capped, per_consumer_rate: rate, partitions: 6 });
    expect(answer.reason).toMatch(capped ? /needs 11, but 6 partitions allow 6 busy consumers/ : new RegExp(`needs ${needed}$`));
  });

  it('says where each input came from', () => {
    expect(whatIf({ production_rate: 7 }, ctx)).toMatchObject({
      inputs: { production_rate: 7, processing_ms: null, drain_seconds: 60, backlog: 300 },
      sources: { production_rate: 'query', per_consumer_rate: 'measured', drain_seconds: 'config', backlog: 'measured' },
    });
    expect(whatIf({ processing_ms: 250, drain_seconds: 30 }, { ...ctx, measuredProductionRate: null })).toMatchObject({
      inputs: { production_rate: 0, processing_ms: 250, drain_seconds: 30 },
      sources: { production_rate: 'measured', per_consumer_rate: 'query', drain_seconds: 'query' },
      per_consumer_rate: 4,
      required_rate: 10,
    });
  });

  it('without a per-consumer rate (none given, none measured yet) says what is missing', () => {
    const answer = whatIf({ production_rate: 10 }, { ...ctx, measuredPerConsumerRate: null });
    expect(answer).toMatchObject({ per_consumer_rate: null, consumers_needed: null, consumers: null, capped_by_partitions: false, required_rate: 15 });
    expect(answer.reason).toMatch(/pass processing_ms/);
  });

  it('equals the kit arithmetic for any inputs, capped at the partitions', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 100_000, noNaN: true }),
        fc.double({ min: 0.01, max: 60_000, noNaN: true }),
        fc.integer({ min: 1, max: 86_400 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 1, max: 1000 }),
        (production_rate, processing_ms, drain_seconds, backlog, partitions) => {
          const answer = whatIf({ production_rate, processing_ms, drain_seconds }, { ...ctx, backlog, partitions });
          const load = { arrivalRate: production_rate, backlog, drainSeconds: drain_seconds };
          const needed = consumersNeeded(load, ratePerConsumer(processing_ms));
          expect(answer.consumers_needed).toBe(needed);
          expect(answer.consumers).toBe(Math.min(needed, partitions));
          expect(answer.capped_by_partitions).toBe(needed > partitions);
          expect(answer.required_rate).toBe(round(requiredRate(load)));
        },
      ),
    );
  });
});
