// POST /webhooks/gitlab: authenticate, bound and parse the delivery, decide, start. Answers in
// milliseconds (GitLab gives up after 10 s and counts failures toward auto-disabling the hook):
// starting a workflow is the only remote call, and the pipeline itself runs in Temporal.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Client } from '@temporalio/client';
import type { DeployConfig } from '../../common/config';
import type { Logger } from '../../common/log';
import { pipelineWorkflowId, type PipelineInput } from '../../common/contract';
import { startPipeline, type StartResult } from '../pipelines';
import { secretMatches, signatureVerifies } from './auth';
import { createGitlabCompare, type ChangedFiles } from '../../activities/gitlab';
import { interpretGitlabDelivery, PayloadError, type IntakeDecision } from './gitlab-intake';
import { header, HttpError, parseJson, readBody, requireJsonContentType, sendJson } from './http';

export interface IntakeOptions {
  client: Client;
  /** The X-Gitlab-Token secret; undefined when only signatures are used, or with the insecure flag. */
  token: string | undefined;
  /**
   * GitLab's `whsec_...` signing token. When set, every delivery must carry a valid
   * webhook-signature (a valid X-Gitlab-Token does not replace it), and then needs no token.
   */
  signingSecret?: string;
  bodyLimitBytes: number;
  config: () => DeployConfig;
  log: Logger;
  /** Where GITLAB_URL is read to tell whether a service's repository can be resolved. */
  env?: NodeJS.ProcessEnv;
  /**
   * The files changed between two commits, for monorepo `paths` when a push payload does not list
   * them all (monorepo-paths.ts). Default: GitLab's compare API with GITLAB_URL and GITLAB_TOKEN.
   */
  changedFiles?: (project: string, from: string, to: string) => Promise<ChangedFiles>;
}

/** A map that forgets its oldest entries first, so a flood of distinct keys cannot grow it. */
class BoundedMemory<V> {
  private readonly entries = new Map<string, V>();
  constructor(private readonly capacity = 10_000) {}
  get(key: string): V | undefined {
    return this.entries.get(key);
  }
  set(key: string, value: V): void {
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, value);
  }
}

export function createIntakeRoute(opts: IntakeOptions) {
  const env = opts.env ?? process.env;
  const changedFiles = opts.changedFiles ?? createGitlabCompare({ baseUrl: env.GITLAB_URL, token: env.GITLAB_TOKEN });
  /** The intake decision; for monorepo paths the payload cannot settle, after asking GitLab. */
  async function decide(event: string | undefined, body: unknown, deliveryId?: string): Promise<IntakeDecision> {
    const first = interpretGitlabDelivery(event, body, opts.config(), deliveryId, opts.env);
    if (first.kind !== 'needs-changed-files') return first;
    const changed = await changedFiles(first.project, first.before, first.after);
    return interpretGitlabDelivery(event, body, opts.config(), deliveryId, opts.env, changed);
  }
  /** Answers by Idempotency-Key, so a "Resend Request" gets the first answer back. */
  const memory = new BoundedMemory<StartResult[]>();
  /**
   * Pipeline workflow IDs known to exist. Webhooks start with REJECT_DUPLICATE, so once an ID
   * exists every later start of it is refused: a delivery of the same commit under another key
   * (a second hook, a re-push) gets that answer from here instead of a refused start on Temporal.
   */
  const existing = new BoundedMemory<true>();
  const start = async (input: PipelineInput): Promise<StartResult> => {
    const workflowId = pipelineWorkflowId(input.service, input.commit);
    if (existing.get(workflowId)) return { workflowId, deduplicated: true };
    const result = await startPipeline(opts.client, input);
    existing.set(result.workflowId, true);
    return result;
  };
  return async function intake(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    // With a signing secret the signature is the proof: the plain token (which anyone who saw one
    // delivery's headers holds) binds neither the body nor the time.
    const signing = opts.signingSecret !== undefined;
    const signed = signing && header(req, 'webhook-signature') !== undefined;
    const tokenOk = opts.token !== undefined && secretMatches(header(req, 'x-gitlab-token'), opts.token);
    const open = opts.token === undefined && !signing;
    if (signing ? !signed : !tokenOk && !open) {
      req.resume();
      throw new HttpError(
        401,
        signing
          ? 'expected a signed delivery (webhook-signature): SLIPWAY_WEBHOOK_SIGNING_TOKEN is set, so X-Gitlab-Token alone is not enough'
          : 'missing or wrong X-Gitlab-Token',
      );
    }
    requireJsonContentType(req);
    const raw = await readBody(req, opts.bodyLimitBytes);
    if (signed) {
      const valid = signatureVerifies({
        secret: opts.signingSecret as string,
        id: header(req, 'webhook-id'),
        timestamp: header(req, 'webhook-timestamp'),
        signatures: header(req, 'webhook-signature'),
        body: raw,
      });
      if (!valid)
        throw new HttpError(401, 'webhook-signature does not verify, or webhook-timestamp is more than 5 minutes away');
    }
    const body = parseJson(raw);

    const event = header(req, 'x-gitlab-event');
    const deliveryId = header(req, 'idempotency-key') ?? header(req, 'webhook-id');
    const log = opts.log.child({ event, deliveryId });

    let decision;
    try {
      decision = await decide(event, body, deliveryId);
    } catch (err) {
      if (err instanceof PayloadError)
        throw new HttpError(400, `malformed ${event ?? 'GitLab'} payload: ${err.message}`);
      throw err;
    }
    // Unreachable: given the changed files, the intake always decides.
    if (decision.kind === 'needs-changed-files') throw new Error('the intake asked for changed files twice');
    if (decision.kind === 'ignored') {
      log.info('delivery ignored', { reason: decision.reason, skipped: decision.skipped });
      sendJson(res, 200, { ignored: decision.reason, ...(decision.skipped ? { skipped: decision.skipped } : {}) });
      return;
    }

    const remembered = deliveryId ? memory.get(deliveryId) : undefined;
    const results = remembered
      ? remembered.map((r) => ({ ...r, deduplicated: true }))
      : await Promise.all(decision.pipelines.map(start));
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
    if (decision.skipped) log.info('services skipped', { skipped: decision.skipped });
    if (decision.note) log.warn(decision.note);
    const first = results[0] as StartResult;
    sendJson(res, 202, {
      workflowId: first.workflowId,
      deduplicated: first.deduplicated,
      ...(results.length > 1 ? { pipelines: results } : {}),
      ...(decision.skipped ? { skipped: decision.skipped } : {}),
      ...(decision.note ? { note: decision.note } : {}),
    });
  };
}
