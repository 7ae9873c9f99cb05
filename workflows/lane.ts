// environmentLane: one long-lived workflow per (service, environment) that owns that Marathon app.
// It runs one deploy at a time, knows what runs there now and what ran before (the rollback
// target), refuses an image older than the one running, lets a newer request supersede an older
// queued one, and tells older pipelines waiting for approval here that a newer one has arrived.
// Continue-as-new keeps its history short; its state travels along.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { NonRetryable } from '../common/errors';
import { marathon, registryTags } from './activities';
import {
  awaitingApprovalSignal,
  cancelDeploySignal,
  deployFinishedSignal,
  deployProgressSignal,
  deployRequestSignal,
  laneQuery,
  rollbackFinishedSignal,
  rollbackRequestSignal,
  supersededSignal,
  type DeployOutcome,
  type DeployRequest,
  type ImageTagResult,
  type LaneState,
  type RollbackRequest,
} from './messages';

export interface LaneInput {
  service: string;
  environment: string;
  state?: LaneState;
  /** Recent outcomes by pipeline, so a re-sent request gets its answer again instead of a second deploy. */
  answered?: Record<string, DeployOutcome>;
}

const historyLimit = 20;
const answeredLimit = 50;

export async function environmentLane(input: LaneInput): Promise<void> {
  const state: LaneState = input.state ?? {
    service: input.service,
    environment: input.environment,
    history: [],
    queue: [],
    waitingApproval: [],
  };
  const answered: Record<string, DeployOutcome> = input.answered ?? {};
  const requests = new Map<string, DeployRequest>();
  const rollbacks: RollbackRequest[] = [];
  let inFlightScope: CancellationScope | undefined;
  let inFlightCancelled = false;

  const reply = async (pipelineId: string, outcome: DeployOutcome) => {
    answered[pipelineId] = outcome;
    const keys = Object.keys(answered);
    if (keys.length > answeredLimit) delete answered[keys[0] as string];
    try {
      await getExternalWorkflowHandle(pipelineId).signal(deployFinishedSignal, {
        environment: state.environment,
        outcome,
      });
    } catch (err) {
      log.warn('pipeline is gone; outcome kept in the lane', { pipelineId, error: (err as Error).message });
    }
  };

  const supersedeWaitersOlderThan = (order: number, by: string) => {
    const older = state.waitingApproval.filter((w) => w.order < order && w.pipelineId !== by);
    state.waitingApproval = state.waitingApproval.filter((w) => !older.includes(w));
    for (const w of older) {
      void getExternalWorkflowHandle(w.pipelineId)
        .signal(supersededSignal, { environment: state.environment, by })
        .catch(() => undefined);
    }
  };

  setHandler(laneQuery, () => state, {
    description: 'What runs in this environment now, what ran before, and what is queued.',
  });

  setHandler(deployRequestSignal, async (req) => {
    const previous = answered[req.pipelineId];
    if (previous) return reply(req.pipelineId, previous);
    if (requests.has(req.pipelineId) || state.inFlight?.pipelineId === req.pipelineId) return; // duplicate delivery
    if (state.current && req.order < state.current.order) {
      return reply(req.pipelineId, {
        kind: 'refused',
        reason: `${state.current.pipelineId} (commit ${state.current.commit.slice(0, 12)}) is newer and already runs in ${state.environment}`,
        newerPipelineId: state.current.pipelineId,
      });
    }
    // A newer request supersedes older ones still queued: deploying them first would be wasted work.
    for (const queued of state.queue.filter((q) => q.order < req.order)) {
      state.queue = state.queue.filter((q) => q !== queued);
      requests.delete(queued.pipelineId);
      await reply(queued.pipelineId, {
        kind: 'refused',
        reason: `superseded in the queue by ${req.pipelineId}`,
        newerPipelineId: req.pipelineId,
      });
    }
    requests.set(req.pipelineId, req);
    state.queue.push({ pipelineId: req.pipelineId, order: req.order, commit: req.commit });
    state.queue.sort((a, b) => a.order - b.order);
  });

  setHandler(cancelDeploySignal, async ({ pipelineId }) => {
    if (state.inFlight?.pipelineId === pipelineId) {
      inFlightCancelled = true;
      inFlightScope?.cancel();
      return;
    }
    state.queue = state.queue.filter((q) => q.pipelineId !== pipelineId);
    requests.delete(pipelineId);
    // Answer even when nothing was queued, so the cancelling pipeline never waits in vain.
    await reply(pipelineId, answered[pipelineId] ?? { kind: 'cancelled', rolledBackTo: null });
    state.waitingApproval = state.waitingApproval.filter((w) => w.pipelineId !== pipelineId);
  });

  setHandler(awaitingApprovalSignal, ({ pipelineId, order, done }) => {
    state.waitingApproval = state.waitingApproval.filter((w) => w.pipelineId !== pipelineId);
    if (done) return;
    // An older pipeline arriving after a newer one (already here, or already deployed) is superseded at once.
    const newer =
      state.waitingApproval.find((w) => w.order > order)?.pipelineId ??
      (state.current && order < state.current.order ? state.current.pipelineId : undefined);
    if (newer) {
      void getExternalWorkflowHandle(pipelineId)
        .signal(supersededSignal, { environment: state.environment, by: newer })
        .catch(() => undefined);
      return;
    }
    supersedeWaitersOlderThan(order, pipelineId);
    state.waitingApproval.push({ pipelineId, order });
  });

  setHandler(rollbackRequestSignal, (req) => {
    if (!rollbacks.some((r) => r.requestId === req.requestId)) rollbacks.push(req);
  });

  const isHealthTimeout = (err: unknown) =>
    err instanceof ActivityFailure &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === NonRetryable.HealthTimeout;
  const message = (err: unknown) =>
    err instanceof ActivityFailure && err.cause ? err.cause.message : err instanceof Error ? err.message : String(err);

  /** Returns to `toVersion` in non-cancellable scope: a rollback must finish even while cancelling. */
  const rollbackTo = (req: DeployRequest, toVersion: string, reason: string) =>
    CancellationScope.nonCancellable(() =>
      marathon.rollbackMarathonApp({
        marathonUrl: req.marathonUrl,
        environment: state.environment,
        appId: String(req.app.id),
        toVersion,
        timeoutSeconds: req.healthTimeoutSeconds,
        reason,
      }),
    );

  /**
   * Points the environment's registry tag at `image` (repository@sha256:…). Best effort: the
   * environment runs the image whatever the registry says, so a failure is a warning.
   */
  async function pointImageTag(tag: string, image: string): Promise<ImageTagResult> {
    try {
      await registryTags.tagImageInRegistry({ digestRef: image, tag });
      return { imageTag: tag };
    } catch (err) {
      const warning = `registry tag "${tag}" still points at the previous image: ${message(err)}`;
      log.warn(warning, { image });
      return { warning };
    }
  }

  async function runDeploy(req: DeployRequest): Promise<DeployOutcome> {
    const appId = String(req.app.id);
    let deployed: Awaited<ReturnType<typeof marathon.deployToMarathon>> | undefined;
    inFlightCancelled = false;
    inFlightScope = new CancellationScope();
    try {
      return await inFlightScope.run(async () => {
        deployed = await marathon.deployToMarathon({
          marathonUrl: req.marathonUrl,
          environment: state.environment,
          pipelineId: req.pipelineId,
          app: req.app,
          forceOverForeignDeployment: req.forceOverForeignDeployment,
        });
        const progress = getExternalWorkflowHandle(req.pipelineId)
          .signal(deployProgressSignal, {
            environment: state.environment,
            pipelineId: req.pipelineId,
            deploymentId: deployed.deploymentId,
            version: deployed.version,
            previousVersion: deployed.previousVersion,
          })
          .catch(() => undefined);
        // The progress note need not be delivered before the health wait starts: waiting for it
        // cost two server round trips per deploy. Lanes that ran before keep their order on replay.
        if (!patched('progress-signal-in-parallel')) await progress;
        await marathon.awaitHealthy({
          marathonUrl: req.marathonUrl,
          environment: state.environment,
          appId,
          version: deployed.version,
          deploymentId: deployed.deploymentId,
          timeoutSeconds: req.healthTimeoutSeconds,
        });
        return {
          kind: 'healthy',
          deploymentId: deployed.deploymentId,
          version: deployed.version,
          previousVersion: deployed.previousVersion,
        };
      });
    } catch (err) {
      const cancelled = inFlightCancelled && isCancellation(err);
      if (!cancelled && !isHealthTimeout(err)) {
        // A 422, a refused credential, a foreign lock: Marathon did not take the new version.
        return { kind: 'failed', error: message(err) };
      }
      const previous = deployed?.previousVersion ?? null;
      const reason = cancelled ? `pipeline ${req.pipelineId} was cancelled` : message(err);
      if (deployed && previous && !deployed.unchanged) {
        try {
          await rollbackTo(req, previous, reason);
        } catch (rollbackErr) {
          log.error('rollback failed', { appId, toVersion: previous, error: message(rollbackErr) });
          return { kind: 'failed', error: `${reason}; rollback to ${previous} failed too: ${message(rollbackErr)}` };
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
    } finally {
      inFlightScope = undefined;
    }
  }

  async function runRollback(req: RollbackRequest): Promise<DeployOutcome> {
    const target = state.target;
    if (!target)
      return {
        kind: 'failed',
        error: `${state.service} has never been deployed to ${state.environment} by Slipway: nothing to roll back`,
      };
    const toVersion = req.toVersion ?? state.history[0]?.version;
    if (!toVersion)
      return {
        kind: 'failed',
        error: `no earlier version of ${state.service} in ${state.environment} is known to roll back to`,
      };
    try {
      const result = await CancellationScope.nonCancellable(() =>
        marathon.rollbackMarathonApp({
          marathonUrl: target.marathonUrl,
          environment: state.environment,
          appId: target.appId,
          toVersion,
          timeoutSeconds: target.healthTimeoutSeconds,
          reason: `${req.reason} (requested by ${req.requestedBy})`,
        }),
      );
      const restored = state.history.find((h) => h.version === toVersion);
      if (state.current) state.history.unshift({ ...state.current, outcome: `rolled back by ${req.requestedBy}` });
      state.history = state.history.slice(0, historyLimit);
      state.current = {
        pipelineId: req.requestId,
        order: state.current?.order ?? 0, // keeps refusing pipelines older than what was last promoted
        commit: restored?.commit ?? 'unknown',
        image: restored?.image ?? 'unknown',
        version: result.version,
        since: new Date().toISOString(),
      };
      // The environment's tag follows the rollback, when the lane knows the image it returned to.
      const tagged =
        target.imageTag && restored?.image.includes('@sha256:') && patched('environment-image-tags')
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
      return { kind: 'failed', error: message(err) };
    }
  }

  for (;;) {
    await condition(() => state.queue.length > 0 || rollbacks.length > 0 || workflowInfo().continueAsNewSuggested);
    const rollback = rollbacks.shift();
    if (rollback) {
      state.inFlight = { pipelineId: rollback.requestId, kind: 'rollback', since: new Date().toISOString() };
      const outcome = await runRollback(rollback);
      state.inFlight = undefined;
      if (rollback.replyTo) {
        await getExternalWorkflowHandle(rollback.replyTo)
          .signal(rollbackFinishedSignal, { requestId: rollback.requestId, outcome })
          .catch(() => undefined);
      }
      continue;
    }
    const next = state.queue.shift();
    if (next) {
      const req = requests.get(next.pipelineId);
      requests.delete(next.pipelineId);
      if (!req) continue;
      state.inFlight = { pipelineId: req.pipelineId, kind: 'deploy', since: new Date().toISOString() };
      state.target = {
        marathonUrl: req.marathonUrl,
        appId: String(req.app.id),
        healthTimeoutSeconds: req.healthTimeoutSeconds,
        ...(req.imageTag ? { imageTag: req.imageTag } : {}),
      };
      let outcome = await runDeploy(req);
      // Still in flight while tagging: a cancel arriving now must not be answered "cancelled".
      if (outcome.kind === 'healthy' && req.imageTag && patched('environment-image-tags'))
        outcome = { ...outcome, ...(await pointImageTag(req.imageTag, req.image)) };
      state.inFlight = undefined;
      if (outcome.kind === 'healthy') {
        const since = new Date().toISOString();
        if (state.current) state.history.unshift({ ...state.current, outcome: 'replaced' });
        state.history = state.history.slice(0, historyLimit);
        state.current = {
          pipelineId: req.pipelineId,
          order: req.order,
          commit: req.commit,
          image: req.image,
          version: outcome.version,
          since,
        };
        supersedeWaitersOlderThan(req.order, req.pipelineId);
      }
      await reply(req.pipelineId, outcome);
      continue;
    }
    if (workflowInfo().continueAsNewSuggested && !state.inFlight) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof environmentLane>({
        service: input.service,
        environment: input.environment,
        state,
        answered,
      });
    }
  }
}
