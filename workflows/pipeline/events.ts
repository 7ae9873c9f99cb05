// A pipeline's delivery events (patch delivery-events): numbered in the order the pipeline emits
// them, so each has a deterministic id (workflow, run, sequence) and a retried or replayed
// recording is recognised as the same event. The pipeline awaits each recording in its main flow,
// never beside other steps: an activity completing in the same workflow task as a local activity
// can be resolved in another order on replay, which breaks determinism.
import type { DeliveryEvent } from '../../common/contract';
import { recordEvent } from '../events';
import { DeployFailure, PipelineStop, type PipelineRun } from './run';

/** What a caller says; the stream fills in who, what commit and image, when, and the id. */
export type EventFields = Pick<DeliveryEvent, 'kind'> &
  Partial<Pick<DeliveryEvent, 'environment' | 'actor' | 'reason' | 'approvers' | 'deadline' | 'rolledBackTo' | 'at'>>;

export class PipelineEvents {
  private sequence = 0;

  /** `enabled`: patched(patches.deliveryEvents), decided once when the pipeline starts. */
  constructor(
    private readonly run: PipelineRun,
    private readonly enabled: boolean,
  ) {}

  /** The event as it will be recorded (pure: the unit tests' view). */
  build(fields: EventFields): DeliveryEvent {
    const { run } = this;
    const n = ++this.sequence;
    return {
      id: `${run.workflowId}/${run.runId}/${n}-${fields.kind}`,
      service: run.input.service,
      commit: run.input.commit,
      ...(run.status.image ? { image: run.status.image } : {}),
      pipelineId: run.workflowId,
      at: run.now(),
      ...fields,
    };
  }

  /** Records the event (resolves when recorded or given up on; never rejects). */
  async emit(fields: EventFields): Promise<void> {
    if (this.enabled) await recordEvent(this.build(fields));
  }

  /** The event that says how the pipeline ended, when it did not succeed. */
  async emitEnd(err: unknown, cancelled: boolean, current: string | undefined): Promise<void> {
    const fields = endEvent(this.run, err, cancelled, current);
    if (fields) await this.emit(fields);
  }
}

/** How a failed, stopped or cancelled pipeline is told; a rejection was told when it was decided. */
export function endEvent(
  run: PipelineRun,
  err: unknown,
  cancelled: boolean,
  current: string | undefined,
): EventFields | undefined {
  const environment = current ? { environment: current } : {};
  const reason = run.status.error;
  if (cancelled) return { kind: 'cancelled', ...environment };
  if (err instanceof PipelineStop) {
    if (err.state === 'rejected') return undefined;
    const kind = err.state === 'approval-expired' || err.state === 'superseded' ? err.state : 'failed';
    return { kind, ...environment, reason };
  }
  if (err instanceof DeployFailure && current) {
    const envError = run.environment(current).error ?? reason;
    if (err.type === 'DeployRolledBack')
      return {
        kind: 'rolled-back',
        environment: current,
        reason: envError,
        ...(err.rolledBackTo ? { rolledBackTo: err.rolledBackTo } : {}),
      };
    if (err.type === 'DeployCancelled') return { kind: 'cancelled', environment: current };
    return { kind: 'failed', environment: current, reason: envError };
  }
  return { kind: 'failed', ...environment, reason };
}
