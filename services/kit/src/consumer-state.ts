/**
 * What a consumer publishes about itself in the metadata of its offset commits, so that the lag
 * monitor (which never joins the group) can tell a paused member from a stuck one, and knows how
 * many messages a member holds per batch. Kafka keeps the metadata string beside each committed
 * offset and returns it to OffsetFetch (kafka-consumer-groups.sh and the admin API): no extra
 * topic, and the state is exactly as fresh as the commit it rides on. A consumer re-commits its
 * offsets with new metadata when it pauses or resumes. Pure: encode and decode only.
 */

/** Who holds a consumer paused: a person (POST /pause, /config) or the downstream's health. */
export const PausedBy = { manual: 'manual', downstream: 'downstream' } as const;
export type PausedBy = (typeof PausedBy)[keyof typeof PausedBy];

export interface ConsumerState {
  /** The consumer's id (its client id), for people. */
  consumer: string;
  /** Its member id when it committed: the monitor trusts the state only while that member owns the partition. */
  member: string;
  paused_by: PausedBy | null;
  /** Orders per batch: at most this many per member are in hand and uncommitted at any time. */
  batch_size: number;
}

/** Version 1 of the format; a reader ignores any other, and any metadata that is not ours. */
const VERSION = 1;

export function encodeConsumerState(state: ConsumerState): string {
  return JSON.stringify({ v: VERSION, ...state });
}

/** The state in a commit's metadata, or null for none, another tool's, or a malformed one. */
export function decodeConsumerState(metadata: string | null | undefined): ConsumerState | null {
  if (!metadata) return null;
  let value: unknown;
  try {
    value = JSON.parse(metadata);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  const pausedBy = v.paused_by === null || v.paused_by === PausedBy.manual || v.paused_by === PausedBy.downstream ? v.paused_by : undefined;
  if (v.v !== VERSION || typeof v.consumer !== 'string' || typeof v.member !== 'string' || pausedBy === undefined) return null;
  if (typeof v.batch_size !== 'number' || !Number.isInteger(v.batch_size) || v.batch_size < 1) return null;
  return { consumer: v.consumer, member: v.member, paused_by: pausedBy, batch_size: v.batch_size };
}
