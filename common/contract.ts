// The contract: every shape and message that crosses a boundary between Slipway's parts — workflow
// inputs and results, the status every client reads, approval decisions, the pipeline's plan, the
// lane's requests and outcomes, and the signal/query/update definitions themselves. Workflows,
// activities, the CLI, the webhook server and tests all import it, so none can drift from another.
// Plain serialisable shapes, no Node APIs (it loads inside the workflow sandbox). Nothing here may
// hold a secret: all of it is stored in Temporal's history.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ConfigValue, ServiceType } from './config';
import type { FreezeCheck } from './freeze-windows';

export type { FreezeCheck };

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
  /**
   * Set for a promotion (`slipway promote`, `rerun`, a rollback that redeploys): no build; the
   * digest that commit's build pushed is found on a worker and walked to `to`. Only pipelines
   * started with it take that path, so histories of pipelines without it replay unchanged.
   */
  promotion?: Promotion;
}

/** What a promotion asks for: references only; the image is found and verified on workers. */
export interface Promotion {
  /** The environment to reach; the chain's earlier environments the commit never ran in come first. */
  to: string;
  /** The pipeline whose build to reuse (a rerun names the one it reruns); default pipeline/<service>/<commit>. */
  from?: string;
  requestedBy: string;
  reason?: string;
  /** Deploy `to` only, whatever ran before it (a redeploy, a rollback to a commit). */
  only?: boolean;
  /**
   * Let the lanes deploy it over a newer pipeline's image. Without it the promotion keeps its
   * build's order and a lane running something newer refuses it, as it would the build pipeline.
   */
  allowOlder?: boolean;
  /** What started it, for status and GitLab: promote, rerun or rollback. */
  kind?: 'promote' | 'rerun' | 'rollback';
}

/** Where a promotion found its image, shown in status: "promoted from <pipeline>, no build". */
export interface PromotionStatus extends Promotion {
  source: 'pipeline' | 'registry';
  /** The build pipeline the digest came from (source "pipeline"). */
  pipelineId?: string;
  /** Environments of the chain the commit had already run in: not deployed again. */
  alreadyRan: string[];
  /** GitLab project of the build pipeline, where the deployments are reported. */
  project?: string;
  note: string;
}

/** What a worker found about a commit's build: its pipeline, or nothing (then the registry decides). */
export interface PromotionSource {
  pipelineId?: string;
  /** The digest the build pipeline pushed: repository@sha256:… (checked in the registry next). */
  image?: string;
  /** The build pipeline's order (its start), so a promotion is as old as its build. */
  order?: number;
  project?: string;
  ref?: string;
  /** The change's authors as the build pipeline knew them: approval gates tell them apart as they did. */
  changedBy?: Identities;
  author?: PipelineInput['author'];
  committedAt?: string;
  /** Environments whose lane ran this commit (now or before). */
  ranIn: string[];
}

/** The registry's word on a promotion's image, checked on a build worker. */
export interface VerifiedImage {
  digestRef: string;
  /** The image config's creation time, when the registry has it: the order of a registry-only promotion. */
  createdAt?: string;
}

/** How `rollback --to-commit` returns: to a Marathon version Marathon still has, or by redeploying the digest. */
export type CommitRollbackPlan = (
  { kind: 'version'; version: string; image: string } | { kind: 'redeploy'; image: string; version: string }
) & {
  /** Where GitLab hears of the rollback: the commit's build pipeline's project and ref, when known. */
  gitlab?: { project: string; ref: string };
};

export type EnvironmentState =
  | 'pending'
  | 'waiting-approval'
  | 'deploying'
  /** Healthy, and being verified (soak, smoke checks, metrics) before it counts (config `verify`). */
  | 'verifying'
  | 'healthy'
  | 'failed'
  | 'rolled-back'
  | 'skipped'
  /** A freeze window holds it: it goes on by itself when the window ends, or when an approver overrides. */
  | 'frozen';

