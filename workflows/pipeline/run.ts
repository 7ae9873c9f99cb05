// PipelineRun: every decision a deliveryPipeline makes, as plain deterministic code over its
// status — what the environments are, who decided what, what a deploy outcome means for the
// pipeline. No Temporal calls and no clock of its own (the shell passes one), so it is unit-tested
// without a server and the workflow shell only wires messages, timers and activities to it.
import type {
  ApprovalRequest,
  ApprovalRule,
  DecisionChannel,
  DecisionRecord,
  DeployOutcome,
  DeployProgress,
  EnvironmentStatus,
  PipelineInput,
  PipelinePlan,
  PipelineState,
  PipelineStatus,
  RejectionRequest,
} from '../../common/contract';
import { mergeIdentities, refusalReason, type DecisionKind } from './approval-rules';
import { DecisionBook } from './decision-book';
import { FreezeBook } from './freeze-rules';

export type { DecisionKind };
export type Decision = ApprovalRequest | RejectionRequest;
export type DeploymentReport = 'running' | 'success' | 'failed' | 'canceled';

/** Ends the pipeline in a named final state other than failed. */
export class PipelineStop extends Error {
  constructor(
    readonly state: PipelineState,
    message: string,
  ) {
    super(message);
  }
}

/** A deploy that failed the pipeline: the message and the failure type the workflow ends with. */
export class DeployFailure extends Error {
  constructor(
    message: string,
    readonly type: 'DeployRolledBack' | 'DeployFailed' | 'DeployCancelled',
    /** DeployRolledBack: the Marathon version the environment returned to. */
    readonly rolledBackTo?: string,
  ) {
    super(message);
  }
}

export class PipelineRun {
  readonly status: PipelineStatus;
  /**
   * Pipelines of one service are ordered by when they started: an older one never overtakes. A
   * promotion takes its build's order (promotion-plan.ts).
   */
  order: number;
  /** Bound into verified decisions: one signed for another run of this workflow ID is refused. */
  readonly runId: string;
  private readonly decisions = new DecisionBook();
  private readonly outcomes = new Map<string, DeployOutcome>();
  private supersededBy: string | undefined;
  /** Freeze windows that hold environments, and the overrides approvers sent. */
  readonly freezes: FreezeBook;

  constructor(
    readonly input: PipelineInput,
    started: { workflowId: string; runId: string; startTime: Date },
    private readonly clock: () => Date,
    /** Approval rules by stable identities (patch `approver-identities`); false replays older pipelines. */
    private readonly stableIdentities = true,
  ) {
    this.runId = started.runId;
    this.order = started.startTime.getTime();
    this.status = {
      workflowId: started.workflowId,
      service: input.service,
      commit: input.commit,
      ref: input.ref,
      trigger: input.trigger,
      author: input.author,
      ...(input.changedBy ? { changedBy: input.changedBy } : {}),
      committedAt: input.committedAt,
      state: 'planning',
      build: {},
      environments: [],
      decisions: [],
      startedAt: started.startTime.toISOString(),
    };
    this.freezes = new FreezeBook(
      this.status,
      () => this.now(),
      () => this.authorship,
    );
  }

  now(): string {
    return this.clock().toISOString();
  }

  get workflowId(): string {
    return this.status.workflowId;
  }

  /** The GitLab project to report to; manual runs report nowhere. */
  get gitlabProject(): string | undefined {
    if (this.input.promotion) return this.status.promotion?.project;
    return this.input.trigger.kind === 'manual' ? undefined : this.input.trigger.project;
  }

  setState(state: PipelineState): void {
    this.status.state = state;
  }

  planned(plan: PipelinePlan): void {
    this.status.environments = plan.environments.map((e) => ({
      name: e.name,
      state: 'pending',
      appId: e.appId,
      marathonUrl: e.marathonUrl,
      approval: e.approval,
    }));
  }

  environment(name: string): EnvironmentStatus {
    const env = this.status.environments.find((e) => e.name === name);
    if (!env) throw new Error(`environment "${name}" is not in this pipeline's plan`);
    return env;
  }

  /** The environment the pipeline works on or waits for, else the last one that became healthy. */
  focusEnvironment(): string {
    const envs = this.status.environments;
    const active = envs.find((e) => ['waiting-approval', 'deploying', 'verifying', 'frozen'].includes(e.state));
    return active?.name ?? [...envs].reverse().find((e) => e.state === 'healthy')?.name ?? '';
  }

  // --- approvals -------------------------------------------------------------------------------

  /** The checkout names the head commit's author: one more identity behind the change. */
  learnAuthor(email: string | undefined): void {
    if (email) this.status.changedBy = mergeIdentities(this.status.changedBy, { emails: [email] });
  }

