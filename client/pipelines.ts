// The client side of a pipeline, shared by the webhook/status server and the CLI: start one
// (deduplicated by its deterministic workflow ID), read its status, list pipelines through
// Temporal visibility, and send a validated approval or rejection. One place, so the HTTP API
// and the CLI cannot drift in how they talk to the workflow.
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowExecutionInfo,
  type WorkflowHandle,
} from '@temporalio/client';
import { CommitAttribute, EnvironmentAttribute, ServiceAttribute, StateAttribute } from '../common/search-attributes';
import {
  laneWorkflowId,
  pipelineWorkflowId,
  taskQueues,
  type ApprovalRequest,
  type DecisionRecord,
  type FreezeOverrideRecord,
  type FreezeOverrideRequest,
  type PipelineInput,
  type PipelineStatus,
  type RejectionRequest,
  approveUpdate,
  overrideFreezeUpdate,
  rejectUpdate,
  statusQuery,
} from '../common/contract';
import { deliveryPipeline } from '../workflows';

/** The workflow type, as Temporal's visibility names it. */
export const pipelineWorkflowType = deliveryPipeline.name;

export interface StartResult {
  workflowId: string;
  /** true when the pipeline for (service, commit) already existed: nothing new was started. */
  deduplicated: boolean;
}

export interface StartOptions {
  /** Start again when the earlier pipeline of this commit failed (manual re-runs); webhooks never do. */
  rerunFailed?: boolean;
}

/**
 * Starts deliveryPipeline for (service, commit) unless one already exists. FAIL + REJECT_DUPLICATE
 * rather than USE_EXISTING so that we learn whether this call started it (the answer says
 * `deduplicated`) and so a redelivery after the pipeline finished does not run it again.
 */
export async function startPipeline(
  client: Client,
  input: PipelineInput,
  opts: StartOptions = {},
): Promise<StartResult> {
  const workflowId = pipelineWorkflowId(input.service, input.commit);
  try {
    await client.workflow.start(deliveryPipeline, {
      taskQueue: taskQueues.deploy,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: opts.rerunFailed ? 'ALLOW_DUPLICATE_FAILED_ONLY' : 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: ServiceAttribute, value: input.service },
        { key: CommitAttribute, value: input.commit },
        { key: StateAttribute, value: 'planning' },
      ],
      staticSummary: `${input.service} @ ${input.commit.slice(0, 12)}${input.ref ? ` (${input.ref.replace(/^refs\/(heads|tags)\//, '')})` : ''}`,
    });
    return { workflowId, deduplicated: false };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, deduplicated: true };
    throw err;
  }
}

export class PipelineNotFound extends Error {
  override name = 'PipelineNotFound';
  constructor(readonly workflowId: string) {
    super(`no pipeline with workflow ID "${workflowId}"`);
  }
}

/**
 * The pipeline's status. A pipeline that completed returns its status as its result (no worker
 * needed); a running or failed one answers the `status` query (a worker must be polling).
 */
export async function pipelineStatus(client: Client, workflowId: string): Promise<PipelineStatus> {
  const handle = client.workflow.getHandle(workflowId);
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new PipelineNotFound(workflowId);
    throw err;
  }
  if (description.type !== pipelineWorkflowType) throw new PipelineNotFound(workflowId);
  if (description.status.name === 'COMPLETED') return (await handle.result()) as PipelineStatus;
  const status = await handle.query(statusQuery);
  await Promise.all(
    status.environments
      .filter((e) => e.state === 'deploying')
      .map(async (e) => {
        const reason = await waitingReasonOf(client, laneWorkflowId(status.service, e.name));
        if (reason) e.waitingReason = reason;
      }),
  );
  return status;
}

/**
 * Why Marathon is not launching the tasks of a deploy in flight: the lane's health wait reports
 * Marathon's launch queue in its heartbeat ("waiting for offers: insufficient memory on all 3
 * agents"). Read from the lane's pending activity, so the pipeline's history holds no chatter.
 */
async function waitingReasonOf(client: Client, laneId: string): Promise<string | undefined> {
  try {
    const lane = await client.workflow.getHandle(laneId).describe();
    const wait = lane.raw.pendingActivities?.find((a) => a.activityType?.name === 'awaitHealthy');
    const payload = wait?.heartbeatDetails?.payloads?.[0];
    if (!payload) return undefined;
    const details = client.options.loadedDataConverter.payloadConverter.fromPayload<{ waitingReason?: string }>(
      payload,
    );
    return details?.waitingReason || undefined;
  } catch {
    return undefined; // the reason is a courtesy: the status stands without it
  }
}

