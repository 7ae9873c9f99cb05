// The approval gate: before an environment that asks for approval, tell its lane that this
// pipeline waits (so a newer pipeline can supersede it), then wait — durably, for days if need
// be — for a decision, a newer pipeline, or the timeout.
import { condition, patched } from '@temporalio/workflow';
import type { DecisionRecord, EnvironmentPlan } from '../../common/contract';
import { patches } from '../patches';
import type { Quick } from '../proxies';
import type { EventFields, PipelineEvents } from './events';
import type { PipelineRun } from './run';

export async function approvalGate(
  run: PipelineRun,
  envPlan: EnvironmentPlan & { approval: NonNullable<EnvironmentPlan['approval']> },
  steps: { quick: Quick; publish: () => void; events: PipelineEvents },
): Promise<void> {
  const { name, approval: rule } = envPlan;
  run.startWaiting(name, rule);
  steps.publish();
  const deadline = run.environment(name).approval?.deadline;
  await steps.events.emit({ kind: 'waiting-approval', environment: name, approvers: rule.approvers, deadline });
  const lane = { service: run.input.service, environment: name, pipelineId: run.workflowId, order: run.order };
  await steps.quick.announceApprovalWait(lane);
  const decided = await awaitDecision(run, name, rule.timeoutSeconds * 1000, steps.quick);
  await steps.quick.announceApprovalWait({ ...lane, done: true });
  const stop = run.gateVerdict(name, rule, decided);
  // Decisions are told here rather than in their handlers: the pipeline records events one at a
  // time, never beside its other steps, so a replay meets its commands in the same order.
  for (const record of run.status.decisions)
    if (record.accepted && record.environment === name) await steps.events.emit(decisionEvent(record));
  if (stop) throw stop;
}

/**
 * Waits until the gate is settled or `timeoutMs` passed. A "superseded" note counts only once the
 * lane confirms a newer pipeline waits there or runs there (patch lane-references): anyone can
 * send that signal.
 */
async function awaitDecision(run: PipelineRun, name: string, timeoutMs: number, quick: Quick): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const settled = await condition(() => run.gateSettled(name), Math.max(1, deadline - Date.now()));
    const by = settled ? run.supersedeClaim(name) : undefined;
    if (!by || !patched(patches.laneReferences)) return settled;
    const claim = { service: run.input.service, environment: name, order: run.order, by };
    if (await quick.confirmSuperseded(claim).catch(() => false)) return true;
    run.dropSupersede();
  }
}

function decisionEvent(record: DecisionRecord): EventFields {
  const reason = record.comment ?? record.reason;
  return {
    kind: record.kind === 'approve' ? 'approved' : 'rejected',
    environment: record.environment,
    actor: record.approver,
    ...(reason ? { reason } : {}),
    at: record.at,
  };
}
