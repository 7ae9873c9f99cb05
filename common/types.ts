// The data that crosses Slipway's boundaries: pipeline input, the status every client reads, and
// approval decisions. Plain serialisable shapes, no Node APIs, so workflows, activities, the CLI,
// the webhook server and tests all import the same definitions. Nothing here may hold a secret:
// all of it is stored in Temporal's history.

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
  /** Commit author, for "the author may not approve production" and lead-time metrics. */
  author?: { name?: string; username?: string; email?: string };
  committedAt?: string;
}

export type EnvironmentState =
  'pending' | 'waiting-approval' | 'deploying' | 'healthy' | 'failed' | 'rolled-back' | 'skipped';

export type PipelineState =
  | 'planning'
  | 'building'
  | 'deploying'
  | 'waiting-approval'
  | 'rolling-back'
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

export interface ApprovalRule {
  approvers: string[];
  timeoutSeconds: number;
  authorMayApprove: boolean;
}

export interface EnvironmentStatus {
  name: string;
  state: EnvironmentState;
  appId: string;
  marathonUrl: string;
  approval?: ApprovalRule & { waitingSince?: string; deadline?: string };
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
