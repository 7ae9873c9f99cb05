// The contract: every shape and message that crosses a boundary between Slipway's parts — workflow
// inputs and results, the status every client reads, approval decisions, the pipeline's plan, the
// lane's requests and outcomes, and the signal/query/update definitions themselves. Workflows,
// activities, the CLI, the webhook server and tests all import it, so none can drift from another.
// Plain serialisable shapes, no Node APIs (it loads inside the workflow sandbox). Nothing here may
// hold a secret: all of it is stored in Temporal's history.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ConfigValue, ServiceType } from './config';

export const taskQueues = {
  /** Deploys, planning, reporting: light work. */
  deploy: 'slipway',
  /** Builds: Docker build hosts claim work here, then run it on their own host queue. */
  build: 'slipway-build',
} as const;

/** The task queue of one build host, so checkout, build and push land on the same Docker daemon. */
export const buildHostQueue = (hostId: string) => `${taskQueues.build}@${hostId}`;

export type Trigger =
  | { kind: 'gitlab-push' | 'gitlab-tag'; deliveryId?: string; project: string; user?: string }
  | { kind: 'manual'; user?: string };

export interface PipelineInput {
  service: string;
  commit: string;
  /** Git ref that carried the commit: refs/heads/main, refs/tags/v1.2. */
  ref?: string;
  trigger: Trigger;
  /** Commit author, for display and lead-time metrics. */
  author?: { name?: string; username?: string; email?: string };
  /**
   * Everyone answerable for the change, by stable identity: the pusher (GitLab user ID and
   * username) and the authors of the pushed commits (emails). The checkout adds the head commit's
   * author. An environment with `authorMayApprove: false` refuses approvals from any of them.
   */
  changedBy?: Identities;
  committedAt?: string;
}

export type EnvironmentState =
  'pending' | 'waiting-approval' | 'deploying' | 'healthy' | 'failed' | 'rolled-back' | 'skipped';

export type PipelineState =
  | 'planning'
  | 'building'
  | 'deploying'
  | 'waiting-approval'
  /** Cancelled, and undoing its in-flight deploy before it ends "cancelled". */
  | 'cancelling'
  | 'succeeded'
  | 'failed'
  | 'rejected'
  | 'approval-expired'
  | 'cancelled'
  | 'superseded';

export const finalPipelineStates: PipelineState[] = [
  'succeeded',
  'failed',
  'rejected',
  'approval-expired',
  'cancelled',
  'superseded',
];

/** How a decision reached the workflow. Only `api` decisions carry a checked attestation. */
export type DecisionChannel = 'signal' | 'update' | 'api';

export interface ApprovalRequest {
  environment: string;
  approver: string;
  comment?: string;
  /** Set by Slipway's HTTP API: HMAC over the decision, checked by an activity against the worker's key. */
  attestation?: string;
  channel?: DecisionChannel;
}

export interface RejectionRequest {
  environment: string;
  approver: string;
  reason?: string;
  attestation?: string;
  channel?: DecisionChannel;
}

export interface DecisionRecord {
  kind: 'approve' | 'reject';
  environment: string;
  approver: string;
  comment?: string;
  reason?: string;
  at: string;
  channel: DecisionChannel;
  /** true when the approver's identity was proven (a valid attestation from the HTTP API). */
  verified: boolean;
  accepted: boolean;
  refusal?: string;
}

/** Stable identities of one person (an approver) or of the people behind a change. */
export interface Identities {
  gitlabUserIds?: number[];
  gitlabUsernames?: string[];
  /** Lowercased. */
  emails?: string[];
}

export interface ApprovalRule {
  /** Who may decide: names, with approver groups already expanded. */
  approvers: string[];
  timeoutSeconds: number;
  authorMayApprove: boolean;
  /** Distinct approvals needed (default 1); one rejection ends the gate whatever this says. */
  required?: number;
  /** Only decisions verified through Slipway's authenticated HTTP API count (default false). */
  requireVerified?: boolean;
  /** Each approver's stable identities (config `identities`), told apart from the change's authors. */
  approverIdentities?: Record<string, Identities>;
}

