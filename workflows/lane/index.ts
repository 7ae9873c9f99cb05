// environmentLane: one long-lived workflow per (service, environment) that owns that Marathon app.
// It runs one deploy at a time, knows what runs there now and what ran before (the rollback
// target), refuses an image older than the one running, lets a newer request supersede an older
// queued one, and tells older pipelines waiting for approval here that a newer one has arrived.
// Continue-as-new keeps its history short; its state travels along. This file is the thin
// Temporal shell: the decisions live in Lane (lane-state.ts), the Marathon steps in deploy.ts.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  awaitingApprovalSignal,
  cancelDeploySignal,
  deployFinishedSignal,
  deployRequestSignal,
  laneQuery,
  messageDescriptions,
  rollbackFinishedSignal,
  rollbackRequestSignal,
  supersededSignal,
  deployOutcomeQuery,
  type DeployOutcome,
  type DeployRequest,
  type LaneInput,
} from '../../common/contract';
import { describeError } from '../failures';
import { quickLocal } from '../proxies';
import { patches } from '../patches';
import { recordEvent } from '../events';
import { DeployRunner, pointImageTag, runRollback } from './deploy';
import { Lane } from './lane-state';

export async function environmentLane(input: LaneInput): Promise<void> {
  const lane = new Lane(input, () => new Date());
  const runner = new DeployRunner(lane.state.environment, {
    onStep: (step) => lane.noteStrategyStep(step),
    liveAppId: () => lane.state.current?.live?.appId,
  });
  const messenger = new LaneMessenger(lane);
  acceptMessages(lane, runner, messenger);

  for (;;) {
    await condition(() => lane.hasWork() || workflowInfo().continueAsNewSuggested);
    const rollback = lane.nextRollback();
    if (rollback) {
      lane.startRollback(rollback);
      const outcome = await runRollback(lane, rollback, patched(patches.laneReferences));
      lane.finishInFlight();
      // Into the audit log and to the notification targets; lanes that ran before do not.
      if (patched(patches.deliveryEvents)) await recordEvent(lane.rollbackEvent(rollback, outcome));
      if (rollback.replyTo) {
        await getExternalWorkflowHandle(rollback.replyTo)
          .signal(rollbackFinishedSignal, { requestId: rollback.requestId, outcome })
          .catch(() => undefined);
      }
      continue;
    }
    const next = lane.nextDeploy();
    if (next !== undefined) {
      if (next) await deploy(lane, runner, messenger, next);
      continue;
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof environmentLane>(lane.carryOver(input));
    }
  }
}

async function deploy(lane: Lane, runner: DeployRunner, messenger: LaneMessenger, req: DeployRequest): Promise<void> {
  lane.startDeploy(req);
  let outcome = await runner.run(req);
  // Still in flight while tagging: a cancel arriving now must not be answered "cancelled".
  if (outcome.kind === 'healthy' && req.imageTag && patched(patches.environmentImageTags))
    outcome = { ...outcome, ...(await pointImageTag(req.imageTag, req.image)) };
  lane.finishInFlight();
  if (outcome.kind === 'healthy')
    messenger.supersede(lane.deployed(req, outcome.version, outcome.live), req.pipelineId);
  await messenger.reply(req.pipelineId, outcome);
}

/** The lane's side of its conversations with pipelines. */
class LaneMessenger {
  constructor(private readonly lane: Lane) {}

  /** Answers a pipeline's deploy request; the answer is kept, so a re-sent request gets it again. */
  async reply(pipelineId: string, outcome: DeployOutcome): Promise<void> {
    this.lane.remember(pipelineId, outcome);
    try {
      await getExternalWorkflowHandle(pipelineId).signal(deployFinishedSignal, {
        environment: this.lane.state.environment,
        outcome,
      });
    } catch (err) {
      log.warn('pipeline is gone; outcome kept in the lane', { pipelineId, error: (err as Error).message });
    }
  }

  /** Tells pipelines waiting for approval here that a newer one (`by`) has arrived. */
  supersede(pipelineIds: string[], by: string): void {
    for (const pipelineId of pipelineIds) {
      void getExternalWorkflowHandle(pipelineId)
        .signal(supersededSignal, { environment: this.lane.state.environment, by })
        .catch(() => undefined);
    }
  }
}

