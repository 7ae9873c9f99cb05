// What a blue/green or canary deploy gets from the lane's DeployRunner: the request, where it goes,
// how to report its step and its Marathon deployment, the verify hook, and the rolling deploy (the
// canary's promotion is one). Shared by strategies/blue-green.ts and strategies/canary.ts.
import { CancellationScope, getExternalWorkflowHandle, isCancellation } from '@temporalio/workflow';
import { deployProgressSignal, type DeployOutcome, type DeployRequest } from '../../../common/contract';
import { NonRetryable } from '../../../common/errors';
import { describeError, isFailureOfType } from '../../failures';
import { marathonDeploy, marathonWaits, marathonStrategySteps } from '../../proxies';

export type Deployed = Awaited<ReturnType<typeof marathonDeploy.deployToMarathon>>;

/** What the verify hook is asked to check: one app of the deploy, at one stage of the strategy. */
export interface VerifyCheck {
  environment: string;
  pipelineId: string;
  appId: string;
  version: string;
  /** "started" (the new colour is healthy), "canary step 1 of 2", ... */
  stage: string;
}

/**
 * Checks a deploy beyond Marathon's health (smoke tests, metrics): resolves to go on, throws to
 * abort (the strategy then returns to what ran before). The lane passes it to its DeployRunner.
 */
export type VerifyHook = (check: VerifyCheck) => Promise<void>;

export interface StrategyRun {
  req: DeployRequest;
  environment: string;
  /** The app the lane knows to serve now (blue/green: the live colour). */
  liveAppId?: string;
  /** Shows the step in the lane's state (`slipway status`, the lane query); undefined when done. */
  step(step: string | undefined): void;
  verify?: VerifyHook;
  /** The rolling deploy of `app`, with its own rollback when unhealthy or cancelled. */
  rolling(app: DeployRequest['app']): Promise<DeployOutcome>;
  /** True once the pipeline cancelled this deploy. */
  cancelled(): boolean;
}

/** The Marathon of the request, as every strategy step addresses it. */
export const targetOf = (run: StrategyRun) => ({ marathonUrl: run.req.marathonUrl, environment: run.environment });

/** Starts (or adopts) an app of the deploy and tells the pipeline its Marathon deployment. */
export async function startApp(run: StrategyRun, app: DeployRequest['app']): Promise<Deployed> {
  const { req, environment } = run;
  const deployed = await marathonDeploy.deployToMarathon({
    marathonUrl: req.marathonUrl,
    environment,
    pipelineId: req.pipelineId,
    app,
    forceOverForeignDeployment: req.forceOverForeignDeployment,
  });
  const { deploymentId, version, previousVersion } = deployed;
  void getExternalWorkflowHandle(req.pipelineId)
    .signal(deployProgressSignal, { environment, pipelineId: req.pipelineId, deploymentId, version, previousVersion })
    .catch(() => undefined);
  return deployed;
}

/** Waits until `appId` runs `version` healthy, within the environment's health timeout. */
export async function waitHealthy(
  run: StrategyRun,
  appId: string,
  at: { version: string; deploymentId: string | null },
): Promise<void> {
  await marathonWaits(run.req.healthTimeoutSeconds).awaitHealthy({
    marathonUrl: run.req.marathonUrl,
    environment: run.environment,
    appId,
    version: at.version,
    deploymentId: at.deploymentId,
    timeoutSeconds: run.req.healthTimeoutSeconds,
  });
}

/** Scales an app and waits until all its instances are healthy. */
export async function scaleAndWait(run: StrategyRun, appId: string, instances: number): Promise<void> {
  const scaled = await marathonStrategySteps.scaleMarathonApp({ ...targetOf(run), appId, instances });
  await waitHealthy(run, appId, scaled);
}

export async function verifyStage(run: StrategyRun, appId: string, version: string, stage: string): Promise<void> {
  await run.verify?.({ environment: run.environment, pipelineId: run.req.pipelineId, appId, version, stage });
}

/** Why a strategy stopped, and whether that is a deploy to undo (unhealthy, cancelled) or a plain failure. */
export function abortReason(
  run: StrategyRun,
  err: unknown,
): { reason: string; cancelled: boolean; unhealthy: boolean } {
  const cancelled = run.cancelled() && isCancellation(err);
  return {
    cancelled,
    unhealthy: isFailureOfType(err, NonRetryable.HealthTimeout),
    reason: cancelled ? `pipeline ${run.req.pipelineId} was cancelled` : describeError(err),
  };
}

/**
 * Deletes an app the deploy no longer needs once the new version serves (the old colour, the
 * canary), even while being cancelled: the switch is done by then. A failure is a warning, not a
 * failed deploy; the app is left for an operator to delete.
 */
export async function deleteLeftover(run: StrategyRun, appId: string): Promise<{ warning?: string }> {
  try {
    await nonCancellable(() => marathonStrategySteps.deleteMarathonApp({ ...targetOf(run), appId }));
    return {};
  } catch (err) {
    return { warning: `${appId} could not be deleted and still runs: ${describeError(err)}` };
  }
}

/** Runs an undo to its end even while the deploy is being cancelled. */
export const nonCancellable = <T>(fn: () => Promise<T>): Promise<T> => CancellationScope.nonCancellable(fn);
