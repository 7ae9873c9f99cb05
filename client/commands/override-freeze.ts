// `slipway override-freeze`: let one pipeline deploy into an environment a freeze window holds.
// Only an approver of that environment may (the rules of its approval gate), always with a reason,
// and the pipeline records every attempt, refused ones too. Like `slipway approve`: with an
// approver token through Slipway's HTTP API (verified), else through the Update as `--as`.
import type { Command } from 'commander';
import type { FreezeOverrideRecord } from '../../common/contract';
import { fail, printJson, withClient } from '../cli-support';
import { postToDecisionApi } from '../decision-command';
import { sendFreezeOverride, type UpdateOutcome } from '../pipelines';

interface OverrideOptions {
  env: string;
  reason?: string;
  as?: string;
  token?: string;
  api?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('override-freeze')
    .description('Let a pipeline through the freeze window that holds an environment (approvers only, with a reason)')
    .argument('<workflowId>', 'pipeline workflow ID: pipeline/<service>/<commit>')
    .requiredOption('--env <environment>', 'the frozen environment, e.g. production')
    .option('--reason <text>', 'why the freeze may be broken for this pipeline (required; recorded)')
    .option('--as <name>', "approver name (one of the environment's approvers); with --token, the token's owner")
    .option('--token <token>', 'your approver token: override through the HTTP API, verified (default: $SLIPWAY_TOKEN)')
    .option('--api <url>', 'Slipway HTTP API (default: $SLIPWAY_API_URL, else the one `slipway up` runs)')
    .option('--json', 'print the override record as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  slipway override-freeze pipeline/hello-node/3f2c9e1d0b7a4c5e8f90123456789abcdef01234 --env production --token "$SLIPWAY_TOKEN" --reason "hotfix for the checkout outage"\n' +
        '  slipway override-freeze pipeline/hello-node/3f2c9e1d0b7a4c5e8f90123456789abcdef01234 --env production --as alice --reason "hotfix"\n',
    )
    .action(async (workflowId: string, opts: OverrideOptions) => {
      const token = opts.token ?? process.env.SLIPWAY_TOKEN;
      if (!token && !opts.as)
        return fail('override-freeze: expected --token (or SLIPWAY_TOKEN) for a verified override, or --as <name>');
      // An empty reason still goes to the pipeline, which refuses and records the attempt.
      const reason = opts.reason ?? '';
      const outcome: UpdateOutcome<FreezeOverrideRecord> = token
        ? await postToDecisionApi(opts.api, workflowId, 'freeze-overrides', token, {
            environment: opts.env,
            reason,
            ...(opts.as ? { approver: opts.as } : {}),
          })
        : await withClient((client) =>
            sendFreezeOverride(client, workflowId, {
              environment: opts.env,
              approver: opts.as as string,
              reason,
              channel: 'update',
            }),
          );
      if (opts.json)
        printJson(outcome.ok ? outcome.record : { refused: true, code: outcome.code, reason: outcome.reason });
      if (!outcome.ok) return fail(`override-freeze refused: ${outcome.reason}`);
      if (!opts.json) {
        const { approver, verified } = outcome.record;
        process.stdout.write(
          `freeze overridden: ${opts.env} of ${workflowId} by ${approver}${verified ? ' (verified)' : ''}: ${reason}\n`,
        );
      }
    });
}
