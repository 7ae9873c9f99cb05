// `slipway list`: pipelines from Temporal visibility, newest first, filtered by service and state.
import type { Command } from 'commander';
import { printJson, table, withClient } from '../cli-support';
import { listPipelines } from '../pipelines';

export function register(program: Command): void {
  program
    .command('list')
    .description('List pipelines (newest first) through Temporal visibility')
    .option('--service <name>', 'only this service')
    .option(
      '--state <state>',
      'only this state: building, deploying, waiting-approval, succeeded, failed, rejected, ...',
    )
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  slipway list --state waiting-approval\n  slipway list --service hello-node --json\n',
    )
    .action(async (opts: { service?: string; state?: string; limit: string; json?: boolean }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new Error(`--limit "${opts.limit}": expected a positive integer`);
      const pipelines = await withClient((client) =>
        listPipelines(client, { service: opts.service, state: opts.state, limit }),
      );
      if (opts.json) return printJson(pipelines);
      if (pipelines.length === 0) return void process.stdout.write('no pipelines match\n');
      process.stdout.write(
        table(
          ['WORKFLOW ID', 'STATE', 'ENVIRONMENT', 'STARTED', 'CLOSED'],
          pipelines.map((p) => [
            p.workflowId,
            p.state ?? p.execution.toLowerCase(),
            p.environment,
            p.startTime,
            p.closeTime,
          ]),
        ),
      );
    });
}
