// `slipway approve` and `slipway reject` share this: send the decision through the validated
// Update (so a refusal comes back at once with the workflow's reason), print what happened, and
// exit non-zero when it was refused. The approver named here is self-declared (channel "update");
// identity-checked approvals go through the HTTP API.
import type { Command } from 'commander';
import { fail, printJson, withClient } from './cli-support';
import { sendDecision } from './pipelines';

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
    .requiredOption('--as <name>', "approver name (must be one of the environment's approvers)")
    .option('--json', 'print the decision record as JSON');
  if (kind === 'approve') cmd.option('--comment <text>', 'comment recorded with the approval');
  else cmd.option('--reason <text>', 'reason recorded with the rejection');
  cmd.addHelpText(
    'after',
    kind === 'approve'
      ? '\nExample:\n  slipway approve pipeline/hello-node/3f2c9e1d0b7a4c5e8f90123456789abcdef01234 --env production --as alice --comment "ship it"\n'
      : '\nExample:\n  slipway reject pipeline/hello-node/3f2c9e1d0b7a4c5e8f90123456789abcdef01234 --env production --as alice --reason "release freeze"\n',
  );
  cmd.action(
    async (
      workflowId: string,
      opts: { env: string; as: string; comment?: string; reason?: string; json?: boolean },
    ) => {
      const request =
        kind === 'approve'
          ? { environment: opts.env, approver: opts.as, comment: opts.comment, channel: 'update' as const }
          : { environment: opts.env, approver: opts.as, reason: opts.reason, channel: 'update' as const };
      const outcome = await withClient((client) => sendDecision(client, workflowId, kind, request));
      if (opts.json)
        printJson(outcome.ok ? outcome.record : { refused: true, code: outcome.code, reason: outcome.reason });
      if (!outcome.ok) return fail(`${kind} refused: ${outcome.reason}`);
      if (!opts.json)
        process.stdout.write(
          `${kind === 'approve' ? 'approved' : 'rejected'}: ${opts.env} of ${workflowId} by ${opts.as}\n`,
        );
    },
  );
}
