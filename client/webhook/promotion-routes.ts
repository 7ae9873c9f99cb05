// The API that deploys without building, in an approver's name (the same tokens as approvals):
//   POST /promotions                  {"service","commit","to","reason"?,"only"?,"allowOlder"?}
//   POST /pipelines/<workflowId>/rerun {"reason"?,"allowOlder"?}
//   POST /rollbacks                   {"service","environment","toCommit","reason"?}
// Each answers 202 {"workflowId"} once started; the pipeline's approval gates still decide.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Client } from '@temporalio/client';
import type { Logger } from '../../common/log';
import { RequestRefused, startCommitRollback, startPromotion, startRerun } from '../promote';
import { authenticateApprover, type ApproverDirectory } from './auth';
import { header, HttpError, parseJson, readBody, requireJsonContentType, sendJson } from './http';

export interface PromotionRouteOptions {
  client: Client;
  approvers: () => ApproverDirectory;
  log: Logger;
}

type Body = Record<string, unknown>;

const text = (b: Body, field: string, required: boolean): string | undefined => {
  const v = b[field];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || !v || v.length > 1000)
    throw new HttpError(400, `field "${field}": expected a string of 1 to 1000 characters`);
  return v;
};

const flag = (b: Body, field: string): boolean => {
  const v = b[field];
  if (v !== undefined && typeof v !== 'boolean') throw new HttpError(400, `field "${field}": expected true or false`);
  return v === true;
};

/** The approver token's owner and the JSON object the request carries: 401 without a known token. */
export async function authenticatedJson(
  req: IncomingMessage,
  approvers: ApproverDirectory,
  example = '{"environment":"production"}',
): Promise<{ approver: string; body: Body }> {
  const approver = authenticateApprover(header(req, 'authorization'), approvers);
  if (!approver) {
    req.resume();
    throw new HttpError(401, 'expected Authorization: Bearer <approver token>', {});
  }
  requireJsonContentType(req);
  const body = parseJson(await readBody(req, 64 * 1024));
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, `expected a JSON object like ${example}`);
  return { approver, body: body as Body };
}

export function createPromotionRoutes(opts: PromotionRouteOptions) {
  const authenticated = (req: IncomingMessage) => authenticatedJson(req, opts.approvers(), '{"service":"…"}');

  async function respond(res: ServerResponse, what: string, start: () => Promise<{ workflowId: string }>) {
    try {
      const { workflowId } = await start();
      opts.log.info(`${what} started`, { workflowId });
      sendJson(res, 202, { workflowId });
    } catch (err) {
      if (err instanceof RequestRefused) throw new HttpError(409, err.message);
      throw err;
    }
  }

  return {
    async promote(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const { approver, body } = await authenticated(req);
      const request = {
        service: text(body, 'service', true)!,
        commit: text(body, 'commit', true)!,
        to: text(body, 'to', true)!,
        reason: text(body, 'reason', false),
        only: flag(body, 'only'),
        allowOlder: flag(body, 'allowOlder'),
        requestedBy: approver,
      };
      await respond(res, 'promotion', () => startPromotion(opts.client, request));
    },

    async rerun(req: IncomingMessage, res: ServerResponse, pipelineId: string): Promise<void> {
      const { approver, body } = await authenticated(req);
      const request = {
        reason: text(body, 'reason', false),
        allowOlder: flag(body, 'allowOlder'),
        requestedBy: approver,
      };
      await respond(res, 'rerun', () => startRerun(opts.client, pipelineId, request));
    },

    async rollback(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const { approver, body } = await authenticated(req);
      const request = {
        service: text(body, 'service', true)!,
        environment: text(body, 'environment', true)!,
        commit: text(body, 'toCommit', true)!,
        reason: text(body, 'reason', false),
        requestedBy: approver,
      };
      await respond(res, 'rollback', () => startCommitRollback(opts.client, request));
    },
  };
}
