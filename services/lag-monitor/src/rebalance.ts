/**
 * Rebalance cost: what each change of the group's membership cost in consumption. Kafka's eager
 * rebalancing (kafkajs has no other) stops every member while partitions move, so each change
 * stops the whole group for a while; this measures that while from the monitor's samples. Pure:
 * the tracker feeds samples in, in order.
 *
 * The rules, each table-tested (rebalance.unit.test.ts):
 * - A sample makes progress when the group's total committed offset advanced since the sample
 *   before, or its lag is 0 (an idle group is not stopped: nothing waits for it).
 * - A change is a different set of member ids from one sample to the next; each change is an
 *   event of its own. Samples without a member list (built by hand) carry no membership.
 * - The stop starts at the last progress before the group stops: the last progress sample at or
 *   before the change, or later ones while the group goes on consuming (a member goes on until
 *   its next heartbeat tells it to rejoin).
 * - The stop ends at the first progress once the rebalance is over: Kafka lists the new members
 *   as Stable (or Empty). Progress in the very sample that first shows the group settled may be
 *   the old members' last commits before a quick rebalance, so it counts as the end only if the
 *   next sample makes progress too; if not, it was the start.
 * - An event is open (its end and cost null) until then. A change seen while another event is
 *   open closes nothing: both follow the same group, so changes inside one stop each report that
 *   stop, and their stops overlap (a sum over events counts a shared stop twice).
 * - lag_added: the messages produced during the stop (the end offsets' growth from its first
 *   sample to its last), all of which waited because of it.
 * - A stop is measured between samples: each end is known to within one poll interval
 *   (resolution_ms), or one commit interval of the consumers if they commit less often, so the
 *   stop is within one interval of the truth. One that no sample saw (every sample showed
 *   progress) reads one interval: it lasted between none and two. A group idle at both ends
 *   (lag 0) was not stopped: 0.
 */

import { round } from '@bplab/kit';
import { effectiveCommitted, partitionLag, type OffsetSample } from './lag.js';

export interface RebalanceEvent {
  /** When the change was seen: the first sample with the new members. */
  at: string;
  /** Client ids, sorted. */
  members_before: string[];
  members_after: string[];
  joined: string[];
  left: string[];
  /** The last progress before the stop; while open, the last progress seen so far. */
  stop_started_at: string;
  /** The first progress after the rebalance; null while open. */
  stop_ended_at: string | null;
  stop_seconds: number | null;
  /** Messages produced during the stop; null while open. */
  lag_added: number | null;
  /** How precisely each end of the stop is known: the poll interval. */
  resolution_ms: number;
}

export interface RebalanceCost {
  /** Membership changes seen since the monitor started. */
  events: number;
  /**
   * The median stop of the last TYPICAL_OF closed events between members (not to or from an
   * empty group: that stop is the group's absence, not what a rebalance costs); null before one.
   */
  typical_stop_seconds: number | null;
  /** The newest event, open or closed. */
  last: RebalanceEvent | null;
}

/** Events kept for GET /rebalances; an open event pushed out is forgotten. */
export const REBALANCE_EVENTS_KEPT = 50;
/** typical_stop_seconds is the median of this many of the newest closed events. */
export const TYPICAL_OF = 5;

/** Group states in which no rebalance is under way. */
const SETTLED_STATES = new Set(['Stable', 'Empty']);

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** A sample as the stop needs it: when, how far the topic's end had got, and whether lag was 0. */
interface Mark {
  at: number;
  end: number;
  idle: boolean;
}

/** An open event and where its stop has got to. */
interface OpenStop {
  event: RebalanceEvent;
  lastProgress: Mark;
  /** A sample without progress came after lastProgress. */
  stalled: boolean;
  /** Progress in the first settled sample: the end if the next sample makes progress too. */
  pending: Mark | null;
  /** A settled sample (the new members Stable, or Empty) came after the change. */
  settled: boolean;
}

export class RebalanceDetector {
  /**
   * The sample before, where the group had last made progress by then, and whether it stopped
   * after that. The monitor cannot see further back than its first sample: a stop under way then
   * began no later.
   */
  private before: { sample: OffsetSample; lastProgress: Mark; stalled: boolean } | undefined;
  private readonly ring: RebalanceEvent[] = [];
  private open: OpenStop[] = [];
  private seen = 0;

  constructor(
    private readonly resolutionMs: number,
    private readonly size = REBALANCE_EVENTS_KEPT,
  ) {}

