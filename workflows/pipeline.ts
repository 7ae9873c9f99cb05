// deliveryPipeline: one per (service, commit). Builds and pushes once, then walks the image digest
// through the environment chain — approval gate where configured, deploy through the
// environment's lane, wait healthy — and stops at the first environment that fails, is rejected,
// times out waiting or is superseded. Everything a person needs to see is in the `status` query,
// the search attributes and the current-details Markdown the Temporal UI shows.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { CommitAttribute, EnvironmentAttribute, ServiceAttribute, StateAttribute } from '../common/search-attributes';
import type {
  ApprovalRequest,
  DecisionChannel,
  DecisionRecord,
  EnvironmentStatus,
  PipelineInput,
  PipelineState,
  PipelineStatus,
  RejectionRequest,
} from '../common/types';
import type { EnvironmentPlan, PipelinePlan } from '../activities/plan';
import { buildClaim, buildHost, pushAttempts, quick as quickRemote, quickLocal, reporting } from './activities';
import { refusalReason } from './approval';
import { describePipeline } from './details';
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
  type DeployOutcome,
} from './messages';

/** Ends the pipeline in a named final state other than failed. */
class PipelineStop extends Error {
  constructor(
    readonly state: PipelineState,
    message: string,
  ) {
    super(message);
  }
}

const maxBuildHosts = 3;

