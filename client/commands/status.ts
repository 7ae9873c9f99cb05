// `slipway status`: one pipeline as a readable table (or its status JSON).
import type { Command } from 'commander';
import { printJson, uiLink, withClient } from '../cli-support';
import { pipelineStatus } from '../pipelines';
import { renderStatusTable } from '../status-view';

export function register(program: Command): void {
  program
    .command('status')
    .description('Show a pipeline: state, image, every environment, decisions')
    .argument('<workflowId>', 'pipeline workflow ID: pipeline/<service>/<commit>')
    .option('--json', 'print the status JSON (same as GET /pipelines/<id>)')
    .addHelpText('after', '\nExample:\n  slipway status pipeline/hello-node/3f2c9e1d0b7a4c5e8f90123456789abcdef01234\n')
    .action(async (workflowId: string, opts: { json?: boolean }) => {
      const status = await withClient((client) => pipelineStatus(client, workflowId));
      if (opts.json) return printJson(status);
      process.stdout.write(renderStatusTable(status));
      const link = uiLink(workflowId);
      if (link) process.stdout.write(`\nTemporal UI: ${link}\n`);
    });
}
