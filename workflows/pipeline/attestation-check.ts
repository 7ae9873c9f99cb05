// A decision that came through Slipway's HTTP API carries an attestation; an activity checks it
// against the worker's key (the workflow never holds it). Shared by approvals and freeze overrides.
import type { Quick } from '../proxies';
import type { PipelineRun } from './run';

/**
 * The check of a decision's attestation, or undefined when there is none to check (or the record
 * is refused). Not async: a caller with nothing to check goes on without yielding, as before.
 */
export function checkAttestation(
  run: PipelineRun,
  quick: Quick,
  kind: 'approve' | 'reject' | 'override-freeze',
  record: { accepted: boolean; environment: string; approver: string },
  attestation: string | undefined,
): Promise<boolean> | undefined {
  if (!record.accepted || !attestation) return undefined;
  return quick.verifyDecisionAttestation({
    workflowId: run.workflowId,
    runId: run.runId,
    kind,
    environment: record.environment,
    approver: record.approver,
    attestation,
  });
}
