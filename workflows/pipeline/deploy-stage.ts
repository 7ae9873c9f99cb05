// The deploy stage: render the environment's app for the one image digest, hand it to the
// environment's lane (which runs one deploy at a time and rolls back an unhealthy one), and wait
// for the lane's verdict. A cancelled pipeline asks the lane to undo its in-flight deploy.
import { condition } from '@temporalio/workflow';
import type { EnvironmentPlan } from '../../common/contract';
import type { Quick } from '../proxies';
import type { GitlabReporter } from './reporting';
import type { PipelineRun } from './run';

export interface DeploySteps {
  quick: Quick;
  gitlab: GitlabReporter;
  publish: () => void;
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
  const pipelineId = run.workflowId;
  const app = await steps.quick.renderMarathonApp({ service, environment: name, image, pipelineId, commit });
  await steps.quick.requestDeploy({
    service,
    environment: name,
    request: {
      pipelineId,
      order: run.order,
      commit,
      image,
      marathonUrl: envPlan.marathonUrl,
      app,
      healthTimeoutSeconds: envPlan.healthTimeoutSeconds,
      forceOverForeignDeployment: envPlan.forceOverForeignDeployments,
      ...(envPlan.imageTag ? { imageTag: envPlan.imageTag } : {}),
    },
  });
  await condition(() => run.hasOutcome(name));
  const { report, failure } = run.applyOutcome(name);
  if (!failure) steps.publish();
  if (report) await steps.gitlab.deployment(name, report);
  if (failure) throw failure;
}

/** Cancellation while deploying: the lane rolls our deploy back; wait (bounded) for its word. */
export async function undoInFlightDeploy(run: PipelineRun, name: string, steps: DeploySteps): Promise<void> {
  await steps.quick.cancelDeploy({ service: run.input.service, environment: name, pipelineId: run.workflowId });
  const confirmed = await condition(() => run.hasOutcome(name), '30m');
  run.applyCancelledDeploy(name, confirmed);
  await steps.gitlab.deployment(name, 'canceled');
}
