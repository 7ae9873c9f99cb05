// Every message Slipway's workflows accept, in one place: the workflows register handlers for
// them, the CLI, the webhook/status server and tests send them. Descriptions carry an example
// payload because the Temporal Web UI shows them in its Signal/Update forms.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ApprovalRequest, DecisionRecord, PipelineStatus, RejectionRequest } from '../common/types';

// --- deliveryPipeline: operators and developers ---------------------------------------------

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
};

// --- environmentLane <-> deliveryPipeline ------------------------------------------------------

export interface DeployRequest {
  pipelineId: string;
  /** Orders pipelines of one service: a lower order never deploys over a higher one. */
  order: number;
  commit: string;
  image: string;
  marathonUrl: string;
  app: Record<string, unknown>;
  healthTimeoutSeconds: number;
  forceOverForeignDeployment: boolean;
  /** Registry tag to point at the image once it is healthy. */
  imageTag?: string;
}

/** What became of the environment's registry tag (best effort: a registry hiccup fails no deploy). */
export interface ImageTagResult {
  /** The tag now points at the deployed image. */
  imageTag?: string;
  /** Why it does not. */
  warning?: string;
}

export type DeployOutcome =
  | ({ kind: 'healthy'; deploymentId: string | null; version: string; previousVersion: string | null } & ImageTagResult)
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
  current?: { pipelineId: string; order: number; commit: string; image: string; version: string; since: string };
  history: { pipelineId: string; commit: string; image: string; version: string; since: string; outcome: string }[];
  queue: { pipelineId: string; order: number; commit: string }[];
  inFlight?: { pipelineId: string; kind: 'deploy' | 'rollback'; since: string };
  waitingApproval: { pipelineId: string; order: number }[];
  /** Where the app lives, from the latest deploy request: what a rollback needs. */
  target?: { marathonUrl: string; appId: string; healthTimeoutSeconds: number; imageTag?: string };
}

/** pipeline -> lane: deploy this image (sent with signal-with-start by an activity). */
export const deployRequestSignal = defineSignal<[DeployRequest]>('deployRequest');
/** pipeline -> lane: the pipeline was cancelled; drop its request or roll its deploy back. */
export const cancelDeploySignal = defineSignal<[{ pipelineId: string }]>('cancelDeploy');
/** pipeline -> lane: this pipeline now waits for approval into the lane's environment. */
export const awaitingApprovalSignal =
  defineSignal<[{ pipelineId: string; order: number; done?: boolean }]>('awaitingApproval');
/** rollback workflow / CLI -> lane. */
export const rollbackRequestSignal = defineSignal<[RollbackRequest]>('rollbackRequest');
export const laneQuery = defineQuery<LaneState>('lane');

/** lane -> pipeline: the Marathon deployment started (ids for status). */
export const deployProgressSignal = defineSignal<[DeployProgress]>('deployProgress');
/** lane -> pipeline: the outcome of its deploy request. */
export const deployFinishedSignal = defineSignal<[{ environment: string; outcome: DeployOutcome }]>('deployFinished');
/** lane -> pipeline: a newer pipeline now waits for (or reached) this environment. */
export const supersededSignal = defineSignal<[{ environment: string; by: string }]>('superseded');
/** lane -> rollback workflow. */
export const rollbackFinishedSignal = defineSignal<[{ requestId: string; outcome: DeployOutcome }]>('rollbackFinished');
