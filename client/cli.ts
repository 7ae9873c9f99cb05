// The `slipway` command line. Each subcommand lives in client/commands/<name>.ts and exports
// `register(program)`; this file only assembles them, so adding a command touches one new file.
import { Command } from 'commander';
import { readdirSync } from 'node:fs';
import path from 'node:path';

export interface CommandModule {
  register(program: Command): void;
}

async function main(): Promise<void> {
  const program = new Command('slipway')
    .description(
      'Durable continuous delivery for container services: GitLab push -> build once -> Marathon, environment by environment',
    )
    .showHelpAfterError()
    .enablePositionalOptions();
  const dir = path.join(__dirname, 'commands');
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .sort()) {
    const mod = (await import(path.join(dir, file))) as CommandModule;
    mod.register(program);
  }
  await program.parseAsync(process.argv);
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`slipway: ${message}\n`);
  if (process.env.SLIPWAY_DEBUG) console.error(err);
  process.exit(1);
});