  /** Why a decision cannot count now; undefined when it can. The Update validators' answer. */
  refusal(kind: DecisionKind, decision: Decision): string | undefined {
    return (
      refusalReason(kind, decision, this.status.environments, this.authorship) ??
      this.decisions.conflict(kind, decision.environment, decision.approver, this.required(decision.environment))
    );
  }

  private get authorship() {
    const { changedBy, author } = this.status;
    return { changedBy, author, stableIdentities: this.stableIdentities };
  }

  private required(environment: string): number {
    return this.environment(environment).approval?.required ?? 1;
  }

  /** A decision as received: refused, or waiting for its attestation check when it carries one. */
  receiveDecision(kind: DecisionKind, decision: Decision, channel: DecisionChannel): DecisionRecord {
    const refusal = this.refusal(kind, decision);
    return {
      kind,
      environment: String(decision?.environment ?? ''),
      approver: String(decision?.approver ?? ''),
      comment: kind === 'approve' ? (decision as ApprovalRequest).comment : undefined,
      reason: kind === 'reject' ? (decision as RejectionRequest).reason : undefined,
      at: this.now(),
      channel: decision?.attestation ? 'api' : channel,
      verified: false,
      accepted: !refusal,
      refusal,
    };
  }

  /**
   * Records a decision once its attestation (if any) was checked. Checked again here because
   * another decision may have landed while the attestation was being verified.
   */
  recordDecision(record: DecisionRecord, attestationValid?: boolean): DecisionRecord {
    if (attestationValid !== undefined) {
      record.verified = attestationValid;
      if (!attestationValid) {
        record.accepted = false;
        record.refusal = 'the attestation does not match this decision (not signed by this Slipway installation)';
      }
    }
    const required = record.accepted ? this.required(record.environment) : 0;
    const conflict = record.accepted
      ? this.decisions.conflict(record.kind, record.environment, record.approver, required)
      : undefined;
    if (conflict) {
      record.accepted = false;
      record.refusal = conflict;
    }
    this.status.decisions.push(record);
    if (record.accepted) {
      this.decisions.accept(record);
      const approval = this.environment(record.environment).approval;
      if (approval && record.kind === 'approve')
        approval.approvedBy = [...(approval.approvedBy ?? []), record.approver];
    }
    return record;
  }

  startWaiting(name: string, rule: ApprovalRule): void {
    const env = this.environment(name);
    const now = this.clock();
    env.state = 'waiting-approval';
    env.approval = {
      ...rule,
      waitingSince: now.toISOString(),
      deadline: new Date(now.getTime() + rule.timeoutSeconds * 1000).toISOString(),
    };
    this.status.state = 'waiting-approval';
  }

  /** True once the gate for `name` has something to act on: a decision, or a newer pipeline. */
  gateSettled(name: string): boolean {
    return this.decided(name) !== undefined || this.supersededBy !== undefined;
  }

  private decided(name: string): DecisionRecord | undefined {
    return this.decisions.decided(name, this.required(name));
  }

  /** What the approval gate for `name` ends with: undefined to go on, else why the pipeline stops. */
  gateVerdict(name: string, rule: ApprovalRule, decided: boolean): PipelineStop | undefined {
    const env = this.environment(name);
    const decision = this.decided(name);
    let stop: PipelineStop | undefined;
    if (this.supersededBy !== undefined && !decision) {
      stop = new PipelineStop(
        'superseded',
        `superseded by ${this.supersededBy} while waiting for approval into ${name}`,
      );
    } else if (!decided || !decision) {
      stop = new PipelineStop(
        'approval-expired',
        `no decision for ${name} within ${formatSeconds(rule.timeoutSeconds)}`,
      );
    } else if (decision.kind === 'reject') {
      const reason = decision.reason ? `: ${decision.reason}` : '';
      stop = new PipelineStop('rejected', `${name} rejected by ${decision.approver}${reason}`);
    }
    if (stop) env.state = 'skipped';
    return stop;
  }

  /** A lane says a newer pipeline waits for (or reached) one of our environments. */
  supersede(by: string): void {
    this.supersededBy ??= by;
  }

  /** The newer pipeline a "superseded" note names, while the gate for `name` has no decision. */
  supersedeClaim(name: string): string | undefined {
    return this.decided(name) ? undefined : this.supersededBy;
  }

  /** A "superseded" note the lane does not confirm: forgotten. */
  dropSupersede(): void {
    this.supersededBy = undefined;
  }

  // --- deploys ----------------------------------------------------------------------------------

  startDeploy(name: string): void {
    const env = this.environment(name);
    env.state = 'deploying';
    env.startedAt = this.now();
    this.status.state = 'deploying';
    this.outcomes.delete(name);
  }