export interface PipelineSummary {
  workflowId: string;
  service?: string;
  commit?: string;
  state?: string;
  environment?: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, ... */
  execution: string;
  startTime: string;
  closeTime?: string;
}

const keyword = /^[\w.@/:-]{1,200}$/;

/** Builds a visibility query; values are checked, not escaped, so nothing can be injected. */
export function pipelineListQuery(filter: { service?: string; state?: string; since?: Date; type?: string }): string {
  const parts = [`WorkflowType = '${filter.type ?? pipelineWorkflowType}'`];
  for (const [name, value] of [
    ['SlipwayService', filter.service],
    ['SlipwayState', filter.state],
  ] as const) {
    if (value === undefined || value === '') continue;
    if (!keyword.test(value)) throw new Error(`${name} filter "${value}": expected letters, digits and . _ - / @ :`);
    parts.push(`${name} = '${value}'`);
  }
  if (filter.since) parts.push(`StartTime >= '${filter.since.toISOString()}'`);
  return parts.join(' AND ');
}

export function summarise(info: WorkflowExecutionInfo): PipelineSummary {
  const attrs = info.typedSearchAttributes;
  return {
    workflowId: info.workflowId,
    service: attrs.get(ServiceAttribute),
    commit: attrs.get(CommitAttribute),
    state: attrs.get(StateAttribute),
    environment: attrs.get(EnvironmentAttribute) || undefined,
    execution: info.status.name,
    startTime: info.startTime.toISOString(),
    closeTime: info.closeTime?.toISOString(),
  };
}

export async function listPipelines(
  client: Client,
  filter: { service?: string; state?: string; since?: Date; limit?: number },
): Promise<PipelineSummary[]> {
  const limit = filter.limit ?? 50;
  const out: PipelineSummary[] = [];
  for await (const info of client.workflow.list({ query: pipelineListQuery(filter), pageSize: Math.min(limit, 100) })) {
    out.push(summarise(info));
    if (out.length >= limit) break;
  }
  return out;
}

export type UpdateOutcome<R> =
  { ok: true; record: R } | { ok: false; code: 'refused' | 'not-found' | 'closed'; reason: string };
export type DecisionOutcome = UpdateOutcome<DecisionRecord>;

/**
 * Sends an approval or rejection through the validated Update, so a refusal comes back at once
 * with the workflow's reason and nothing is recorded. Callers that authenticated the approver
 * pass `attestation` and `channel: 'api'`.
 */
export async function sendDecision(
  client: Client,
  workflowId: string,
  kind: 'approve' | 'reject',
  request: ApprovalRequest | RejectionRequest,
  /** The run the decision is for (a verified decision is signed for one run); default: the latest. */
  runId?: string,
): Promise<DecisionOutcome> {
  return sendUpdate(client, workflowId, runId, (handle) =>
    kind === 'approve'
      ? handle.executeUpdate(approveUpdate, { args: [request as ApprovalRequest] })
      : handle.executeUpdate(rejectUpdate, { args: [request as RejectionRequest] }),
  );
}

/** Sends a freeze override through its Update: a refusal (recorded by the pipeline) comes back at once. */
export async function sendFreezeOverride(
  client: Client,
  workflowId: string,
  request: FreezeOverrideRequest,
  runId?: string,
): Promise<UpdateOutcome<FreezeOverrideRecord>> {
  return sendUpdate(client, workflowId, runId, (handle) =>
    handle.executeUpdate(overrideFreezeUpdate, { args: [request] }),
  );
}

/** Runs an Update on the pipeline; a refusal, an unknown or an ended pipeline become outcomes. */
async function sendUpdate<R>(
  client: Client,
  workflowId: string,
  runId: string | undefined,
  send: (handle: WorkflowHandle) => Promise<R>,
): Promise<UpdateOutcome<R>> {
  const handle = client.workflow.getHandle(workflowId, runId);
  try {
    return { ok: true, record: await send(handle) };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause as Error | undefined;
      return { ok: false, code: 'refused', reason: cause?.message ?? err.message };
    }
    if (err instanceof WorkflowNotFoundError || /already completed|not found/i.test((err as Error).message)) {
      try {
        const d = await handle.describe();
        return {
          ok: false,
          code: 'closed',
          reason: `the pipeline has ended (${d.status.name.toLowerCase()}): nothing waits for a decision`,
        };
      } catch {
        return { ok: false, code: 'not-found', reason: `no pipeline with workflow ID "${workflowId}"` };
      }
    }
    throw err;
  }
}

export function temporalUiLink(uiBase: string | undefined, namespace: string, workflowId: string): string | undefined {
  if (!uiBase) return undefined;
  return `${uiBase.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
