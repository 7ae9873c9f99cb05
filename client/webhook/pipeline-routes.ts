// The status API and the authenticated approval API:
//   GET  /pipelines/<workflowId>              status JSON (the `status` query, or the result once done)
//   GET  /pipelines?service=&state=&limit=    list through Temporal visibility
//   POST /pipelines/<workflowId>/approvals    {"environment","comment"?}   Authorization: Bearer <token>
//   POST /pipelines/<workflowId>/rejections   {"environment","reason"?}
//   POST /pipelines/<workflowId>/freeze-overrides  {"environment","reason"}   (same token rules)
//   POST /pipelines/<workflowId>/rerun, POST /promotions, POST /rollbacks: promotion-routes.ts
// Workflow IDs contain slashes (pipeline/<service>/<commit>): accepted raw or URL-encoded.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { signDecision } from '../../activities/attestation';
import type { Logger } from '../../common/log';
import { listPipelines, PipelineNotFound, pipelineStatus, sendDecision, sendFreezeOverride } from '../pipelines';
import type { ApproverDirectory } from './auth';
import { authenticatedJson, createPromotionRoutes } from './promotion-routes';
import { HttpError, sendJson } from './http';

export interface PipelineRouteOptions {
  client: Client;
  approvers: () => ApproverDirectory;
  /** Where SLIPWAY_APPROVAL_KEY comes from (the server's env option, else the process). */
  env?: NodeJS.ProcessEnv;
  log: Logger;
  /** How long a status query may wait for a worker before the API says so. */
  queryTimeoutMs?: number;
}

type PipelineAction = 'approvals' | 'rejections' | 'freeze-overrides' | 'rerun';
const decisionKinds = { approvals: 'approve', rejections: 'reject', 'freeze-overrides': 'override-freeze' } as const;

/** Splits "/pipelines/<id>[/approvals|/rejections|/freeze-overrides|/rerun]" (raw path, before decoding). */
export function parsePipelinePath(rawPath: string): { workflowId: string; action?: PipelineAction } | undefined {
  const match = /^\/pipelines\/(.+?)(?:\/(approvals|rejections|freeze-overrides|rerun))?\/?$/.exec(rawPath);
  if (!match) return undefined;
  let workflowId: string;
  try {
    workflowId = decodeURIComponent(match[1] as string);
  } catch {
    throw new HttpError(400, 'workflow ID is not valid URL encoding');
  }
  return { workflowId, action: match[2] as PipelineAction | undefined };
}

function isDeadline(err: unknown): boolean {
  return /deadline|timed? ?out/i.test((err as Error)?.message ?? '');
}

export function createPipelineRoutes(opts: PipelineRouteOptions) {
  const queryTimeoutMs = opts.queryTimeoutMs ?? 10_000;
  const promotions = createPromotionRoutes(opts);

  async function status(res: ServerResponse, workflowId: string): Promise<void> {
    try {
      const s = await opts.client.withDeadline(Date.now() + queryTimeoutMs, () =>
        pipelineStatus(opts.client, workflowId),
      );
      sendJson(res, 200, s);
    } catch (err) {
      if (err instanceof PipelineNotFound) throw new HttpError(404, err.message);
      if (isDeadline(err))
        throw new HttpError(
          503,
          `no worker answered the status query of ${workflowId} within ${queryTimeoutMs / 1000} s`,
        );
      throw err;
    }
  }

  async function list(res: ServerResponse, url: URL): Promise<void> {
    const limit = Number(url.searchParams.get('limit') ?? 50);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new HttpError(400, 'limit: expected an integer 1..1000');
    let pipelines;
    try {
      pipelines = await listPipelines(opts.client, {
        service: url.searchParams.get('service') ?? undefined,
        state: url.searchParams.get('state') ?? undefined,
        limit,
      });
    } catch (err) {
      if (/filter/.test((err as Error).message)) throw new HttpError(400, (err as Error).message);
      throw err;
    }
    sendJson(res, 200, { pipelines });
  }

  /** The run a verified decision is signed for: the pipeline's current one. */
  async function currentRun(workflowId: string): Promise<string> {
    try {
      return (await opts.client.workflow.getHandle(workflowId).describe()).runId;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new HttpError(404, `no pipeline with workflow ID "${workflowId}"`);
      throw err;
    }
  }

  async function decide(
    req: IncomingMessage,
    res: ServerResponse,
    workflowId: string,
    kind: 'approve' | 'reject' | 'override-freeze',
  ): Promise<void> {
    const { approver, body: b } = await authenticatedJson(req, opts.approvers());
    if (typeof b.environment !== 'string' || !b.environment)
      throw new HttpError(400, 'field "environment": expected the name of the environment that waits');
    if (b.approver !== undefined && b.approver !== approver) {
      throw new HttpError(
        403,
        `the token belongs to ${approver}, not ${String(b.approver)}: the API decides only in its owner's name`,
      );
    }
    const text = (v: unknown, field: string) => {
      if (v === undefined) return undefined;
      if (typeof v !== 'string' || v.length > 1000)
        throw new HttpError(400, `field "${field}": expected a string of at most 1000 characters`);
      return v;
    };
    const runId = await currentRun(workflowId);
    let attestation: string;
    try {
      attestation = signDecision({ workflowId, runId, kind, environment: b.environment, approver }, opts.env);
    } catch (err) {
      throw new HttpError(503, (err as Error).message);
    }
    const signed = { environment: b.environment, approver, attestation, channel: 'api' as const };
    const outcome =
      kind === 'override-freeze'
        ? await sendFreezeOverride(
            opts.client,
            workflowId,
            { ...signed, reason: text(b.reason, 'reason') ?? '' },
            runId,
          )
        : await sendDecision(
            opts.client,
            workflowId,
            kind,
            kind === 'approve'
              ? { ...signed, comment: text(b.comment, 'comment') }
              : { ...signed, reason: text(b.reason, 'reason') },
            runId,
          );
    const log = opts.log.child({ workflowId, environment: b.environment, approver, kind });
    if (outcome.ok) {
      log.info('decision accepted', { verified: outcome.record.verified });
      sendJson(res, 200, { decision: outcome.record });
      return;
    }
    log.info('decision refused', { reason: outcome.reason });
    if (outcome.code === 'not-found') throw new HttpError(404, outcome.reason);
    sendJson(res, 409, { error: outcome.reason, refused: true });
  }

  return async function pipelines(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    rawPath: string,
  ): Promise<boolean> {
    if (rawPath === '/pipelines' || rawPath === '/pipelines/') {
      if (req.method !== 'GET') throw new HttpError(405, 'expected GET', {}, { Allow: 'GET' });
      await list(res, url);
      return true;
    }
    const starts = { '/promotions': promotions.promote, '/rollbacks': promotions.rollback } as const;
    const start = starts[rawPath.replace(/\/$/, '') as keyof typeof starts];
    if (start) {
      if (req.method !== 'POST') throw new HttpError(405, 'expected POST', {}, { Allow: 'POST' });
      await start(req, res);
      return true;
    }
    const target = parsePipelinePath(rawPath);
    if (!target) return false;
    if (target.action) {
      if (req.method !== 'POST') throw new HttpError(405, 'expected POST', {}, { Allow: 'POST' });
      if (target.action === 'rerun') await promotions.rerun(req, res, target.workflowId);
      else await decide(req, res, target.workflowId, decisionKinds[target.action]);
      return true;
    }
    if (req.method !== 'GET') throw new HttpError(405, 'expected GET', {}, { Allow: 'GET' });
    await status(res, target.workflowId);
    return true;
  };
}
