// The deploy stage: render the environment's app for the one image digest, hand it to the
// environment's lane (which runs one deploy at a time and rolls back an unhealthy one), and wait
// for the lane's verdict. A cancelled pipeline asks the lane to undo its in-flight deploy.
import type { Duration } from '@temporalio/common';
import { condition, patched } from '@temporalio/workflow';
import type { EnvironmentPlan } from '../../common/contract';
import { patches } from '../patches';
import type { Quick } from '../proxies';
import type { PipelineEvents } from './events';
import type { GitlabReporter } from './reporting';
import type { PipelineRun } from './run';

export interface DeploySteps {
  quick: Quick;
  gitlab: GitlabReporter;
  publish: () => void;
  events: PipelineEvents;
}

export async function deployThroughLane(
  run: PipelineRun,
  envPlan: EnvironmentPlan,
  image: string,
  steps: DeploySteps,
): Promise<void> {
  const { name } = envPlan;
  const { service, commit } = run.input;
  run.startDeploy(name);
  steps.publish();
  await steps.gitlab.deployment(name, 'running');
  const references = { pipelineId: run.workflowId, order: run.order, commit, image };
  // The lane takes references and renders the app on a worker (patch lane-references); pipelines
  // started before sent the rendered app along.
  const checked = patched(patches.laneReferences);
  const request = checked ? references : { ...references, ...(await legacyDeploy(run, envPlan, image, steps)) };
  await steps.quick.requestDeploy({ service, environment: name, request });
  await awaitLaneOutcome(run, name, steps, checked);
  const { report, failure } = run.applyOutcome(name);
  if (!failure) {
    steps.publish();
    await steps.events.emit({ kind: 'deployed', environment: name });
  }
  if (report) await steps.gitlab.deployment(name, report);
  if (failure) throw failure;
}

/** What pipelines before lane-references sent: the app rendered here, and where to send it. */
async function legacyDeploy(run: PipelineRun, envPlan: EnvironmentPlan, image: string, steps: DeploySteps) {
  const { service, commit } = run.input;
  const pipelineId = run.workflowId;
  const app = await steps.quick.renderMarathonApp({ service, environment: envPlan.name, image, pipelineId, commit });
  return {
    marathonUrl: envPlan.marathonUrl,
    app,
    healthTimeoutSeconds: envPlan.healthTimeoutSeconds,
    forceOverForeignDeployment: envPlan.forceOverForeignDeployments,
    ...(envPlan.imageTag ? { imageTag: envPlan.imageTag } : {}),
  };
}

/**
 * Waits for the lane's answer (at most `timeout`; false if none came). With `checked`, an answer
 * counts only once the lane confirms it gave it: anyone can signal "healthy" to a pipeline.
 */
async function awaitLaneOutcome(
  run: PipelineRun,
  name: string,
  steps: DeploySteps,
  checked: boolean,
  timeout?: Duration,
): Promise<boolean> {
  for (;;) {
    const arrived = () => run.hasOutcome(name);
    if (!(timeout === undefined ? (await condition(arrived), true) : await condition(arrived, timeout))) return false;
    if (!checked) return true;
    const lane = { service: run.input.service, environment: name, pipelineId: run.workflowId };
    const confirmed = await steps.quick.confirmLaneOutcome(lane).catch(() => null);
    if (confirmed) {
      run.receiveOutcome(name, confirmed);
      return true;
    }
    run.dropOutcome(name);
  }
}

/** Cancellation while deploying: the lane rolls our deploy back; wait (bounded) for its word. */
export async function undoInFlightDeploy(run: PipelineRun, name: string, steps: DeploySteps): Promise<void> {
  run.setState('cancelling');
  await steps.quick.cancelDeploy({ service: run.input.service, environment: name, pipelineId: run.workflowId });
  const answered = await awaitLaneOutcome(run, name, steps, patched(patches.laneReferences), '30m');
  run.applyCancelledDeploy(name, answered);
  await steps.gitlab.deployment(name, 'canceled');
}
