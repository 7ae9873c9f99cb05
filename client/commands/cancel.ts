// `slipway cancel`: ask a pipeline to stop; it rolls back a deploy in flight and ends "cancelled".
import type { Command } from 'commander';
import { printJson, withClient } from '../cli-support';

export function register(program: Command): void {
  program
    .command('cancel')
    .description('Cancel a running pipeline (a deploy in flight is rolled back by its environment lane)')
    .argument('<workflowId>', 'pipeline workflow ID')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  slipway cancel pipeline/hello-node/3f2c9e1d0b7a4c5e8f90123456789abcdef01234\n')
    .action(async (workflowId: string, opts: { json?: boolean }) => {
      await withClient(async (client) => {
        const handle = client.workflow.getHandle(workflowId);
        const d = await handle.describe();
        if (d.status.name !== 'RUNNING')
          throw new Error(`${workflowId} is not running (${d.status.name.toLowerCase()})`);
        await handle.cancel();
      });
      if (opts.json) return printJson({ workflowId, cancelRequested: true });
      process.stdout.write(`cancellation requested: ${workflowId}\nfollow it: slipway watch ${workflowId}\n`);
    });
}