export async function deliveryPipeline(input: PipelineInput): Promise<PipelineStatus> {
  const info = workflowInfo();
  // Orchestration v2 saves server round trips (each costs ~45 ms on the dev server): planning,
  // rendering and lane requests run as local activities inside the workflow task that needs them,
  // and the build folder is removed while the deploys go on. Decided first, before any handler
  // can run; pipelines started before v2 replay with the steps they took.
  const v2 = patched('orchestration-v2');
  const quick = v2 ? quickLocal : quickRemote;
  const cleanups: Promise<unknown>[] = [];
  const settle = async () => {
    await Promise.all(cleanups);
    await condition(allHandlersFinished);
  };
  const now = () => new Date().toISOString();
  const status: PipelineStatus = {
    workflowId: info.workflowId,
    service: input.service,
    commit: input.commit,
    ref: input.ref,
    trigger: input.trigger,
    author: input.author,
    committedAt: input.committedAt,
    state: 'planning',
    build: {},
    environments: [],
    decisions: [],
    startedAt: info.startTime.toISOString(),
  };
  // Pipelines of one service are ordered by when they started: an older one never overtakes.
  const order = info.startTime.getTime();
  const outcomes = new Map<string, DeployOutcome>();
  const decisions = new Map<string, DecisionRecord>();
  let supersededBy: string | undefined;
  let project: string | undefined;

  const publish = () => {
    const waiting = status.environments.find((e) => e.state === 'waiting-approval' || e.state === 'deploying');
    upsertSearchAttributes([
      { key: StateAttribute, value: status.state },
      {
        key: EnvironmentAttribute,
        value: waiting?.name ?? [...status.environments].reverse().find((e) => e.state === 'healthy')?.name ?? '',
      },
    ]);
    setCurrentDetails(describePipeline(status));
  };
  const setState = (state: PipelineState) => {
    status.state = state;
    publish();
  };
  const env = (name: string) => status.environments.find((e) => e.name === name) as EnvironmentStatus;

  // --- messages: registered first, so messages buffered before the first task are seen ---------
  setHandler(statusQuery, () => status, { description: messageDescriptions.status });

  const decide = async (
    kind: 'approve' | 'reject',
    req: ApprovalRequest | RejectionRequest,
    channel: DecisionChannel,
  ): Promise<DecisionRecord> => {
    const refusal = refusalReason(kind, req, status.environments, input.author);
    const record: DecisionRecord = {
      kind,
      environment: String(req?.environment ?? ''),
      approver: String(req?.approver ?? ''),
      comment: kind === 'approve' ? (req as ApprovalRequest).comment : undefined,
      reason: kind === 'reject' ? (req as RejectionRequest).reason : undefined,
      at: now(),
      channel: req?.attestation ? 'api' : channel,
      verified: false,
      accepted: !refusal,
      refusal,
    };
    if (!refusal && req.attestation) {
      record.verified = await quick.verifyDecisionAttestation({
        workflowId: info.workflowId,
        kind,
        environment: record.environment,
        approver: record.approver,
        attestation: req.attestation,
      });
      if (!record.verified) {
        record.accepted = false;
        record.refusal = 'the attestation does not match this decision (not signed by this Slipway installation)';
      }
    }
    // Re-check after the await: another decision may have landed meanwhile.
    if (record.accepted && decisions.has(record.environment)) {
      record.accepted = false;
      record.refusal = `${record.environment} was already decided by ${decisions.get(record.environment)?.approver}`;
    }
    status.decisions.push(record);
    if (record.accepted) decisions.set(record.environment, record);
    publish();
    return record;
  };
  const validate = (kind: 'approve' | 'reject') => (req: ApprovalRequest | RejectionRequest) => {
    const refusal = refusalReason(kind, req, status.environments, input.author);
    if (refusal) throw new Error(refusal);
  };
  setHandler(approveSignal, async (req) => void (await decide('approve', req, 'signal')), {
    description: messageDescriptions.approve,
  });
  setHandler(rejectSignal, async (req) => void (await decide('reject', req, 'signal')), {
    description: messageDescriptions.reject,
  });
  setHandler(
    approveUpdate,
    async (req) => {
      const record = await decide('approve', req, 'update');
      if (!record.accepted) throw ApplicationFailure.nonRetryable(record.refusal ?? 'refused', 'DecisionRefused');
      return record;
    },
    { validator: validate('approve'), description: messageDescriptions.approvePromotion },
  );
  setHandler(
    rejectUpdate,
    async (req) => {
      const record = await decide('reject', req, 'update');
      if (!record.accepted) throw ApplicationFailure.nonRetryable(record.refusal ?? 'refused', 'DecisionRefused');
      return record;
    },
    { validator: validate('reject'), description: messageDescriptions.rejectPromotion },
  );
  setHandler(deployProgressSignal, (p) => {
    const e = status.environments.find((x) => x.name === p.environment);
    if (!e || p.pipelineId !== info.workflowId) return;
    Object.assign(e, { deploymentId: p.deploymentId, version: p.version, previousVersion: p.previousVersion });
    publish();
  });
  setHandler(deployFinishedSignal, ({ environment, outcome }) => void outcomes.set(environment, outcome));
  setHandler(supersededSignal, ({ by }) => {
    supersededBy ??= by;
  });

  // --- GitLab reporting: best effort, never fails the delivery --------------------------------
  const reportStatus = async (
    state: 'pending' | 'running' | 'success' | 'failed' | 'canceled',
    description: string,
  ) => {
    if (!project) return;
    await reporting
      .reportCommitStatus({
        project,
        sha: input.commit,
        ref: refName(input.ref),
        state,
        description,
        targetUrl: undefined,
        name: 'slipway',
      })
      .catch((err: unknown) => log.warn('GitLab commit status not reported', { error: (err as Error).message }));
  };
  const gitlabDeployments = new Map<string, number>();
  const reportDeployment = async (environment: string, deployStatus: 'running' | 'success' | 'failed' | 'canceled') => {
    if (!project || !input.ref) return;
    try {
      const result = await reporting.reportDeployment({
        project,
        sha: input.commit,
        ref: refName(input.ref) ?? input.ref,
        tag: input.ref.startsWith('refs/tags/'),
        environment,
        status: deployStatus,
        deploymentId: gitlabDeployments.get(environment),
      });
      if (result) gitlabDeployments.set(environment, result.deploymentId);
    } catch (err) {
      log.warn('GitLab deployment not reported', { environment, error: (err as Error).message });
    }
  };

  let current: EnvironmentPlan | undefined;
  try {
    upsertSearchAttributes([
      { key: ServiceAttribute, value: input.service },
      { key: CommitAttribute, value: input.commit },
    ]);
    publish();
    // GitLab shows the commit as pending from the moment the webhook was taken. Pipelines that
    // started before this step existed replay without it.
    if (patched('gitlab-pending-status')) {
      project = input.trigger.kind === 'manual' ? undefined : input.trigger.project;
      await reportStatus('pending', 'queued');
    }
    const plan = await quick.planPipeline({ service: input.service, commit: input.commit });
    project = input.trigger.kind === 'manual' ? undefined : input.trigger.project;
    status.environments = plan.environments.map((e) => ({
      name: e.name,
      state: 'pending',
      appId: e.appId,
      marathonUrl: e.marathonUrl,
      approval: e.approval,
    }));
    await reportStatus('running', 'building');

    setState('building');
    status.image = await build(plan);

    for (const envPlan of plan.environments) {
      current = envPlan;
      if (envPlan.approval) await approvalGate(envPlan);
      await deploy(envPlan, status.image);
    }
    current = undefined;
    status.finishedAt = now();
    setState('succeeded');
    await reportStatus('success', `delivered to ${plan.environments.map((e) => e.name).join(', ')}`);
  } catch (err) {
    status.finishedAt = now();
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        if (current && env(current.name)?.state === 'deploying') await undoInFlightDeploy(current);
        for (const e of status.environments)
          if (e.state === 'pending' || e.state === 'waiting-approval') e.state = 'skipped';
        status.error = 'cancelled';
        setState('cancelled');
        await reportStatus('canceled', 'cancelled');
      });
      await settle();
      throw err;
    }
    for (const e of status.environments)
      if (e.state === 'pending' || e.state === 'waiting-approval') e.state = 'skipped';
    if (err instanceof PipelineStop) {
      status.error = err.message;
      if (err.state === 'superseded') status.supersededBy = supersededBy;
      setState(err.state);
      await reportStatus(err.state === 'superseded' ? 'canceled' : 'failed', err.message);
      await settle();
      return status;
    }
    status.error = describeError(err);
    setState('failed');
    await reportStatus('failed', status.error);
    await settle();
    throw ApplicationFailure.nonRetryable(
      `${input.service}@${input.commit.slice(0, 12)}: ${status.error}`,
      'PipelineFailed',
    );
  }
  await settle();
  return status;

  // --- steps -----------------------------------------------------------------------------------

  async function build(plan: PipelinePlan): Promise<string> {
    status.build.startedAt = now();
    for (let attempt = 1; ; attempt++) {
      const host = await buildClaim.claimBuildHost();
      status.build.host = host.hostId;
      publish();
      const steps = buildHost(host.taskQueue);
      try {
        const buildId = `${info.workflowId.replace(/[^\w.-]+/g, '_')}-${info.runId.slice(0, 8)}`;
        const source = await steps.checkoutSource({ buildId, repoUrl: plan.repository, commit: input.commit });
        try {
          const built = await steps.buildImage({
            buildId,
            workdir: source.workdir,
            service: plan.service,
            type: plan.type,
            pipelineId: info.workflowId,
            commit: input.commit,
            repository: plan.imageRepository,
            tag: plan.tag,
            baseImages: plan.baseImages,
            port: plan.port,
            ...plan.build,
          });
          status.build.image = built.image;
          status.build.durationMs = built.durationMs;
          const pushed = await buildHost(host.taskQueue, pushAttempts).pushImage({ image: built.image });
          status.build.digestRef = pushed.digestRef;
          status.build.finishedAt = now();
          status.committedAt ??= source.committedAt;
          return pushed.digestRef;
        } finally {
          const cleanup = CancellationScope.nonCancellable(() =>
            steps.removeWorkdir({ workdir: source.workdir }),
          ).catch(() => undefined);
          if (v2) cleanups.push(cleanup);
          else await cleanup;
        }
      } catch (err) {
        // A build host that vanished (schedule-to-start or heartbeat timeout) is replaced by another.
        if (isCancellation(err) || isNonRetryable(err) || attempt >= maxBuildHosts) throw err;
        log.warn('build host failed; claiming another', { host: host.hostId, attempt, error: describeError(err) });
      }
    }
  }

  async function approvalGate(envPlan: EnvironmentPlan): Promise<void> {
    const e = env(envPlan.name);
    const rule = envPlan.approval!;
    e.state = 'waiting-approval';
    e.approval = {
      ...rule,
      waitingSince: now(),
      deadline: new Date(Date.now() + rule.timeoutSeconds * 1000).toISOString(),
    };
    setState('waiting-approval');
    await quick.announceApprovalWait({
      service: input.service,
      environment: envPlan.name,
      pipelineId: info.workflowId,
      order,
    });
    const decided = await condition(
      () => decisions.has(envPlan.name) || supersededBy !== undefined,
      rule.timeoutSeconds * 1000,
    );
    await quick.announceApprovalWait({
      service: input.service,
      environment: envPlan.name,
      pipelineId: info.workflowId,
      order,
      done: true,
    });
    if (supersededBy !== undefined && !decisions.has(envPlan.name)) {
      e.state = 'skipped';
      throw new PipelineStop(
        'superseded',
        `superseded by ${supersededBy} while waiting for approval into ${envPlan.name}`,
      );
    }
    if (!decided) {
      e.state = 'skipped';
      throw new PipelineStop(
        'approval-expired',
        `no decision for ${envPlan.name} within ${formatSeconds(rule.timeoutSeconds)}`,
      );
    }
    const decision = decisions.get(envPlan.name)!;
    if (decision.kind === 'reject') {
      e.state = 'skipped';
      throw new PipelineStop(
        'rejected',
        `${envPlan.name} rejected by ${decision.approver}${decision.reason ? `: ${decision.reason}` : ''}`,
      );
    }
  }

  async function deploy(envPlan: EnvironmentPlan, image: string): Promise<void> {
    const e = env(envPlan.name);
    e.state = 'deploying';
    e.startedAt = now();
    setState('deploying');
    await reportDeployment(envPlan.name, 'running');
    const app = await quick.renderMarathonApp({
      service: input.service,
      environment: envPlan.name,
      image,
      pipelineId: info.workflowId,
      commit: input.commit,
    });
    outcomes.delete(envPlan.name);
    await quick.requestDeploy({
      service: input.service,
      environment: envPlan.name,
      request: {
        pipelineId: info.workflowId,
        order,
        commit: input.commit,
        image,
        marathonUrl: envPlan.marathonUrl,
        app,
        healthTimeoutSeconds: envPlan.healthTimeoutSeconds,
        forceOverForeignDeployment: envPlan.forceOverForeignDeployments,
        ...(envPlan.imageTag ? { imageTag: envPlan.imageTag } : {}),
      },
    });
    await condition(() => outcomes.has(envPlan.name));
    const outcome = outcomes.get(envPlan.name)!;
    e.finishedAt = now();
    switch (outcome.kind) {
      case 'healthy':
        Object.assign(e, {
          state: 'healthy',
          deploymentId: outcome.deploymentId,
          version: outcome.version,
          previousVersion: outcome.previousVersion,
          ...(outcome.imageTag ? { imageTag: outcome.imageTag } : {}),
          ...(outcome.warning ? { warning: outcome.warning } : {}),
        });
        publish();
        await reportDeployment(envPlan.name, 'success');
        return;
      case 'rolled-back':
        Object.assign(e, { state: 'rolled-back', error: outcome.error });
        await reportDeployment(envPlan.name, 'failed');
        throw ApplicationFailure.nonRetryable(
          `${envPlan.name}: ${outcome.error}; rolled back to ${outcome.rolledBackTo ?? '(no earlier version)'}`,
          'DeployRolledBack',
        );
      case 'failed':
        Object.assign(e, { state: 'failed', error: outcome.error });
        await reportDeployment(envPlan.name, 'failed');
        throw ApplicationFailure.nonRetryable(`${envPlan.name}: ${outcome.error}`, 'DeployFailed');
      case 'refused':
        Object.assign(e, { state: 'skipped', error: outcome.reason });
        await reportDeployment(envPlan.name, 'canceled');
        supersededBy = outcome.newerPipelineId;
        throw new PipelineStop('superseded', `${envPlan.name}: ${outcome.reason}`);
      case 'cancelled':
        Object.assign(e, { state: 'rolled-back', error: 'cancelled' });
        throw ApplicationFailure.nonRetryable(`${envPlan.name}: deploy cancelled`, 'DeployCancelled');
    }
  }

  /** Cancellation while deploying: the lane rolls our deploy back; wait (bounded) for its word. */
  async function undoInFlightDeploy(envPlan: EnvironmentPlan): Promise<void> {
    const e = env(envPlan.name);
    await quick.cancelDeploy({ service: input.service, environment: envPlan.name, pipelineId: info.workflowId });
    if (await condition(() => outcomes.has(envPlan.name), '30m')) {
      const outcome = outcomes.get(envPlan.name)!;
      if (outcome.kind === 'healthy') e.state = 'healthy';
      else if (outcome.kind === 'cancelled') e.state = outcome.rolledBackTo || !e.version ? 'rolled-back' : 'failed';
      else e.state = outcome.kind === 'refused' ? 'skipped' : outcome.kind;
    } else {
      e.state = 'failed';
      e.error = 'cancelled; the lane did not confirm the rollback within 30 minutes';
    }
    e.finishedAt = now();
    await reportDeployment(envPlan.name, 'canceled');
  }
}

function isNonRetryable(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable === true;
}

function describeError(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

function refName(ref: string | undefined): string | undefined {
  return ref?.replace(/^refs\/(heads|tags)\//, '');
}

function formatSeconds(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