function acceptMessages(lane: Lane, runner: DeployRunner, messenger: LaneMessenger): void {
  const { service, environment } = lane.state;
  setHandler(laneQuery, () => lane.state, { description: messageDescriptions.lane });
  setHandler(deployOutcomeQuery, (pipelineId) => lane.answered[pipelineId] ?? null, {
    description: messageDescriptions.deployOutcome,
  });

  setHandler(deployRequestSignal, async (incoming) => {
    if (!patched(patches.laneReferences)) return queueRequest(lane, messenger, incoming as DeployRequest);
    const recalled = lane.recall(incoming);
    if (recalled) return 'answer' in recalled ? messenger.reply(incoming.pipelineId, recalled.answer) : undefined;
    const { pipelineId, order, commit, image } = incoming;
    const request = { pipelineId, order, commit, image };
    const admission = await quickLocal.admitDeployRequest({ service, environment, request }).catch((err: unknown) => ({
      admitted: false as const,
      verified: true,
      reason: `not checked: ${describeError(err)}`,
    }));
    if (admission.admitted) return queueRequest(lane, messenger, { ...request, ...admission.deploy });
    if (admission.verified) return messenger.reply(pipelineId, { kind: 'failed', error: admission.reason });
    lane.ignore(pipelineId, 'deployRequest', admission.reason);
  });

  setHandler(cancelDeploySignal, async ({ pipelineId }) => {
    if (patched(patches.laneReferences)) {
      const claim = { kind: 'cancel' as const };
      if (!(await confirmed(lane, { service, environment, pipelineId, claim }, 'cancelDeploy'))) return;
    }
    if (lane.isInFlight(pipelineId)) return runner.cancel();
    lane.dropQueued(pipelineId);
    // Answer even when nothing was queued, so the cancelling pipeline never waits in vain.
    await messenger.reply(pipelineId, lane.withdrawnAnswer(pipelineId));
    lane.forgetWaiter(pipelineId);
  });

  setHandler(awaitingApprovalSignal, async (waiter) => {
    if (!waiter.done && patched(patches.laneReferences)) {
      const claim = { kind: 'waiting' as const, order: waiter.order };
      const input = { service, environment, pipelineId: waiter.pipelineId, claim };
      if (!(await confirmed(lane, input, 'awaitingApproval'))) return;
    }
    const { supersededBy, supersedes } = lane.noteWaiting(waiter);
    // An older pipeline arriving after a newer one (already here, or already deployed) is superseded at once.
    if (supersededBy) messenger.supersede([waiter.pipelineId], supersededBy);
    else messenger.supersede(supersedes, waiter.pipelineId);
  });

  setHandler(rollbackRequestSignal, (req) => lane.requestRollback(req));
}

/** Admits a request the lane may act on: answered again, refused as older, or queued (superseding older ones). */
async function queueRequest(lane: Lane, messenger: LaneMessenger, req: DeployRequest): Promise<void> {
  const admission = lane.admit(req);
  if ('answer' in admission) return messenger.reply(req.pipelineId, admission.answer);
  if ('duplicate' in admission) return;
  for (const queued of lane.olderQueued(req.order)) {
    lane.dropQueued(queued.pipelineId);
    await messenger.reply(queued.pipelineId, {
      kind: 'refused',
      reason: `superseded in the queue by ${req.pipelineId}`,
      newerPipelineId: req.pipelineId,
    });
  }
  lane.enqueue(req);
}

/** Asks the pipeline named in a message whether it says so; a message it does not confirm is ignored. */
async function confirmed(
  lane: Lane,
  input: Parameters<typeof quickLocal.verifyPipelineClaim>[0],
  message: string,
): Promise<boolean> {
  const verdict = await quickLocal
    .verifyPipelineClaim(input)
    .catch((err: unknown) => ({ ok: false as const, reason: `not checked: ${describeError(err)}` }));
  if (!verdict.ok) lane.ignore(input.pipelineId, message, verdict.reason);
  return verdict.ok;
}