  /** Feeds the next sample; returns the events it opened and the ones it closed. */
  observe(sample: OffsetSample): { opened: RebalanceEvent[]; closed: RebalanceEvent[] } {
    const before = this.before;
    const here = mark(sample);
    const progress = here.idle || (before !== undefined && totalCommitted(sample) > totalCommitted(before.sample));
    const settled = SETTLED_STATES.has(sample.group_state);
    const opened: RebalanceEvent[] = [];
    const change = before && membershipChange(before.sample, sample);
    if (before && change) {
      const event: RebalanceEvent = {
        at: iso(sample.at),
        ...change,
        stop_started_at: iso(before.lastProgress.at),
        stop_ended_at: null,
        stop_seconds: null,
        lag_added: null,
        resolution_ms: this.resolutionMs,
      };
      this.seen++;
      this.ring.push(event);
      this.open.push({ event, lastProgress: before.lastProgress, stalled: before.stalled, pending: null, settled: false });
      opened.push(event);
    }

    const closed: RebalanceEvent[] = [];
    this.open = this.open.filter((o) => {
      const end = step(o, here, progress, settled);
      if (end === null) return true;
      const start = !o.stalled && o.lastProgress.idle && end.idle ? end : o.lastProgress;
      Object.assign(o.event, {
        stop_started_at: iso(start.at),
        stop_ended_at: iso(end.at),
        stop_seconds: round((end.at - start.at) / 1000),
        lag_added: Math.max(0, end.end - start.end),
      });
      closed.push(o.event);
      return false;
    });
    for (const o of this.open) o.event.stop_started_at = iso(o.lastProgress.at);

    if (this.ring.length > this.size) {
      const dropped = new Set(this.ring.splice(0, this.ring.length - this.size));
      this.open = this.open.filter((o) => !dropped.has(o.event));
    }
    this.before = { sample, lastProgress: progress || !before ? here : before.lastProgress, stalled: !progress };
    return { opened: opened.map(copy), closed: closed.map(copy) };
  }

  /** The newest `limit` events, newest first. */
  events(limit: number): RebalanceEvent[] {
    return this.ring.slice(-limit).reverse().map(copy);
  }

  cost(): RebalanceCost {
    const betweenMembers = this.ring.filter((e) => e.members_before.length > 0 && e.members_after.length > 0);
    const stops = betweenMembers.flatMap((e) => (e.stop_seconds === null ? [] : [e.stop_seconds])).slice(-TYPICAL_OF);
    const last = this.ring.at(-1);
    return { events: this.seen, typical_stop_seconds: stops.length === 0 ? null : median(stops), last: last ? copy(last) : null };
  }
}

/**
 * One sample of an open event: returns where its stop ended, or null while it goes on. See the
 * rules at the top.
 */
function step(o: OpenStop, here: Mark, progress: boolean, settled: boolean): Mark | null {
  if (o.pending) {
    if (progress) return o.pending;
    // The progress at the first settled sample was the old members' last: the stop began there.
    o.lastProgress = o.pending;
    o.stalled = true;
    o.pending = null;
  } else if (progress) {
    if (settled && o.settled) return here;
    if (settled) o.pending = here;
    else {
      // Still rebalancing and still consuming: the stop has not begun.
      o.lastProgress = here;
      o.stalled = false;
    }
  } else {
    o.stalled = true;
  }
  o.settled ||= settled;
  return null;
}

function membershipChange(before: OffsetSample, after: OffsetSample): Pick<RebalanceEvent, 'members_before' | 'members_after' | 'joined' | 'left'> | null {
  if (!before.member_list || !after.member_list) return null;
  const beforeIds = new Set(before.member_list.map((m) => m.member_id));
  const afterIds = new Set(after.member_list.map((m) => m.member_id));
  const joined = after.member_list.filter((m) => !beforeIds.has(m.member_id));
  const left = before.member_list.filter((m) => !afterIds.has(m.member_id));
  if (joined.length === 0 && left.length === 0) return null;
  const clients = (members: { client_id: string }[]) => members.map((m) => m.client_id).sort();
  return { members_before: clients(before.member_list), members_after: clients(after.member_list), joined: clients(joined), left: clients(left) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : round((sorted[middle - 1]! + sorted[middle]!) / 2);
}

const totalCommitted = (s: OffsetSample) => sum(s.partitions.map(effectiveCommitted));
const totalLag = (s: OffsetSample) => sum(s.partitions.map(partitionLag));
const mark = (s: OffsetSample): Mark => ({ at: s.at, end: sum(s.partitions.map((p) => p.end_offset)), idle: totalLag(s) === 0 });
const iso = (at: number) => new Date(at).toISOString();
const copy = (e: RebalanceEvent): RebalanceEvent => ({ ...e });
