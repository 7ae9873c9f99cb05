// The decisions an approval gate has accepted, per environment: approvals until there are enough
// distinct ones (`required`), or the one rejection that ends the gate. Pure, like PipelineRun.
import type { DecisionRecord } from '../../common/contract';
import type { DecisionKind } from './approval-rules';

export class DecisionBook {
  private readonly accepted = new Map<string, DecisionRecord[]>();

  /** Why a decision comes too late or twice: the gate is decided, or this approver already approved. */
  conflict(kind: DecisionKind, environment: string, approver: string, required: number): string | undefined {
    const accepted = this.accepted.get(environment) ?? [];
    const rejection = accepted.find((d) => d.kind === 'reject');
    if (rejection) return `${environment} was already rejected by ${rejection.approver}`;
    const approvers = accepted.map((d) => d.approver);
    if (approvers.length >= required) {
      return `${environment} was already ${required > 1 ? 'approved by' : 'decided by'} ${approvers.join(', ')}`;
    }
    if (kind === 'approve' && approvers.includes(approver)) {
      const more = required - approvers.length;
      return `${approver} already approved ${environment}; ${more} more approval${more > 1 ? 's' : ''} from other approvers needed`;
    }
    return undefined;
  }

  accept(record: DecisionRecord): void {
    this.accepted.set(record.environment, [...(this.accepted.get(record.environment) ?? []), record]);
  }

  /** The gate's decision: the rejection, or the last approval once there are enough of them. */
  decided(environment: string, required: number): DecisionRecord | undefined {
    const accepted = this.accepted.get(environment) ?? [];
    const rejection = accepted.find((d) => d.kind === 'reject');
    if (rejection) return rejection;
    return accepted.length >= required ? accepted[accepted.length - 1] : undefined;
  }
}
