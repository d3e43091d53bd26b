import { decodeConsumerState, type Admin, type Logger } from '@bplab/kit';
import { partitionOwners } from './assignment.js';
import type { OffsetSample } from './lag.js';

/**
 * One sample of the group's committed offsets and the topic's start and end offsets, through the
 * admin API. The monitor never joins the group: joining would change what it measures.
 */
export async function readOffsets(admin: Admin, topic: string, groupId: string, now = Date.now): Promise<OffsetSample> {
  const [ends, committed, groups] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
    admin.describeGroups([groupId]),
  ]);
  const commits = new Map((committed.find((t) => t.topic === topic)?.partitions ?? []).map((p) => [p.partition, p]));
  const group = groups.groups.find((g) => g.groupId === groupId);
  const members = group?.members.length ?? 0;
  // Kafka reports assignments only for a Stable group; during a rebalance ownership is unknown.
  const owners = members > 0 && group?.state === 'Stable' ? partitionOwners(group.members, topic) : undefined;
  return {
    at: now(),
    partitions: ends.map((p) => {
      const commit = commits.get(p.partition);
      const c = commit === undefined ? undefined : Number(commit.offset);
      return {
        partition: p.partition,
        start_offset: Number(p.low),
        end_offset: Number(p.high),
        // kafkajs reports "no commit" as -1.
        committed_offset: c === undefined || c < 0 ? null : c,
        consumer_state: decodeConsumerState(commit?.metadata),
        ...(members === 0 ? { owner: null } : owners ? { owner: owners.get(p.partition) ?? null } : {}),
      };
    }),
    members,
    member_list: (group?.members ?? []).map((m) => ({ member_id: m.memberId, client_id: m.clientId })),
    group_state: group?.state ?? 'Unknown',
  };
}

export interface PollState {
  ok: boolean;
  last_error: string | null;
  last_success: string | null;
  consecutive_failures: number;
}

/** Polls every interval, never overlapping: a slow poll delays the next one instead of stacking. */
export class Poller {
  readonly state: PollState = { ok: false, last_error: 'no poll yet', last_success: null, consecutive_failures: 0 };
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly admin: Admin,
    private readonly sample: () => Promise<OffsetSample>,
    private readonly onSample: (s: OffsetSample) => void,
    private readonly onError: (err: Error) => void,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.admin.disconnect().catch(() => {});
  }

  private async tick(): Promise<void> {
    const started = Date.now();
    try {
      await this.admin.connect();
      this.onSample(await this.sample());
      if (!this.state.ok) this.logger.info('polling Kafka');
      Object.assign(this.state, { ok: true, last_error: null, last_success: new Date().toISOString(), consecutive_failures: 0 });
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      if (this.state.ok || this.state.consecutive_failures === 0) this.logger.warn({ err: error.message }, 'poll failed; retrying every interval');
      Object.assign(this.state, { ok: false, last_error: error.message, consecutive_failures: this.state.consecutive_failures + 1 });
      this.onError(error);
      // A broken connection stays broken in kafkajs until we reconnect.
      await this.admin.disconnect().catch(() => {});
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), Math.max(0, this.intervalMs - (Date.now() - started)));
  }
}