export interface EnvironmentStatus {
  name: string;
  state: EnvironmentState;
  appId: string;
  marathonUrl: string;
  approval?: ApprovalRule & { waitingSince?: string; deadline?: string; approvedBy?: string[] };
  deploymentId?: string | null;
  version?: string;
  previousVersion?: string | null;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
  /** Registry tag that now points at this pipeline's image (config `imageTag`). */
  imageTag?: string;
  /** Something that went wrong without failing the environment (the registry tag). */
  warning?: string;
  /** Blue/green and canary: the Marathon app that serves the environment now (blue/green: its colour). */
  live?: LiveApp;
  /** While deploying: why Marathon is not launching the tasks (its launch queue), e.g. "waiting for offers: insufficient memory on all 3 agents". */
  waitingReason?: string;
}

export interface BuildStatus {
  host?: string;
  image?: string;
  digestRef?: string;
  durationMs?: number;
  startedAt?: string;
  finishedAt?: string;
}

export interface PipelineStatus {
  workflowId: string;
  service: string;
  commit: string;
  ref?: string;
  trigger: Trigger;
  author?: PipelineInput['author'];
  /** The change's authors as known so far: the webhook's, plus the head commit's from the checkout. */
  changedBy?: Identities;
  committedAt?: string;
  state: PipelineState;
  /** The one image every environment receives: repository@sha256:... */
  image?: string;
  build: BuildStatus;
  environments: EnvironmentStatus[];
  decisions: DecisionRecord[];
  startedAt: string;
  finishedAt?: string;
  error?: string;
  supersededBy?: string;
}

/** The workflow ID of the pipeline for (service, commit): a redelivered webhook finds the same one. */
export function pipelineWorkflowId(service: string, commit: string): string {
  return `pipeline/${service}/${commit}`;
}

/** The long-lived workflow that owns (service, environment) on Marathon. */
export function laneWorkflowId(service: string, environment: string): string {
  return `lane/${service}/${environment}`;
}

// --- the plan: what the deploy config says about one pipeline (recorded once, in history) -------

export interface EnvironmentPlan {
  name: string;
  marathonUrl: string;
  appId: string;
  approval?: ApprovalRule;
  healthTimeoutSeconds: number;
  forceOverForeignDeployments: boolean;
  /** Registry tag that follows this environment (config `imageTag`). */
  imageTag?: string;
}

export interface PipelinePlan {
  service: string;
  type: ServiceType;
  repository: string;
  /** registry/service: where the image is pushed. */
  imageRepository: string;
  tag: string;
  baseImages: { build: string; runtime: string };
  port: number;
  build: {
    dockerfile?: string;
    template?: string;
    context: string;
    buildCommand?: string;
    startCommand?: string;
    /** Literal values, or secret references the build worker resolves (never their values). */
    buildArgs: Record<string, ConfigValue>;
    /** java (Maven): the module of a multi-module build to ship, and whether to skip its tests. */
    module?: string;
    skipTests?: boolean;
  };
  environments: EnvironmentPlan[];
}

// --- environmentLane <-> deliveryPipeline ------------------------------------------------------

/**
 * What a pipeline asks a lane for: references only. Anyone with access to the Temporal namespace
 * can signal a lane, so the lane checks the request against the pipeline it names and takes
 * where and what to deploy from the worker's own deploy config (a LaneDeploy).
 */
export interface LaneRequest {
  pipelineId: string;
  /** Orders pipelines of one service: a lower order never deploys over a higher one. */
  order: number;
  commit: string;
  /** repository@sha256:… */
  image: string;
}

/** Where and what a lane deploys for a request, derived on a worker from its deploy config. */
export interface LaneDeploy {
  marathonUrl: string;
  app: Record<string, unknown>;
  healthTimeoutSeconds: number;
  forceOverForeignDeployment: boolean;
  /** Registry tag to point at the image once it is healthy. */
  imageTag?: string;
  /** How the new version replaces the old one (config `strategy`); absent: rolling. */
  strategy?: DeployStrategy;
}

// --- deploy strategies (config `strategy`; patch `deploy-strategies`) ---------------------------

