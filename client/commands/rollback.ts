// `slipway rollback`: return a service in one environment to an earlier Marathon version, through
// the rollbackEnvironment workflow (which hands it to that environment's lane, so it never races a
// deploy). With --to-commit, to the version that ran that commit (the lane's history); when
// Marathon no longer holds it, that commit's image is deployed anew through the lane.
import type { Command } from 'commander';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { taskQueues } from '../../common/contract';
import { rollbackEnvironment } from '../../workflows';
import { apiBase, postToApi } from '../api-call';
import { currentUser, fail, printJson, uiLink, withClient } from '../cli-support';
import { startCommitRollback } from '../promote';

interface RollbackOptions {
  env: string;
  toVersion?: string;
  toCommit?: string;
  reason: string;
  as: string;
  token?: string;
  api?: string;
  wait: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('rollback')
    .description('Roll <service> back in one environment (default: to the version before the current one)')
    .argument('<service>', 'service name')
    .requiredOption('--env <environment>', 'environment, e.g. production')
    .option('--to-version <version>', 'Marathon app version to return to')
    .option('--to-commit <sha>', 'return to the version that ran this commit (full SHA) in that environment')
    .option('--reason <text>', 'why (recorded)', 'manual rollback')
    .option('--as <name>', 'who asks (recorded)', currentUser())
    .option('--token <token>', 'with --to-commit: your approver token, through the HTTP API (default: $SLIPWAY_TOKEN)')
    .option('--api <url>', 'Slipway HTTP API (default: $SLIPWAY_API_URL, else the one `slipway up` runs)')
    .option('--no-wait', 'return once started instead of waiting for the outcome')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  slipway rollback hello-node --env production --reason "error rate up after 3f2c9e1"\n' +
        '  slipway rollback hello-node --env production --to-commit 3f2c9e1d0b7a4c5e8f90123456789abcdef01234\n',
    )
    .action(async (service: string, opts: RollbackOptions) => {
      if (opts.toVersion && opts.toCommit) return fail('rollback: give --to-version or --to-commit, not both');
      const token = opts.toCommit ? (opts.token ?? process.env.SLIPWAY_TOKEN) : undefined;
      if (token) return rollbackThroughApi(service, opts, token);
      const outcome = await withClient(async (client) => {
        const { workflowId, handle } = opts.toCommit
          ? await startCommitRollback(client, {
              service,
              environment: opts.env,
              commit: opts.toCommit,
              requestedBy: opts.as,
              reason: opts.reason,
            })
          : await startVersionRollback(client, service, opts);
        if (!opts.json)
          process.stdout.write(
            `rollback started: ${workflowId}${uiLink(workflowId) ? `\nTemporal UI: ${uiLink(workflowId)}` : ''}\n`,
          );
        return { workflowId, outcome: opts.wait ? await resultOf(handle) : undefined };
      });
      if (opts.json) return printJson(outcome);
      if (outcome.outcome) process.stdout.write(`rolled back: ${JSON.stringify(outcome.outcome)}\n`);
    });
}

async function startVersionRollback(
  client: Parameters<Parameters<typeof withClient>[0]>[0],
  service: string,
  opts: RollbackOptions,
) {
  const workflowId = `rollback/${service}/${opts.env}/${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const input = {
    service,
    environment: opts.env,
    toVersion: opts.toVersion,
    requestedBy: opts.as,
    reason: opts.reason,
  };
  const handle = await client.workflow.start(rollbackEnvironment, {
    taskQueue: taskQueues.deploy,
    workflowId,
    args: [input],
  });
  return { workflowId, handle };
}

async function resultOf(handle: WorkflowHandle<typeof rollbackEnvironment>) {
  try {
    return await handle.result();
  } catch (err) {
    // Say why (the workflow's failure), not just "Workflow execution failed".
    if (err instanceof WorkflowFailedError) throw new Error(err.cause?.message ?? err.message);
    throw err;
  }
}

/** POST /rollbacks in the token owner's name; the API starts it, `slipway watch`-free: status by workflow ID. */
async function rollbackThroughApi(service: string, opts: RollbackOptions, token: string): Promise<void> {
  const body = { service, environment: opts.env, toCommit: opts.toCommit, reason: opts.reason };
  const res = await postToApi(apiBase(opts.api), '/rollbacks', token, body);
  if (!res.ok || typeof res.answer.workflowId !== 'string')
    return fail(`refused: ${String(res.answer.error ?? `the API answered ${res.status} ${res.statusText}`)}`);
  if (opts.json) return printJson({ workflowId: res.answer.workflowId });
  process.stdout.write(`rollback started: ${res.answer.workflowId}\n`);
}
