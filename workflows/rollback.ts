// rollbackEnvironment: an on-demand rollback of (service, environment) to an earlier Marathon
// version, carried out by that environment's lane so it never races a deploy.
import { ApplicationFailure, condition, setHandler, workflowInfo } from '@temporalio/workflow';
import { quick } from './activities';
import { rollbackFinishedSignal, type DeployOutcome } from './messages';

export interface RollbackInput {
  service: string;
  environment: string;
  toVersion?: string;
  requestedBy: string;
  reason: string;
}

export async function rollbackEnvironment(input: RollbackInput): Promise<DeployOutcome> {
  const requestId = workflowInfo().workflowId;
  let outcome: DeployOutcome | undefined;
  setHandler(rollbackFinishedSignal, (msg) => {
    if (msg.requestId === requestId) outcome = msg.outcome;
  });
  await quick.requestRollback({
    service: input.service,
    environment: input.environment,
    request: {
      requestId,
      toVersion: input.toVersion,
      requestedBy: input.requestedBy,
      reason: input.reason,
      replyTo: requestId,
    },
  });
  await condition(() => outcome !== undefined);
  if (outcome!.kind !== 'healthy') {
    throw ApplicationFailure.nonRetryable(
      `rollback of ${input.service} in ${input.environment} failed: ${'error' in outcome! ? outcome.error : outcome!.kind}`,
      'RollbackFailed',
    );
  }
  return outcome!;
}
