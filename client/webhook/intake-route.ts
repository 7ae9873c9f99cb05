// POST /webhooks/gitlab: authenticate, bound and parse the delivery, decide, start. Answers in
// milliseconds (GitLab gives up after 10 s and counts failures toward auto-disabling the hook):
// starting a workflow is the only remote call, and the pipeline itself runs in Temporal.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Client } from '@temporalio/client';
import type { DeployConfig } from '../../common/config';
import type { Logger } from '../../common/log';
import { startPipeline, type StartResult } from '../pipelines';
import { secretMatches } from './auth';
import { interpretGitlabDelivery, PayloadError } from './gitlab-intake';
import { header, HttpError, parseJson, readBody, requireJsonContentType, sendJson } from './http';

export interface IntakeOptions {
  client: Client;
  /** undefined only with the insecure development flag. */
  token: string | undefined;
  bodyLimitBytes: number;
  config: () => DeployConfig;
  log: Logger;
}

/** Remembers answers by Idempotency-Key, so a "Resend Request" gets the first answer back. */
class DeliveryMemory {
  private readonly answers = new Map<string, StartResult[]>();
  constructor(private readonly capacity = 10_000) {}
  get(key: string): StartResult[] | undefined {
    return this.answers.get(key);
  }
  set(key: string, value: StartResult[]): void {
    if (this.answers.size >= this.capacity) this.answers.delete(this.answers.keys().next().value as string);
    this.answers.set(key, value);
  }
}

export function createIntakeRoute(opts: IntakeOptions) {
  const memory = new DeliveryMemory();
  return async function intake(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    if (opts.token !== undefined && !secretMatches(header(req, 'x-gitlab-token'), opts.token)) {
      req.resume();
      throw new HttpError(401, 'missing or wrong X-Gitlab-Token');
    }
    requireJsonContentType(req);
    const body = parseJson(await readBody(req, opts.bodyLimitBytes));

    const event = header(req, 'x-gitlab-event');
    const deliveryId = header(req, 'idempotency-key') ?? header(req, 'webhook-id');
    const log = opts.log.child({ event, deliveryId });

    let decision;
    try {
      decision = interpretGitlabDelivery(event, body, opts.config(), deliveryId);
    } catch (err) {
      if (err instanceof PayloadError)
        throw new HttpError(400, `malformed ${event ?? 'GitLab'} payload: ${err.message}`);
      throw err;
    }
    if (decision.kind === 'ignored') {
      log.info('delivery ignored', { reason: decision.reason });
      sendJson(res, 200, { ignored: decision.reason });
      return;
    }

    const remembered = deliveryId ? memory.get(deliveryId) : undefined;
    const results = remembered
      ? remembered.map((r) => ({ ...r, deduplicated: true }))
      : await Promise.all(decision.pipelines.map((input) => startPipeline(opts.client, input)));
    if (deliveryId && !remembered) memory.set(deliveryId, results);

    for (const r of results) {
      log.info(r.deduplicated ? 'pipeline already exists' : 'pipeline started', {
        workflowId: r.workflowId,
        project: decision.project,
        ref: decision.ref,
        sha: decision.sha,
        ms: Date.now() - started,
      });
    }
    const first = results[0] as StartResult;
    sendJson(res, 202, {
      workflowId: first.workflowId,
      deduplicated: first.deduplicated,
      ...(results.length > 1 ? { pipelines: results } : {}),
    });
  };
}
