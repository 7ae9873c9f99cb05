// deliveryPipeline: one per (service, commit). Builds and pushes once, then walks the image digest
// through the environment chain — approval gate where configured, deploy through the
// environment's lane, wait healthy — and stops at the first environment that fails, is rejected,
// times out waiting or is superseded. This file is the thin Temporal shell: the decisions live in
// PipelineRun (run.ts), the steps in the stage modules beside it.
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  approveSignal,
  approveUpdate,
  deployFinishedSignal,
  deployProgressSignal,
  messageDescriptions,
  rejectSignal,
  rejectUpdate,
  statusQuery,
  supersededSignal,
  type DecisionChannel,
  type PipelineInput,
  type PipelinePlan,
  type PipelineStatus,
} from '../../common/contract';
import { describeError } from '../failures';
import { patches } from '../patches';
import { quickLocal, quickRemote, type Quick } from '../proxies';
import { approvalGate } from './approval-gate';
import { checkAttestation } from './attestation-check';
import { acceptFreezeOverrides, freezeGate } from './freeze-gate';
import { buildAndPush } from './build-stage';
import { deployThroughLane, undoInFlightDeploy, type DeploySteps } from './deploy-stage';
import { promoteBuiltImage } from './promotion-stage';
import { GitlabReporter, publish, publishIdentity } from './reporting';
import { PipelineEvents } from './events';
import { PipelineRun, PipelineStop, type Decision, type DecisionKind } from './run';

export async function deliveryPipeline(input: PipelineInput): Promise<PipelineStatus> {
  // Orchestration v2 saves server round trips (each costs ~45 ms on the dev server): planning,
  // rendering and lane requests run as local activities inside the workflow task that needs them,
  // and the build folder is removed while the deploys go on. Decided first, before any handler
  // can run; pipelines started before v2 replay with the steps they took.
  const v2 = patched(patches.orchestrationV2);
  const quick = v2 ? quickLocal : quickRemote;
  const run = new PipelineRun(input, workflowInfo(), () => new Date(), patched(patches.approverIdentities));
  // Audit lines and notifications (patch delivery-events); earlier pipelines replay without them.
  const events = new PipelineEvents(run, patched(patches.deliveryEvents));
  const steps: DeploySteps = { quick, gitlab: new GitlabReporter(run), publish: () => publish(run), events };
  acceptMessages(run, quick, steps.publish);
  const cleanups: Promise<unknown>[] = [];
  const settle = async () => {
    await Promise.all(cleanups);
    await condition(allHandlersFinished);
  };

  let current: string | undefined;
  try {
    publishIdentity(run);
    steps.publish();
    // GitLab shows the commit as pending from the moment the webhook was taken. Pipelines that
    // started before this step existed replay without it.
    if (patched(patches.gitlabPendingStatus)) {
      steps.gitlab.start();
      await steps.gitlab.commitStatus('pending', 'queued');
    }
    const plan = await quick.planPipeline({ service: input.service, commit: input.commit });
    steps.gitlab.start();
    run.planned(plan);
    await steps.gitlab.commitStatus('running', 'building');
    const { image, environments } = input.promotion
      ? await promoteBuiltImage(run, plan, steps)
      : await build(run, plan, steps, v2 ? (cleanup) => void cleanups.push(cleanup) : undefined);
    // Freeze windows are checked only where the config has them, so a pipeline of an installation
    // without `freeze:` records no new step (and older pipelines replay as they ran).
    const freezes = plan.freezeChecks === true && patched(patches.freezeWindows);
    for (const envPlan of environments) {
      current = envPlan.name;
      if (freezes) await freezeGate(run, envPlan.name, steps);
      if (envPlan.approval) {
        await approvalGate(run, { ...envPlan, approval: envPlan.approval }, steps);
        // An approval given during a freeze still waits for its end (or an override).
        if (freezes) await freezeGate(run, envPlan.name, steps);
      }
      await deployThroughLane(run, envPlan, image, steps);
    }
    current = undefined;
    run.ended();
    run.finish('succeeded');
    steps.publish();
    await steps.gitlab.commitStatus('success', `delivered to ${plan.environments.map((e) => e.name).join(', ')}`);
  } catch (err) {
    run.ended();
    await CancellationScope.nonCancellable(() => wrapUp(run, err, current, steps));
    await settle();
    if (isCancellation(err)) throw err;
    if (err instanceof PipelineStop) return run.status;
    throw ApplicationFailure.nonRetryable(
      `${input.service}@${input.commit.slice(0, 12)}: ${run.status.error}`,
      'PipelineFailed',
    );
  }
  await settle();
  return run.status;
}

