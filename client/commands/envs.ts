// `slipway envs`: what runs where — per environment and service the commit, digest, since when and
// who approved it (from the lanes and the pipelines that deployed), and what Marathon runs now.
import type { Command } from 'commander';
import { loadClientConfig, printJson, withClient } from '../cli-support';
import { collectInventory } from '../inventory';
import { renderInventoryText } from '../inventory-view';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function register(program: Command): void {
  program
    .command('envs')
    .description(
      'What runs where: per environment and service the commit, digest, since, approver and live Marathon instances',
    )
    .option('--service <name>', 'only this service (repeatable)', collect)
    .option('--env <name>', 'only this environment (repeatable)', collect)
    .option('--json', 'print the inventory JSON (same as GET /environments)')
    .addHelpText(
      'after',
      [
        '',
        'Reads the lanes (a deploy worker must be running to answer their queries) and each',
        "environment's Marathon at the URL of the deploy config, with the MARATHON_<ENV>_… or MARATHON_…",
        'credentials of this shell. A Marathon that does not answer is reported for its environment only.',
        'Examples:',
        '  slipway envs',
        '  slipway envs --service hello-node --env production --json',
        '',
      ].join('\n'),
    )
    .action(async (opts: { service?: string[]; env?: string[]; json?: boolean }) => {
      const config = loadClientConfig();
      const names = config.environments.map((e) => e.name);
      for (const name of opts.env ?? []) {
        if (!names.includes(name)) throw new Error(`--env "${name}": expected one of ${names.join(', ')}`);
      }
      if (opts.env) config.environments = config.environments.filter((e) => opts.env?.includes(e.name));
      const inventory = await withClient((client) => collectInventory(client, config, { services: opts.service }));
      if (opts.json) return printJson(inventory);
      process.stdout.write(renderInventoryText(inventory));
    });
}