  /** Deploying into `name`, or verifying what was deployed there: a cancel must undo it. */
  deployInFlight(name: string): boolean {
    const state = this.environment(name).state;
    return state === 'deploying' || state === 'verifying';
  }

  /** The lane's note that the Marathon deployment started; false when it is not for this run. */
  applyProgress(progress: DeployProgress): boolean {
    const env = this.status.environments.find((e) => e.name === progress.environment);
    if (!env || progress.pipelineId !== this.workflowId) return false;
    env.deploymentId = progress.deploymentId;
    env.version = progress.version;
    env.previousVersion = progress.previousVersion;
    // Healthy, now verified (config `verify`): only while the deploy is still open here.
    if (progress.verifying && env.state === 'deploying') {
      env.state = 'verifying';
      env.verifyingUntil = progress.verifying.until;
    }
    return true;
  }

  receiveOutcome(environment: string, outcome: DeployOutcome): void {
    this.outcomes.set(environment, outcome);
  }

  /** An answer the lane does not confirm: forgotten, as if it never came. */
  dropOutcome(name: string): void {
    this.outcomes.delete(name);
  }

  hasOutcome(name: string): boolean {
    return this.outcomes.has(name);
  }

  /**
   * Applies the lane's answer to the deploy into `name`. Returns the GitLab deployment state to
   * report and, unless the environment is now healthy, the error that ends the pipeline.
   */
  applyOutcome(name: string): { report?: DeploymentReport; failure?: DeployFailure | PipelineStop } {
    const env = this.environment(name);
    const outcome = this.outcomes.get(name);
    if (!outcome) throw new Error(`no deploy outcome for ${name} yet`);
    env.finishedAt = this.now();
    switch (outcome.kind) {
      case 'healthy':
        Object.assign(env, {
          state: 'healthy',
          deploymentId: outcome.deploymentId,
          version: outcome.version,
          previousVersion: outcome.previousVersion,
          ...(outcome.imageTag ? { imageTag: outcome.imageTag } : {}),
          ...(outcome.warning ? { warning: outcome.warning } : {}),
          ...(outcome.live ? { live: outcome.live } : {}),
        });
        return { report: 'success' };
      case 'rolled-back': {
        Object.assign(env, { state: 'rolled-back', error: outcome.error });
        const to = outcome.rolledBackTo ?? '(no earlier version)';
        return {
          report: 'failed',
          failure: new DeployFailure(
            `${name}: ${outcome.error}; rolled back to ${to}`,
            'DeployRolledBack',
            outcome.rolledBackTo ?? undefined,
          ),
        };
      }
      case 'failed':
        Object.assign(env, { state: 'failed', error: outcome.error });
        return { report: 'failed', failure: new DeployFailure(`${name}: ${outcome.error}`, 'DeployFailed') };
      case 'refused':
        Object.assign(env, { state: 'skipped', error: outcome.reason });
        this.supersededBy = outcome.newerPipelineId;
        return { report: 'canceled', failure: new PipelineStop('superseded', `${name}: ${outcome.reason}`) };
      case 'cancelled':
        Object.assign(env, { state: 'rolled-back', error: 'cancelled' });
        return { failure: new DeployFailure(`${name}: deploy cancelled`, 'DeployCancelled') };
    }
  }

  /** After a cancellation: what the lane did with our in-flight deploy (undefined: it never said). */
  applyCancelledDeploy(name: string, confirmed: boolean): void {
    const env = this.environment(name);
    const outcome = this.outcomes.get(name);
    if (!confirmed || !outcome) {
      env.state = 'failed';
      env.error = 'cancelled; the lane did not confirm the rollback within 30 minutes';
    } else if (outcome.kind === 'healthy') env.state = 'healthy';
    else if (outcome.kind === 'cancelled') env.state = outcome.rolledBackTo || !env.version ? 'rolled-back' : 'failed';
    else env.state = outcome.kind === 'refused' ? 'skipped' : outcome.kind;
    env.finishedAt = this.now();
  }

  // --- the end ----------------------------------------------------------------------------------

  /** Environments never reached are skipped, whatever ended the pipeline. */
  skipPending(): void {
    for (const e of this.status.environments)
      if (e.state === 'pending' || e.state === 'waiting-approval' || e.state === 'frozen') e.state = 'skipped';
  }

  /** The moment the pipeline stopped working, before any clean-up after a failure. */
  ended(): void {
    this.status.finishedAt = this.now();
  }

  /** The final state, and for anything but success the error that explains it. */
  finish(state: PipelineState, error?: string): void {
    if (error !== undefined) this.status.error = error;
    if (state === 'superseded') this.status.supersededBy = this.supersededBy;
    this.status.state = state;
  }
}

export function formatSeconds(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
