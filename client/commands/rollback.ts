// `slipway rollback`: return a service in one environment to an earlier Marathon version, through
// the rollbackEnvironment workflow (which hands it to that environment's lane, so it never races a deploy).
import type { Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import { taskQueues } from '../../common/contract';
import { rollbackEnvironment } from '../../workflows';
import { currentUser, printJson, uiLink, withClient } from '../cli-support';

export function register(program: Command): void {
  program
    .command('rollback')
    .description('Roll <service> back in one environment (default: to the version before the current one)')
    .argument('<service>', 'service name')
    .requiredOption('--env <environment>', 'environment, e.g. production')
    .option('--to-version <version>', 'Marathon app version to return to')
    .option('--reason <text>', 'why (recorded)', 'manual rollback')
    .option('--as <name>', 'who asks (recorded)', currentUser())
    .option('--no-wait', 'return once started instead of waiting for the outcome')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExample:\n  slipway rollback hello-node --env production --reason "error rate up after 3f2c9e1"\n',
    )
    .action(
      async (
        service: string,
        opts: { env: string; toVersion?: string; reason: string; as: string; wait: boolean; json?: boolean },
      ) => {
        const workflowId = `rollback/${service}/${opts.env}/${new Date().toISOString().replace(/[:.]/g, '-')}`;
        const input = {
          service,
          environment: opts.env,
          toVersion: opts.toVersion,
          requestedBy: opts.as,
          reason: opts.reason,
        };
        const outcome = await withClient(async (client) => {
          const handle = await client.workflow.start(rollbackEnvironment, {
            taskQueue: taskQueues.deploy,
            workflowId,
            args: [input],
          });
          if (!opts.json)
            process.stdout.write(
              `rollback started: ${workflowId}${uiLink(workflowId) ? `\nTemporal UI: ${uiLink(workflowId)}` : ''}\n`,
            );
          if (!opts.wait) return undefined;
          try {
            return await handle.result();
          } catch (err) {
            // Say why (the workflow's failure), not just "Workflow execution failed".
            if (err instanceof WorkflowFailedError) throw new Error(err.cause?.message ?? err.message);
            throw err;
          }
        });
        if (opts.json) return printJson({ workflowId, outcome });
        if (outcome) process.stdout.write(`rolled back: ${JSON.stringify(outcome)}\n`);
      },
    );
}
