// `slipway run`: start a pipeline by hand for a service and commit (what a webhook would do).
import type { Command } from 'commander';
import { getService } from '../../common/config';
import { currentUser, loadClientConfig, printJson, uiLink, withClient } from '../cli-support';
import { startPipeline } from '../pipelines';

export function register(program: Command): void {
  program
    .command('run')
    .description('Start the delivery pipeline of <service> for <commit> (a full git SHA)')
    .argument('<service>', 'service name from the deploy config')
    .argument('<commit>', 'commit SHA to build and deploy')
    .option('--ref <ref>', 'git ref that carries the commit, e.g. refs/heads/main or main')
    .option('--as <name>', 'who starts it (recorded as the trigger)', currentUser())
    .option('--rerun', 'start again if the pipeline of this commit failed')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  slipway run hello-node 3f2c9e1d0b7a4c5e8f90123456789abcdef01234 --ref main\n')
    .action(
      async (service: string, commit: string, opts: { ref?: string; as: string; rerun?: boolean; json?: boolean }) => {
        if (!/^[0-9a-f]{7,64}$/i.test(commit))
          throw new Error(`commit "${commit}": expected a git SHA (7-64 hex characters)`);
        // Catch a typo here rather than in a failed pipeline; the worker validates again.
        getService(loadClientConfig(), service);
        const ref = opts.ref && !opts.ref.startsWith('refs/') ? `refs/heads/${opts.ref}` : opts.ref;
        const result = await withClient((client) =>
          startPipeline(
            client,
            { service, commit: commit.toLowerCase(), ref, trigger: { kind: 'manual', user: opts.as } },
            { rerunFailed: opts.rerun },
          ),
        );
        if (opts.json) return printJson(result);
        process.stdout.write(`${result.deduplicated ? 'already exists' : 'started'}: ${result.workflowId}\n`);
        const link = uiLink(result.workflowId);
        if (link) process.stdout.write(`Temporal UI: ${link}\n`);
        process.stdout.write(`follow it:   slipway watch ${result.workflowId}\n`);
      },
    );
}
