// The approval gate: before an environment that asks for approval, tell its lane that this
// pipeline waits (so a newer pipeline can supersede it), then wait — durably, for days if need
// be — for a decision, a newer pipeline, or the timeout.
import { condition } from '@temporalio/workflow';
import type { EnvironmentPlan } from '../../common/contract';
import type { Quick } from '../proxies';
import type { PipelineRun } from './run';

export async function approvalGate(
  run: PipelineRun,
  envPlan: EnvironmentPlan & { approval: NonNullable<EnvironmentPlan['approval']> },
  steps: { quick: Quick; publish: () => void },
): Promise<void> {
  const { name, approval: rule } = envPlan;
  run.startWaiting(name, rule);
  steps.publish();
  const lane = { service: run.input.service, environment: name, pipelineId: run.workflowId, order: run.order };
  await steps.quick.announceApprovalWait(lane);
  const decided = await condition(() => run.gateSettled(name), rule.timeoutSeconds * 1000);
  await steps.quick.announceApprovalWait({ ...lane, done: true });
  const stop = run.gateVerdict(name, rule, decided);
  if (stop) throw stop;
}
