// The lane's steps against Marathon and the registry: one deploy (PUT, progress note to the
// pipeline, health wait, rollback when unhealthy or cancelled), an on-demand rollback, and the
// environment's registry tag. Each returns an outcome; none throws for a failed deploy.
import { CancellationScope, getExternalWorkflowHandle, isCancellation, log, patched } from '@temporalio/workflow';
import {
  deployProgressSignal,
  type DeployOutcome,
  type DeployProgress,
  type DeployRequest,
  type ImageTagResult,
  type LaneState,
  type RollbackRequest,
} from '../../common/contract';
import { NonRetryable } from '../../common/errors';
import { describeError, isFailureOfType } from '../failures';
import { patches } from '../patches';
import { marathonDeploy, marathonWaits, quickLocal, registryTags } from '../proxies';
import type { Lane } from './lane-state';
import { VerificationFailed, verifyDeployment } from './verify';
import { runBlueGreen } from './strategies/blue-green';
import { runCanary } from './strategies/canary';
import type { StrategyRun, VerifyHook } from './strategies/run';

type Deployed = Awaited<ReturnType<typeof marathonDeploy.deployToMarathon>>;

/** Runs the lane's one in-flight deploy, and lets a cancelling pipeline stop it. */
export class DeployRunner {
  private scope: CancellationScope | undefined;
  private cancelled = false;

  constructor(
    private readonly environment: string,
    /**
     * For blue/green and canary deploys: where their step shows, which app serves now, and the
     * verify hook (smoke tests, metrics) run once the new version is healthy and after each canary
     * wait; it throws to abort the deploy. The lane passes these.
     */
    private readonly hooks: {
      onStep?: (step: string | undefined) => void;
      liveAppId?: () => string | undefined;
      verify?: VerifyHook;
    } = {},
  ) {}

  /** The pipeline was cancelled: stop its deploy; the runner rolls it back. */
  cancel(): void {
    this.cancelled = true;
    this.scope?.cancel();
  }

  async run(req: DeployRequest): Promise<DeployOutcome> {
    this.cancelled = false;
    this.scope = new CancellationScope();
    try {
      const strategy = req.strategy;
      if (strategy && strategy.type !== 'rolling' && patched(patches.deployStrategies)) {
        const scope = this.scope;
        return await scope.run(() => runStrategy(this.strategyRun(req), strategy));
      }
      return await this.rolling(req, this.scope);
    } finally {
      this.scope = undefined;
    }
  }

  /** The rolling deploy (Marathon's own upgrade): PUT, health wait, back to the previous version when it fails. */
  private async rolling(req: DeployRequest, scope?: CancellationScope): Promise<DeployOutcome> {
    const progress: { deployed?: Deployed } = {};
    try {
      return await (scope ? scope.run(() => this.deployAndWait(req, progress)) : this.deployAndWait(req, progress));
    } catch (err) {
      const cancelled = this.cancelled && isCancellation(err);
      const unverified = err instanceof VerificationFailed;
      if (!cancelled && !unverified && !isFailureOfType(err, NonRetryable.HealthTimeout)) {
        // A 422, a refused credential, a foreign lock: Marathon did not take the new version.
        return { kind: 'failed', error: describeError(err) };
      }
      return this.undo(
        req,
        progress.deployed,
        cancelled ? `pipeline ${req.pipelineId} was cancelled` : describeError(err),
        cancelled,
      );
    }
  }

  /** What a blue/green or canary deploy of `req` works with (strategies/run.ts). */
  private strategyRun(req: DeployRequest): StrategyRun {
    const { onStep, liveAppId } = this.hooks;
    const verify = this.hooks.verify ?? verifyHookFor(req);
    // The canary's promotion runs the version its steps already verified: no second soak.
    const { verify: _verified, ...promotion } = req;
    return {
      req,
      environment: this.environment,
      ...(liveAppId?.() ? { liveAppId: liveAppId() } : {}),
      step: (step) => onStep?.(step),
      ...(verify ? { verify } : {}),
      rolling: (app) => this.rolling({ ...promotion, app }),
      cancelled: () => this.cancelled,
    };
  }

  private async deployAndWait(req: DeployRequest, progress: { deployed?: Deployed }): Promise<DeployOutcome> {
    const environment = this.environment;
    const deployed = await marathonDeploy.deployToMarathon({
      marathonUrl: req.marathonUrl,
      environment,
      pipelineId: req.pipelineId,
      app: req.app,
      forceOverForeignDeployment: req.forceOverForeignDeployment,
    });
    progress.deployed = deployed;
    const { deploymentId, version, previousVersion } = deployed;
    const started: DeployProgress = { environment, pipelineId: req.pipelineId, deploymentId, version, previousVersion };
    const note = getExternalWorkflowHandle(req.pipelineId)
      .signal(deployProgressSignal, started)
      .catch(() => undefined);
    // The progress note need not be delivered before the health wait starts: waiting for it
    // cost two server round trips per deploy. Lanes that ran before keep their order on replay.
    if (!patched(patches.progressSignalInParallel)) await note;
    await marathonWaits(req.healthTimeoutSeconds).awaitHealthy({
      marathonUrl: req.marathonUrl,
      environment,
      appId: String(req.app.id),
      version,
      deploymentId,
      timeoutSeconds: req.healthTimeoutSeconds,
    });
    // Healthy is not yet done where the environment asks for verification: the pipeline hears
    // "verifying" (the same progress note, with the deadline) and a failure rolls back.
    const target = { marathonUrl: req.marathonUrl, environment, appId: String(req.app.id), version };
    const verdict = await verifyDeployment(target, req.verify, (until) => {
      void getExternalWorkflowHandle(req.pipelineId)
        .signal(deployProgressSignal, { ...started, verifying: { until } })
        .catch(() => undefined);
    });
    if (!verdict.ok) throw new VerificationFailed(verdict.reason);
    return { kind: 'healthy', deploymentId, version, previousVersion };
  }

