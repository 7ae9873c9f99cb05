// rollbackEnvironment: an on-demand rollback of (service, environment) to an earlier Marathon
// version, carried out by that environment's lane so it never races a deploy. With `toCommit`,
// the version that ran that commit (the lane's history); when Marathon no longer holds that
// version, the commit's digest is deployed anew by a promotion to that environment alone.
import { ApplicationFailure, condition, executeChild, log, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  promotionWorkflowId,
  rollbackFinishedSignal,
  type CommitRollbackPlan,
  type DeployOutcome,
  type PipelineStatus,
  type RollbackInput,
} from '../common/contract';
import { deliveryPipeline } from './pipeline';
import { describeError } from './failures';
import { refName } from './pipeline/reporting';
import { gitlab, quickRemote } from './proxies';

export async function rollbackEnvironment(input: RollbackInput): Promise<DeployOutcome> {
  const requestId = workflowInfo().workflowId;
  let toVersion = input.toVersion;
  let report: CommitRollbackPlan['gitlab'];
  if (input.toCommit) {
    const plan = await quickRemote
      .planRollbackToCommit({ service: input.service, environment: input.environment, commit: input.toCommit })
      .catch((err: unknown) => {
        // Say why ("never ran in production"), not "activity task failed".
        throw ApplicationFailure.nonRetryable(
          `rollback of ${input.service} in ${input.environment}: ${describeError(err)}`,
          'RollbackRefused',
        );
      });
    if (plan.kind === 'redeploy') return redeployCommit(input, input.toCommit);
    toVersion = plan.version;
    report = plan.gitlab;
  }
  let outcome: DeployOutcome | undefined;
  setHandler(rollbackFinishedSignal, (msg) => {
    if (msg.requestId === requestId) outcome = msg.outcome;
  });
  await quickRemote.requestRollback({
    service: input.service,
    environment: input.environment,
    request: { requestId, toVersion, requestedBy: input.requestedBy, reason: input.reason, replyTo: requestId },
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
  // A rollback to a commit is that commit's deployment, as GitLab sees it (best effort).
  if (report && input.toCommit) {
    const { project, ref } = report;
    await gitlab
      .reportDeployment({
        project,
        sha: input.toCommit,
        ref: refName(ref) ?? ref,
        tag: ref.startsWith('refs/tags/'),
        environment: input.environment,
        status: 'success',
      })
      .catch((err: unknown) => log.warn('GitLab deployment not reported', { error: describeError(err) }));
  }
  return result;
}

/** Marathon forgot the version: the commit's digest goes out again through the lane (and its approval gate). */
async function redeployCommit(input: RollbackInput, commit: string): Promise<DeployOutcome> {
  const { service, environment } = input;
  const status: PipelineStatus = await executeChild(deliveryPipeline, {
    workflowId: promotionWorkflowId(service, commit, environment, `rollback-${workflowInfo().runId.slice(0, 8)}`),
    args: [
      {
        service,
        commit,
        trigger: { kind: 'manual', user: input.requestedBy },
        promotion: {
          to: environment,
          only: true,
          allowOlder: true,
          requestedBy: input.requestedBy,
          reason: input.reason,
          kind: 'rollback',
        },
      },
    ],
  });
  const env = status.environments.find((e) => e.name === environment);
  if (status.state !== 'succeeded' || env?.state !== 'healthy')
    throw ApplicationFailure.nonRetryable(
      `rollback of ${service} in ${environment} to ${commit.slice(0, 12)} by redeploy ended ${status.state}: ${status.error ?? env?.error ?? ''}`,
      'RollbackFailed',
    );
  return {
    kind: 'healthy',
    deploymentId: env.deploymentId ?? null,
    version: env.version ?? '',
    previousVersion: env.previousVersion ?? null,
  };
}
