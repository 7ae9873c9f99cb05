#!/usr/bin/env node
// The `slipway` command line. Each subcommand lives in client/commands/<name>.ts and exports
// `register(program)`; commands/index.ts lists them and this file only assembles them.
import { Command } from 'commander';
import { commands } from './commands';

async function main(): Promise<void> {
  const program = new Command('slipway')
    .description(
      'Durable continuous delivery for container services: GitLab push -> build once -> Marathon, environment by environment',
    )
    .showHelpAfterError()
    .enablePositionalOptions();
  for (const command of commands) command.register(program);
  await program.parseAsync(process.argv);
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`slipway: ${message}\n`);
  if (process.env.SLIPWAY_DEBUG) console.error(err);
  process.exit(1);
});