/** One canary step: how many canary instances, and how long they run before the next step. */
export interface CanaryStep {
  /** A number of canary instances... */
  instances?: number;
  /** ...or a share of the app's configured instances (rounded up). The last step is `percent: 100`. */
  percent?: number;
  /** Durable wait (a Temporal timer) with the canary serving, then its health is checked again. */
  verifySeconds?: number;
}

/** The marathon-lb deployment group both strategies put their apps in. */
export interface DeploymentGroupPorts {
  /** The group's port on marathon-lb (label HAPROXY_0_PORT): what clients call. */
  servicePort: number;
  /** The other app's Marathon service port (label HAPROXY_DEPLOYMENT_ALT_PORT). */
  altServicePort: number;
  /** How long drained tasks keep finishing their requests before they are killed. */
  drainSeconds: number;
}

export type DeployStrategy =
  | { type: 'rolling' }
  | ({ type: 'blue-green' } & DeploymentGroupPorts)
  | ({ type: 'canary'; steps: CanaryStep[] } & DeploymentGroupPorts);

/** Which Marathon app serves an environment under a strategy, and (blue/green) its colour. */
export interface LiveApp {
  appId: string;
  colour?: 'blue' | 'green';
}

/**
 * A request with what the lane deploys for it. Requests from pipelines started before lane
 * requests carried references only (patch `lane-references`) brought the LaneDeploy fields along.
 */
export type DeployRequest = LaneRequest & LaneDeploy;

/** The lane's check of a request: admitted with what to deploy, or refused with why. */
export type LaneAdmission = { admitted: true; deploy: LaneDeploy } | { admitted: false; reason: string };

/** A claim a pipeline makes to a lane, checked against the pipeline before the lane acts on it. */
export type PipelineClaim = { kind: 'cancel' } | { kind: 'waiting'; order: number } | { kind: 'done-waiting' };

/** What became of the environment's registry tag (best effort: a registry hiccup fails no deploy). */
export interface ImageTagResult {
  /** The tag now points at the deployed image. */
  imageTag?: string;
  /** Why it does not. */
  warning?: string;
}

export type DeployOutcome =
  | ({
      kind: 'healthy';
      deploymentId: string | null;
      version: string;
      previousVersion: string | null;
      /** Blue/green and canary: the app that serves now. */
      live?: LiveApp;
    } & ImageTagResult)
  | { kind: 'rolled-back'; error: string; deploymentId: string | null; version?: string; rolledBackTo?: string | null }
  | { kind: 'failed'; error: string }
  | { kind: 'refused'; reason: string; newerPipelineId?: string }
  | { kind: 'cancelled'; rolledBackTo?: string | null };

export interface DeployProgress {
  environment: string;
  pipelineId: string;
  deploymentId: string | null;
  version: string;
  previousVersion: string | null;
}

export interface RollbackRequest {
  requestId: string;
  /** Marathon version to return to; default: the version before the current one. */
  toVersion?: string;
  requestedBy: string;
  reason: string;
  /** Workflow to signal with the outcome (the rollback workflow). */
  replyTo?: string;
}

export interface LaneState {
  service: string;
  environment: string;
  current?: {
    pipelineId: string;
    order: number;
    commit: string;
    image: string;
    version: string;
    since: string;
    /** Blue/green and canary: the app that serves now (blue/green: the live colour). Absent: the configured app. */
    live?: LiveApp;
  };
  history: {
    pipelineId: string;
    commit: string;
    image: string;
    version: string;
    since: string;
    outcome: string;
    live?: LiveApp;
  }[];
  queue: { pipelineId: string; order: number; commit: string }[];
  inFlight?: { pipelineId: string; kind: 'deploy' | 'rollback'; since: string };
  waitingApproval: { pipelineId: string; order: number }[];
  /** Where the app lives, from the latest deploy request: what a rollback needs. */
  target?: LaneTarget;
  /** While a blue/green or canary deploy runs: its step ("start green", "canary step 2 of 3", ...). */
  strategyStep?: string;
  /** The latest messages the lane could not verify and so ignored (newest last). */
  ignored?: { pipelineId: string; message: string; reason: string; at: string }[];
}

