// `slipway approve` and `slipway reject` share this. Two ways to decide:
// - with an approver token (`--token` or SLIPWAY_TOKEN): through Slipway's HTTP API, which
//   authenticates the token and signs the decision, so it counts as verified — the only kind an
//   environment with `requireVerified: true` accepts;
// - without one: through the validated Update, as the self-declared approver `--as` (channel
//   "update"), which a refusal answers at once with the workflow's reason.
// Either way the command prints what happened and exits non-zero when the decision was refused.
import type { Command } from 'commander';
import { apiBase, postToApi } from './api-call';
import { fail, printJson, withClient } from './cli-support';
import { sendDecision, type DecisionOutcome, type UpdateOutcome } from './pipelines';

interface DecisionOptions {
  env: string;
  as?: string;
  token?: string;
  api?: string;
  comment?: string;
  reason?: string;
  json?: boolean;
}

export function registerDecision(program: Command, kind: 'approve' | 'reject'): void {
  const cmd = program
    .command(kind)
    .description(
      kind === 'approve'
        ? 'Approve the promotion of a pipeline into the environment that waits'
        : 'Reject the promotion; the pipeline ends "rejected"',
    )
    .argument('<workflowId>', 'pipeline workflow ID: pipeline/<service>/<commit>')
    .requiredOption('--env <environment>', 'the environment that waits, e.g. production')
    .option('--as <name>', "approver name (one of the environment's approvers); with --token, the token's owner")
    .option('--token <token>', 'your approver token: decide through the HTTP API, verified (default: $SLIPWAY_TOKEN)')
    .option('--api <url>', 'Slipway HTTP API (default: $SLIPWAY_API_URL, else the one `slipway up` runs)')
    .option('--json', 'print the decision record as JSON');
  if (kind === 'approve') cmd.option('--comment <text>', 'comment recorded with the approval');
  else cmd.option('--reason <text>', 'reason recorded with the rejection');
  const example = kind === 'approve' ? '--comment "ship it"' : '--reason "release freeze"';
  cmd.addHelpText(
    'after',
    `\nExamples:\n  slipway ${kind} pipeline/hello-node/3f2c9e1d0b7a4c5e8f90123456789abcdef01234 --env production --token "$SLIPWAY_TOKEN" ${example}\n` +
      `  slipway ${kind} pipeline/hello-node/3f2c9e1d0b7a4c5e8f90123456789abcdef01234 --env production --as alice ${example}\n`,
  );
  cmd.action(async (workflowId: string, opts: DecisionOptions) => {
    const token = opts.token ?? process.env.SLIPWAY_TOKEN;
    if (!token && !opts.as)
      return fail(`${kind}: expected --token (or SLIPWAY_TOKEN) for a verified decision, or --as <name>`);
    const outcome = token
      ? await decideThroughApi(kind, workflowId, token, opts)
      : await decideByUpdate(kind, workflowId, opts);
    if (opts.json)
      printJson(outcome.ok ? outcome.record : { refused: true, code: outcome.code, reason: outcome.reason });
    if (!outcome.ok) return fail(`${kind} refused: ${outcome.reason}`);
    if (!opts.json) {
      const { approver, verified } = outcome.record;
      const verb = kind === 'approve' ? 'approved' : 'rejected';
      process.stdout.write(`${verb}: ${opts.env} of ${workflowId} by ${approver}${verified ? ' (verified)' : ''}\n`);
    }
  });
}

function decideByUpdate(kind: 'approve' | 'reject', workflowId: string, opts: DecisionOptions) {
  const approver = opts.as as string;
  const request =
    kind === 'approve'
      ? { environment: opts.env, approver, comment: opts.comment, channel: 'update' as const }
      : { environment: opts.env, approver, reason: opts.reason, channel: 'update' as const };
  return withClient((client) => sendDecision(client, workflowId, kind, request));
}

/** POST /pipelines/<id>/approvals|rejections with the approver token; the API answers with the record. */
function decideThroughApi(
  kind: 'approve' | 'reject',
  workflowId: string,
  token: string,
  opts: DecisionOptions,
): Promise<DecisionOutcome> {
  const body = {
    environment: opts.env,
    ...(opts.as ? { approver: opts.as } : {}),
    ...(kind === 'approve' ? { comment: opts.comment } : { reason: opts.reason }),
  };
  return postToDecisionApi(opts.api, workflowId, kind === 'approve' ? 'approvals' : 'rejections', token, body);
}

/**
 * POST /pipelines/<id>/<route> on Slipway's HTTP API with an approver token: the API authenticates
 * it, signs the decision and answers with the pipeline's record, or with why it was refused.
 */
export async function postToDecisionApi<R>(
  api: string | undefined,
  workflowId: string,
  route: 'approvals' | 'rejections' | 'freeze-overrides',
  token: string,
  body: Record<string, unknown>,
): Promise<UpdateOutcome<R>> {
  const res = await postToApi(apiBase(api), `/pipelines/${encodeURIComponent(workflowId)}/${route}`, token, body);
  const answer = res.answer as { decision?: R; error?: string };
  if (res.ok && answer.decision) return { ok: true, record: answer.decision };
  const code = res.status === 404 ? 'not-found' : 'refused';
  return { ok: false, code, reason: answer.error ?? `the API answered ${res.status} ${res.statusText}` };
}
