import { readFile } from 'node:fs/promises';
import type { Logger } from '@bplab/kit';
import { parse as parseYaml } from 'yaml';
import type { EventReason, StatusSink } from './loop.js';
import { parseSpec, type AutoscalerSpec } from './spec.js';

export interface LocalAutoscaler {
  namespace: string;
  name: string;
  spec: AutoscalerSpec;
}

/** Reads a LagAutoscaler manifest; errors name the file and the field. */
export async function readAutoscalerFile(file: string): Promise<LocalAutoscaler> {
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const object = (doc ?? {}) as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown }; spec?: unknown };
  if (object.apiVersion !== 'lab.backpressure.dev/v1alpha1' || object.kind !== 'LagAutoscaler') {
    throw new Error(`${file}: expected apiVersion lab.backpressure.dev/v1alpha1 and kind LagAutoscaler`);
  }
  const name = object.metadata?.name;
  if (typeof name !== 'string' || name === '') throw new Error(`${file}: metadata.name: required`);
  const namespace = typeof object.metadata?.namespace === 'string' ? object.metadata.namespace : 'local';
  try {
    return { namespace, name, spec: parseSpec(object.spec) };
  } catch (err) {
    throw new Error(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export interface LocalEvent {
  time: string;
  type: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
}

/** Local mode has no apiserver: status stays with the loop (served on /status), events go to the log. */
export class MemorySink implements StatusSink {
  static readonly KEEP_EVENTS = 50;
  readonly events: LocalEvent[] = [];

  constructor(private readonly logger: Logger) {}

  /** The loop keeps its last status itself, and /status serves it from there. */
  async writeStatus(): Promise<void> {}

  async recordEvent(type: 'Normal' | 'Warning', reason: EventReason, message: string): Promise<void> {
    this.events.push({ time: new Date().toISOString(), type, reason, message });
    this.events.splice(0, Math.max(0, this.events.length - MemorySink.KEEP_EVENTS));
    this.logger[type === 'Warning' ? 'warn' : 'info']({ reason }, message);
  }
}