export interface LaneTarget {
  marathonUrl: string;
  appId: string;
  healthTimeoutSeconds: number;
  imageTag?: string;
}

/** environmentLane's input; a continued lane carries its state along. */
export interface LaneInput {
  service: string;
  environment: string;
  state?: LaneState;
  /** Recent outcomes by pipeline, so a re-sent request gets its answer again instead of a second deploy. */
  answered?: Record<string, DeployOutcome>;
}

/** rollbackEnvironment's input. */
export interface RollbackInput {
  service: string;
  environment: string;
  toVersion?: string;
  requestedBy: string;
  reason: string;
}

// --- messages: deliveryPipeline, for operators and developers ---------------------------------
// Descriptions carry an example payload because the Temporal Web UI shows them in its forms.

export const approveSignal = defineSignal<[ApprovalRequest]>('approve');
export const rejectSignal = defineSignal<[RejectionRequest]>('reject');
export const approveUpdate = defineUpdate<DecisionRecord, [ApprovalRequest]>('approvePromotion');
export const rejectUpdate = defineUpdate<DecisionRecord, [RejectionRequest]>('rejectPromotion');
export const statusQuery = defineQuery<PipelineStatus>('status');

export const messageDescriptions = {
  approve:
    'Approve the promotion into the environment that waits. Example: {"environment":"production","approver":"alice","comment":"ship it"}',
  reject:
    'Reject the promotion; the pipeline ends "rejected". Example: {"environment":"production","approver":"alice","reason":"wait for the freeze to end"}',
  approvePromotion:
    'Approve, validated: refused at once (nothing recorded) if the environment is not waiting or the approver is not allowed. Example: {"environment":"production","approver":"alice","comment":"ship it"}',
  rejectPromotion:
    'Reject, validated: refused at once if the environment is not waiting or the approver is not allowed. Example: {"environment":"production","approver":"alice","reason":"not today"}',
  status: 'Pipeline status: service, commit, image digest, per-environment state, approvals. No arguments.',
  lane: 'What runs in this environment now, what ran before, what is queued, and which messages were ignored.',
  deployOutcome:
    "The answer this lane gave a pipeline's deploy request, or null. Argument: the pipeline's workflow ID.",
};

// --- messages between Slipway's own workflows ----------------------------------------------------

/** pipeline -> lane: deploy this image (sent with signal-with-start by an activity). */
export const deployRequestSignal = defineSignal<[LaneRequest | DeployRequest]>('deployRequest');
/** pipeline -> lane: the pipeline was cancelled; drop its request or roll its deploy back. */
export const cancelDeploySignal = defineSignal<[{ pipelineId: string }]>('cancelDeploy');
/** pipeline -> lane: this pipeline now waits for approval into the lane's environment. */
export const awaitingApprovalSignal =
  defineSignal<[{ pipelineId: string; order: number; done?: boolean }]>('awaitingApproval');
/** rollback workflow / CLI -> lane. */
export const rollbackRequestSignal = defineSignal<[RollbackRequest]>('rollbackRequest');
export const laneQuery = defineQuery<LaneState>('lane');
/** The answer the lane gave a pipeline's deploy request (null: none): how a pipeline checks an outcome. */
export const deployOutcomeQuery = defineQuery<DeployOutcome | null, [string]>('deployOutcome');

/** lane -> pipeline: the Marathon deployment started (ids for status). */
export const deployProgressSignal = defineSignal<[DeployProgress]>('deployProgress');
/** lane -> pipeline: the outcome of its deploy request. */
export const deployFinishedSignal = defineSignal<[{ environment: string; outcome: DeployOutcome }]>('deployFinished');
/** lane -> pipeline: a newer pipeline now waits for (or reached) this environment. */
export const supersededSignal = defineSignal<[{ environment: string; by: string }]>('superseded');
/** lane -> rollback workflow. */
export const rollbackFinishedSignal = defineSignal<[{ requestId: string; outcome: DeployOutcome }]>('rollbackFinished');