/** The build pipeline's stage: build and push once; every environment of the plan follows. */
async function build(
  run: PipelineRun,
  plan: PipelinePlan,
  steps: DeploySteps,
  deferCleanup: ((cleanup: Promise<unknown>) => void) | undefined,
) {
  run.setState('building');
  steps.publish();
  const image = await buildAndPush(run, plan, { publish: steps.publish, deferCleanup });
  run.status.image = image;
  return { image, environments: plan.environments };
}

/** Records how the pipeline ended and tells GitLab; a cancelled one first undoes its in-flight deploy. */
async function wrapUp(run: PipelineRun, err: unknown, current: string | undefined, steps: DeploySteps): Promise<void> {
  if (current && run.environment(current).state === 'frozen')
    await steps.gitlab.freezeStatus(current, 'canceled', 'the pipeline ended while frozen');
  if (isCancellation(err)) {
    if (current && run.deployInFlight(current)) await undoInFlightDeploy(run, current, steps);
    run.skipPending();
    run.finish('cancelled', 'cancelled');
    steps.publish();
    await steps.events.emitEnd(err, true, current);
    await steps.gitlab.commitStatus('canceled', 'cancelled');
    return;
  }
  run.skipPending();
  const stop = err instanceof PipelineStop ? err : undefined;
  run.finish(stop?.state ?? 'failed', stop?.message ?? describeError(err));
  steps.publish();
  await steps.events.emitEnd(err, false, current);
  const report = stop?.state === 'superseded' ? 'canceled' : 'failed';
  await steps.gitlab.commitStatus(report, run.status.error ?? '');
}

/**
 * Registers every message the pipeline accepts. Called before the first await, so messages
 * buffered before the first workflow task are seen.
 */
function acceptMessages(run: PipelineRun, quick: Quick, publishRun: () => void): void {
  setHandler(statusQuery, () => run.status, { description: messageDescriptions.status });

  const decide = async (kind: DecisionKind, decision: Decision, channel: DecisionChannel) => {
    const record = run.receiveDecision(kind, decision, channel);
    const check = checkAttestation(run, quick, kind, record, decision.attestation);
    const valid = check && (await check);
    run.recordDecision(record, valid);
    publishRun();
    return record;
  };
  const decideByUpdate = (kind: DecisionKind) => async (decision: Decision) => {
    const record = await decide(kind, decision, 'update');
    if (!record.accepted) throw ApplicationFailure.nonRetryable(record.refusal ?? 'refused', 'DecisionRefused');
    return record;
  };
  const validate = (kind: DecisionKind) => (decision: Decision) => {
    const refusal = run.refusal(kind, decision);
    if (refusal) throw new Error(refusal);
  };
  const signal = (kind: DecisionKind) => async (decision: Decision) => void (await decide(kind, decision, 'signal'));

  setHandler(approveSignal, signal('approve'), { description: messageDescriptions.approve });
  setHandler(rejectSignal, signal('reject'), { description: messageDescriptions.reject });
  setHandler(approveUpdate, decideByUpdate('approve'), {
    validator: validate('approve'),
    description: messageDescriptions.approvePromotion,
  });
  setHandler(rejectUpdate, decideByUpdate('reject'), {
    validator: validate('reject'),
    description: messageDescriptions.rejectPromotion,
  });
  setHandler(deployProgressSignal, (progress) => {
    if (run.applyProgress(progress)) publishRun();
  });
  setHandler(deployFinishedSignal, ({ environment, outcome }) => run.receiveOutcome(environment, outcome));
  setHandler(supersededSignal, ({ by }) => run.supersede(by));
  acceptFreezeOverrides(run, quick, publishRun);
}
