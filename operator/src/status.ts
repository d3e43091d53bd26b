import { round } from '@bplab/kit';
import type { Decision, Hold, Limit, MetricsSnapshot, Rule } from './decide.js';

/** The LagAutoscaler's status, as the CRD declares it. */
export interface AutoscalerStatus {
  observedGeneration: number;
  currentReplicas?: number;
  desiredReplicas?: number;
  partitions?: number;
  lastScaleTime?: string;
  lastDecision?: {
    time: string;
    desiredReplicas: number;
    reason: string;
    rule: Rule | null;
    heldBy: Hold | null;
    limitedBy: Limit | null;
    lagReplicas: number | null;
    capacityReplicas: number | null;
    inputs: {
      currentReplicas: number;
      totalLag?: number;
      partitions?: number;
      productionRate?: number | null;
      consumptionRate?: number | null;
      members?: number;
      perReplicaRate: number | null;
      sampledAt?: string;
    };
  };
  conditions: Condition[];
}

export type ConditionType = 'MetricsAvailable' | 'AbleToScale' | 'ScalingLimited';

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

/** Sets one condition; its transition time moves only when its status changes. */
export function setCondition(
  conditions: Condition[],
  next: Omit<Condition, 'lastTransitionTime'>,
  now: Date,
): Condition[] {
  const previous = conditions.find((c) => c.type === next.type);
  const lastTransitionTime =
    previous && previous.status === next.status ? previous.lastTransitionTime : now.toISOString();
  const order: ConditionType[] = ['MetricsAvailable', 'AbleToScale', 'ScalingLimited'];
  return [...conditions.filter((c) => c.type !== next.type), { ...next, lastTransitionTime }].sort(
    (a, b) => order.indexOf(a.type) - order.indexOf(b.type),
  );
}

export function decisionRecord(
  decision: Decision,
  snapshot: MetricsSnapshot | null,
  currentReplicas: number,
  now: Date,
): NonNullable<AutoscalerStatus['lastDecision']> {
  const inputs: NonNullable<AutoscalerStatus['lastDecision']>['inputs'] = {
    currentReplicas,
    perReplicaRate: decision.perReplicaRate === null ? null : round(decision.perReplicaRate),
  };
  if (snapshot !== null) {
    Object.assign(inputs, {
      totalLag: snapshot.totalLag,
      partitions: snapshot.partitionCount,
      productionRate: snapshot.productionRate,
      consumptionRate: snapshot.consumptionRate,
      members: snapshot.members,
      sampledAt: new Date(snapshot.sampledAt).toISOString(),
    });
  }
  return {
    time: now.toISOString(),
    desiredReplicas: decision.desiredReplicas,
    reason: decision.reason,
    rule: decision.rule,
    heldBy: decision.heldBy,
    limitedBy: decision.limitedBy,
    lagReplicas: decision.lagReplicas,
    capacityReplicas: decision.capacityReplicas,
    inputs,
  };
}
