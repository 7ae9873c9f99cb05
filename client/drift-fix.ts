// `slipway drift --fix`: each drifted environment gets the definition the config renders for the
// commit running there, redeployed through its lane as a promotion of that commit to that
// environment alone — so the environment's approval gate decides, the lane runs it like any
// deploy (health wait, rollback), and the audit log and GitLab record it. Nothing is PUT to
// Marathon from here.
import type { Client } from '@temporalio/client';
import type { DriftEnvironmentReport, DriftReport } from '../common/contract';
import { apiBase, postToApi } from './api-call';
import { startPromotion } from './promote';

export interface FixOptions {
  requestedBy: string;
  /** An approver token: start through the HTTP API in its owner's name. */
  token?: string;
  api?: string;
}

export interface FixStarted {
  service: string;
  environment: string;
  commit: string;
  workflowId?: string;
  /** Why it could not be started (refused, no commit known). */
  error?: string;
}

/** Drifted apps and apps Marathon lost can be redeployed; the others have nothing to fix or no commit. */
export const fixable = (e: DriftEnvironmentReport): boolean =>
  (e.state === 'drifted' || e.state === 'missing') && Boolean(e.commit);

export async function fixDrift(client: Client, report: DriftReport, opts: FixOptions): Promise<FixStarted[]> {
  const started: FixStarted[] = [];
  for (const e of report.environments.filter(fixable)) {
    const what = e.state === 'missing' ? 'the app is missing' : e.fields.map((f) => f.field).join(', ');
    const request = {
      service: e.service,
      commit: e.commit as string,
      to: e.environment,
      reason: `drift fix: ${what}`,
      only: true,
      // The running commit may have arrived by a rollback: its lane would refuse it as older.
      allowOlder: true,
    };
    const entry: FixStarted = { service: e.service, environment: e.environment, commit: request.commit };
    try {
      if (opts.token) {
        const res = await postToApi(apiBase(opts.api), '/promotions', opts.token, request);
        if (!res.ok || typeof res.answer.workflowId !== 'string')
          throw new Error(String(res.answer.error ?? `the API answered ${res.status} ${res.statusText}`));
        entry.workflowId = res.answer.workflowId;
      } else {
        entry.workflowId = (await startPromotion(client, { ...request, requestedBy: opts.requestedBy })).workflowId;
      }
    } catch (err) {
      entry.error = (err as Error).message;
    }
    started.push(entry);
  }
  return started;
}

export function renderFixes(fixes: FixStarted[]): string {
  if (fixes.length === 0) return 'nothing to fix\n';
  return fixes
    .map((f) =>
      f.workflowId
        ? `redeploying ${f.service} ${f.commit.slice(0, 12)} to ${f.environment}: ${f.workflowId}\n  follow it: slipway watch ${f.workflowId}\n`
        : `${f.service} ${f.environment}: not fixed: ${f.error ?? 'unknown'}\n`,
    )
    .join('');
}