export type PipelineState =
  | 'planning'
  | 'building'
  | 'deploying'
  | 'waiting-approval'
  /** An environment it reached is in a freeze window (slipway.yaml `freeze:`). */
  | 'frozen'
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
  /** While frozen (and after, for the record): the freeze that held this environment. */
  freeze?: EnvironmentFreeze;
  /** Blue/green and canary: the Marathon app that serves the environment now (blue/green: its colour). */
  live?: LiveApp;
  /** While deploying: why Marathon is not launching the tasks (its launch queue), e.g. "waiting for offers: insufficient memory on all 3 agents". */
  waitingReason?: string;
  /** While verifying: when the soak ends (or when verification started, without a soak). */
  verifyingUntil?: string;
}

export interface EnvironmentFreeze {
  since: string;
  /** When the freeze windows in force end, as the worker's config said at the last check. */
  until: string;
  reasons: string[];
  timezone: string;
  /** `until` as people in `timezone` read it. */
  untilLocal: string;
  /** Set when an approver let this pipeline through the freeze. */
  overriddenBy?: string;
  overrideReason?: string;
}

/** An approver's request to let one pipeline deploy into a frozen environment now. */
export interface FreezeOverrideRequest {
  environment: string;
  approver: string;
  /** Why the freeze may be broken: required, and kept in the pipeline's record. */
  reason: string;
  /** Set by Slipway's HTTP API, as for approvals. */
  attestation?: string;
  channel?: DecisionChannel;
}

/** An override as received, accepted or refused (with why): every one is recorded. */
export interface FreezeOverrideRecord {
  environment: string;
  approver: string;
  reason: string;
  at: string;
  channel: DecisionChannel;
  verified: boolean;
  accepted: boolean;
  refusal?: string;
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
  /** Freeze overrides received, accepted or refused (absent until the first one). */
  freezeOverrides?: FreezeOverrideRecord[];
  startedAt: string;
  finishedAt?: string;
  error?: string;
  supersededBy?: string;
  /** A promotion's order among the service's pipelines (its build's); others use startedAt. */
  order?: number;
  /** Set for a promotion: where its image came from; no build ran. */
  promotion?: PromotionStatus;
}

/** A pipeline's order among its service's pipelines, as lanes compare it. */
export function pipelineOrder(status: Pick<PipelineStatus, 'order' | 'startedAt'>): number {
  return status.order ?? Date.parse(status.startedAt);
}

/**
 * A promotion's workflow ID: never a build pipeline's (pipeline/…), and one per request, so a
 * second promotion of the same commit is a new pipeline the lanes answer afresh.
 */
