// rollbackEnvironment: an on-demand rollback of (service, environment) to an earlier Marathon
// version, carried out by that environment's lane so it never races a deploy.
import { ApplicationFailure, condition, setHandler, workflowInfo } from '@temporalio/workflow';
import { rollbackFinishedSignal, type DeployOutcome, type RollbackInput } from '../common/contract';
import { quickRemote } from './proxies';

export async function rollbackEnvironment(input: RollbackInput): Promise<DeployOutcome> {
  const requestId = workflowInfo().workflowId;
  let outcome: DeployOutcome | undefined;
  setHandler(rollbackFinishedSignal, (msg) => {
    if (msg.requestId === requestId) outcome = msg.outcome;
  });
  await quickRemote.requestRollback({
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
  const result = outcome!;
  if (result.kind !== 'healthy') {
    const why = 'error' in result ? result.error : result.kind;
    throw ApplicationFailure.nonRetryable(
      `rollback of ${input.service} in ${input.environment} failed: ${why}`,
      'RollbackFailed',
    );
  }
  return result;
}
