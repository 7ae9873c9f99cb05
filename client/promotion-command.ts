// `slipway promote` and `slipway rerun` share this. Both start a promotion pipeline (no build):
// with an approver token (`--token` or SLIPWAY_TOKEN) through Slipway's HTTP API, which acts in the
// token owner's name; without one directly on Temporal, in the name `--as` gives. Either way the
// approval gates of the environments it deploys to decide as for any pipeline.
import type { Command } from 'commander';
import { apiBase, postToApi } from './api-call';
import { currentUser, fail, printJson, uiLink, withClient } from './cli-support';
import { startPromotion, startRerun } from './promote';

interface StartOptions {
  as: string;
  token?: string;
  api?: string;
  reason?: string;
  allowOlder?: boolean;
  json?: boolean;
}

/** The options both commands take. */
function commonOptions(cmd: Command): Command {
  return cmd
    .option('--allow-older', "deploy even where a newer pipeline's image runs (refused otherwise)")
    .option('--reason <text>', 'why (recorded)')
    .option('--as <name>', 'who asks (recorded); with --token, the token owner', currentUser())
    .option('--token <token>', 'your approver token: start it through the HTTP API (default: $SLIPWAY_TOKEN)')
    .option('--api <url>', 'Slipway HTTP API (default: $SLIPWAY_API_URL, else the one `slipway up` runs)')
    .option('--json', 'print the result as JSON');
}

/** Starts through the API when a token is given, else on Temporal directly; prints where to follow it. */
async function started(
  opts: StartOptions,
  api: { path: string; body: Record<string, unknown> },
  direct: () => Promise<{ workflowId: string }>,
): Promise<void> {
  const token = opts.token ?? process.env.SLIPWAY_TOKEN;
  let workflowId: string;
  if (token) {
    const res = await postToApi(apiBase(opts.api), api.path, token, api.body);
    if (!res.ok || typeof res.answer.workflowId !== 'string')
      return fail(`refused: ${String(res.answer.error ?? `the API answered ${res.status} ${res.statusText}`)}`);
    workflowId = res.answer.workflowId;
  } else {
    workflowId = (await direct()).workflowId;
  }
  if (opts.json) return printJson({ workflowId });
  process.stdout.write(`started: ${workflowId} (no build: the commit's image is reused)\n`);
  const link = uiLink(workflowId);
  if (link) process.stdout.write(`Temporal UI: ${link}\n`);
  process.stdout.write(`follow it:   slipway watch ${workflowId}\n`);
}

export function registerPromote(program: Command): void {
  const cmd = program
    .command('promote')
    .description(
      "Deploy the image a commit's build pushed to --to, and first to the earlier environments of the chain it never ran in: no build, same approval gates",
    )
    .argument('<service>', 'service name from the deploy config')
    .requiredOption('--commit <sha>', 'full commit SHA whose build to promote')
    .requiredOption('--to <environment>', 'environment to reach, e.g. production')
    .option('--only', 'deploy --to alone (a redeploy), not the earlier environments');
  commonOptions(cmd).addHelpText(
    'after',
    '\nExamples:\n  slipway promote hello-node --commit 3f2c9e1d0b7a4c5e8f90123456789abcdef01234 --to production\n' +
      '  slipway promote hello-node --commit 3f2c9e1d0b7a4c5e8f90123456789abcdef01234 --to integration --only --token "$SLIPWAY_TOKEN"\n',
  );
  cmd.action(async (service: string, opts: StartOptions & { commit: string; to: string; only?: boolean }) => {
    const request = {
      service,
      commit: opts.commit,
      to: opts.to,
      ...(opts.reason ? { reason: opts.reason } : {}),
      ...(opts.only ? { only: true } : {}),
      ...(opts.allowOlder ? { allowOlder: true } : {}),
    };
    await started(opts, { path: '/promotions', body: request }, () =>
      withClient((client) => startPromotion(client, { ...request, requestedBy: opts.as })),
    );
  });
}

export function registerRerun(program: Command): void {
  const cmd = program
    .command('rerun')
    .description(
      "Promote a rejected or approval-expired pipeline's commit to the environments it did not reach, reusing its build",
    )
    .argument('<pipelineId>', 'the pipeline to rerun: pipeline/<service>/<commit> (or a promotion)');
  commonOptions(cmd).addHelpText(
    'after',
    '\nExample:\n  slipway rerun pipeline/hello-node/3f2c9e1d0b7a4c5e8f90123456789abcdef01234\n',
  );
  cmd.action(async (pipelineId: string, opts: StartOptions) => {
    const body = { ...(opts.reason ? { reason: opts.reason } : {}), ...(opts.allowOlder ? { allowOlder: true } : {}) };
    await started(opts, { path: `/pipelines/${encodeURIComponent(pipelineId)}/rerun`, body }, () =>
      withClient((client) => startRerun(client, pipelineId, { ...body, requestedBy: opts.as })),
    );
  });
}