export function promotionWorkflowId(service: string, commit: string, to: string, requestId: string): string {
  return `promotion/${service}/${commit}/${to}/${requestId}`;
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
  /**
   * The config has a `freeze:` section: check each environment for a freeze window before its
   * approval gate and before deploying (patch `freeze-windows`). Absent: no check, no new step.
   */
  freezeChecks?: boolean;
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
  /** Checks the new version must pass once healthy (config `verify`); failing them rolls back. */
  verify?: VerifyPlan;
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
 * The verification of a deploy (config `verify`), in seconds: what the lane records in history.
 * No URL: the worker that queries Prometheus finds it in its own config.
 */
export interface VerifyPlan {
  /** Watch the new version this long (restarts, health flaps, instances below target). */
  soakSeconds?: number;
  intervalSeconds: number;
  smoke: SmokeCheck[];
  metrics: MetricCheck[];
}

export interface SmokeCheck {
  path: string;
  status: number;
  /** Regular expression the body must match. */
  body?: string;
  timeoutSeconds: number;
}

export interface MetricCheck {
  query: string;
  max?: number;
  min?: number;
  /** A breach fails the deploy once it has lasted this long (default: at once). */
  forSeconds?: number;
  noData: 'fail' | 'pass';
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
  /** Sent again once the version is healthy and its verification starts (config `verify`). */
  verifying?: { until: string };
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
  /** Return to the version that ran this commit (the lane's history); its digest anew if Marathon forgot it. */
  toCommit?: string;
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
export const overrideFreezeSignal = defineSignal<[FreezeOverrideRequest]>('overrideFreeze');
export const overrideFreezeUpdate = defineUpdate<FreezeOverrideRecord, [FreezeOverrideRequest]>('overrideFreezeWindow');

export const messageDescriptions = {
  approve:
    'Approve the promotion into the environment that waits. Example: {"environment":"production","approver":"alice","comment":"ship it"}',
  reject:
    'Reject the promotion; the pipeline ends "rejected". Example: {"environment":"production","approver":"alice","reason":"wait for the freeze to end"}',
  approvePromotion:
    'Approve, validated: refused at once (nothing recorded) if the environment is not waiting or the approver is not allowed. Example: {"environment":"production","approver":"alice","comment":"ship it"}',
  rejectPromotion:
    'Reject, validated: refused at once if the environment is not waiting or the approver is not allowed. Example: {"environment":"production","approver":"alice","reason":"not today"}',
  overrideFreeze:
    'Let this pipeline deploy into a frozen environment now (an approver of that environment, with a reason; refusals are recorded). Example: {"environment":"production","approver":"alice","reason":"hotfix for the checkout outage"}',
  overrideFreezeWindow:
    'Override a freeze, answered: a refusal (not frozen, not an approver, no reason) comes back at once and is recorded. Example: {"environment":"production","approver":"alice","reason":"hotfix for the checkout outage"}',
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

// --- drift: the live Marathon app against what the config renders for the image running there ---

/** One field that differs; values are text, and absent where they would show a secret. */
export interface DriftFieldReport {
  /** Where: "instances", "env.LOG_LEVEL", "healthChecks[0].path", "image". */
  field: string;
  /** What the config renders; absent for a secret, or when nothing was rendered. */
  rendered?: string;
  /** What Marathon runs; absent for a secret, and for a variable only Marathon has. */
  live?: string;
  /** The value is a secret: neither side is shown. */
  secret?: boolean;
  /** One readable line: "instances: 1 rendered, 3 live". */
  summary: string;
}

/**
 * One (service, environment): `drifted` when a field differs, `in-sync` when none does,
 * `not-deployed` when Slipway never deployed there, `missing` when the lane deployed an app that
 * Marathon no longer has, `busy` when a deploy is in flight (nothing to compare yet), `error` when
 * the check could not run.
 */
export type DriftState = 'in-sync' | 'drifted' | 'not-deployed' | 'missing' | 'busy' | 'error';

export interface DriftEnvironmentReport {
  service: string;
  environment: string;
  appId: string;
  state: DriftState;
  /** What the lane deployed: the commit and image the comparison renders for. */
  commit?: string;
  image?: string;
  fields: DriftFieldReport[];
  /** What could not be compared, and why (a secret the worker cannot read). */
  unchecked?: string[];
  /** Why the state is busy, missing, not-deployed or error. */
  reason?: string;
}

export interface DriftReport {
  checkedAt: string;
  environments: DriftEnvironmentReport[];
}

/** driftCheck's input: which services and environments (all when absent). */
export interface DriftCheckInput {
  service?: string;
  environment?: string;
  /** Set by the Schedule: found drift is announced (onDriftFound); a manual check only reports. */
  announce?: boolean;
}

/** The one Temporal Schedule that runs driftCheck periodically (created by `slipway drift --schedule`). */
export const driftScheduleId = 'slipway-drift';
/** Workflow IDs of drift checks started by hand: `drift/<time>-<random>`. */
export const driftWorkflowIdPrefix = 'drift/';
// --- inventory: what runs where (`slipway envs`, GET /environments, the board) ----------------

/** What another check found about one entry (filled by the drift check; absent when not run). */
export interface InventoryDrift {
  /** true when what Marathon runs differs from what the lane says it deployed. */
  drifted: boolean;
  /** One readable line per difference. */
  details: string[];
  /** When the drift check that found it ran (the drift Schedule's last run). */
  checkedAt?: string;
}

/** One service in one environment: what the lane deployed, and what Marathon runs now. */
export interface InventoryEntry {
  service: string;
  environment: string;
  laneId: string;
  /** What the lane says runs there; absent when nothing was ever deployed through Slipway. */
  deployed?: {
    pipelineId: string;
    commit: string;
    /** repository@sha256:… */
    image: string;
    digest: string;
    /** Marathon version the deploy produced. */
    version: string;
    since: string;
    /** Accepted approvals into this environment, from the deploying pipeline's decisions. */
    approvedBy: { approver: string; at: string; verified: boolean; channel: DecisionChannel }[];
    /** false when the environment had no approval gate for this pipeline. */
    gated: boolean;
    author?: string;
  };
  /** A deploy or rollback running in the lane now. */
  inFlight?: { pipelineId: string; kind: 'deploy' | 'rollback'; since: string };
  /** Pipelines waiting for approval into this environment (the lane's list). */
  waitingApproval: string[];
  /** Why the lane or the deploying pipeline could not be read (no worker, ...). */
  laneError?: string;
  /** Marathon's view, live from GET /v2/apps/<id>; `error` when it could not be read. */
  marathon: {
    appId: string;
    found: boolean;
    image?: string | null;
    version?: string | null;
    instances?: number;
    tasksRunning?: number;
    tasksHealthy?: number;
    /** Per instance, as configured in Marathon. */
    cpus?: number;
    mem?: number;
    error?: string;
  };
  drift?: InventoryDrift;
}

export interface EnvironmentInventory {
  name: string;
  marathonUrl: string;
  entries: InventoryEntry[];
  /** Summed over the apps Marathon answered for: resources of running tasks (tasksRunning × per-instance). */
  totals: { apps: number; instances: number; tasksRunning: number; tasksHealthy: number; cpus: number; mem: number };
  /** Set when Marathon could not be read for any app of this environment. */
  marathonError?: string;
}

export interface InventoryPipelineRef {
  workflowId: string;
  service?: string;
  commit?: string;
  environment?: string;
  startTime: string;
  closeTime?: string;
  /** Why it failed, when its status could be read. */
  error?: string;
}

export interface Inventory {
  generatedAt: string;
  environments: EnvironmentInventory[];
  /** Pipelines waiting for an approval now (Temporal visibility), newest first. */
  waitingApprovals: InventoryPipelineRef[];
  /** The latest failed pipelines, newest first. */
  recentFailures: InventoryPipelineRef[];
}

// --- delivery events: the audit log and notifications ------------------------------------------

/**
 * What a delivery event can say. Each kind is one line, so another feature adds its own kind
 * without touching the others. Events never carry secrets: only names, commits, image references,
 * versions and reasons (error messages, which Slipway keeps free of secrets).
 */
export const deliveryEventKinds = [
  'waiting-approval',
  'approved',
  'rejected',
  'approval-expired',
  'deployed',
  'failed',
  'rolled-back',
  'cancelled',
  'superseded',
  'drift',
  'frozen',
  'freeze-overridden',
] as const;
export type DeliveryEventKind = (typeof deliveryEventKinds)[number];

/**
 * One thing that happened to a delivery, appended to the audit log and sent to the configured
 * notification targets (activity `recordDeliveryEvent`, or `recordDeliveryEvent` of
 * activities/events for callers outside a workflow). `id` is deterministic — the same event
 * recorded twice (a retried activity, a replayed workflow) has the same id, which is what keeps the
 * audit log and the notifications free of duplicates.
 */
export interface DeliveryEvent {
  /** e.g. "pipeline/hello-node/<commit>/<runId>/3-deployed": workflow, run and sequence. */
  id: string;
  kind: DeliveryEventKind;
  service: string;
  environment?: string;
  commit?: string;
  /** The image digest reference, once built. */
  image?: string;
  /** The workflow the event belongs to: a pipeline, or an operator's rollback request. */
  pipelineId: string;
  /** Who did it: the approver, the operator who asked for a rollback. */
  actor?: string;
  /** Why: a rejection's reason, an approval's comment, an error, a rollback's reason. */
  reason?: string;
  /** waiting-approval: who may approve, and until when. */
  approvers?: string[];
  deadline?: string;
  /** rolled-back: the Marathon version the environment returned to. */
  rolledBackTo?: string;
  /** ISO time of the event (workflow time: the same on every replay). */
  at: string;
}