  /** Unhealthy or cancelled: return to the version that ran before, if this deploy changed it. */
  private async undo(
    req: DeployRequest,
    deployed: Deployed | undefined,
    reason: string,
    cancelled: boolean,
  ): Promise<DeployOutcome> {
    const previous = deployed?.previousVersion ?? null;
    if (deployed && previous && !deployed.unchanged) {
      const appId = String(req.app.id);
      const target = { marathonUrl: req.marathonUrl, appId, healthTimeoutSeconds: req.healthTimeoutSeconds };
      try {
        await rollbackTo(this.environment, target, previous, reason);
      } catch (rollbackErr) {
        log.error('rollback failed', { appId, toVersion: previous, error: describeError(rollbackErr) });
        return {
          kind: 'failed',
          error: `${reason}; rollback to ${previous} failed too: ${describeError(rollbackErr)}`,
        };
      }
    }
    if (cancelled) return { kind: 'cancelled', rolledBackTo: deployed ? previous : null };
    return {
      kind: 'rolled-back',
      error: reason,
      deploymentId: deployed?.deploymentId ?? null,
      version: deployed?.version,
      rolledBackTo: previous,
    };
  }
}

/** Runs a blue/green or canary deploy; the step shown in the lane's state is cleared when it ends. */
async function runStrategy(
  run: StrategyRun,
  strategy: Exclude<NonNullable<DeployRequest['strategy']>, { type: 'rolling' }>,
): Promise<DeployOutcome> {
  try {
    return strategy.type === 'blue-green' ? await runBlueGreen(run, strategy) : await runCanary(run, strategy);
  } catch (err) {
    // Before anything started (the plan could not be read) or after a failed undo: the lane goes on.
    return { kind: 'failed', error: describeError(err) };
  } finally {
    run.step(undefined);
  }
}

/**
 * The environment's verification (config `verify`) as a strategy's hook: run on the new colour once
 * it is healthy, and on the canary at each step; a failure aborts the strategy, which returns to
 * what served before.
 */
function verifyHookFor(req: DeployRequest): VerifyHook | undefined {
  const plan = req.verify;
  if (!plan) return undefined;
  return async ({ environment, appId, version, stage }) => {
    const verdict = await verifyDeployment({ marathonUrl: req.marathonUrl, environment, appId, version }, plan);
    if (!verdict.ok) throw new VerificationFailed(`${stage}: ${verdict.reason}`);
  };
}

/** Returns to `toVersion` in a non-cancellable scope: a rollback must finish even while cancelling. */
function rollbackTo(environment: string, target: NonNullable<LaneState['target']>, toVersion: string, reason: string) {
  return CancellationScope.nonCancellable(() =>
    marathonWaits(target.healthTimeoutSeconds).rollbackMarathonApp({
      marathonUrl: target.marathonUrl,
      environment,
      appId: target.appId,
      toVersion,
      timeoutSeconds: target.healthTimeoutSeconds,
      reason,
    }),
  );
}

/**
 * An operator's rollback, carried out by the lane so it never races a deploy. With `configured`,
 * where the app lives comes from the worker's config rather than the lane's state (which a forged
 * start could have filled).
 */
export async function runRollback(lane: Lane, req: RollbackRequest, configured: boolean): Promise<DeployOutcome> {
  try {
    const { service, environment } = lane.state;
    const plan = lane.rollbackPlan(
      req,
      configured ? await quickLocal.resolveLaneTarget({ service, environment }) : undefined,
    );
    if ('error' in plan) return { kind: 'failed', error: plan.error };
    const { target, toVersion } = plan;
    const reason = `${req.reason} (requested by ${req.requestedBy})`;
    const result = await rollbackTo(lane.state.environment, target, toVersion, reason);
    const restored = lane.rolledBack(req, toVersion, result.version);
    // The environment's tag follows the rollback, when the lane knows the image it returned to.
    const tagged =
      target.imageTag && restored?.image.includes('@sha256:') && patched(patches.environmentImageTags)
        ? await pointImageTag(target.imageTag, restored.image)
        : {};
    return {
      kind: 'healthy',
      deploymentId: result.deploymentId,
      version: result.version,
      previousVersion: toVersion,
      ...tagged,
    };
  } catch (err) {
    return { kind: 'failed', error: describeError(err) };
  }
}

/**
 * Points the environment's registry tag at `image` (repository@sha256:…). Best effort: the
 * environment runs the image whatever the registry says, so a failure is a warning.
 */
export async function pointImageTag(tag: string, image: string): Promise<ImageTagResult> {
  try {
    await registryTags.tagImageInRegistry({ digestRef: image, tag });
    return { imageTag: tag };
  } catch (err) {
    const warning = `registry tag "${tag}" still points at the previous image: ${describeError(err)}`;
    log.warn(warning, { image });
    return { warning };
  }
}
