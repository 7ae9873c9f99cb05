// `slipway freezes`: the freeze windows of the deploy config (slipway.yaml `freeze:`), each with
// the period in force now (if any) and the next one: start, end, timezone, reason, environments.
// Read from the config alone, like the worker's freeze check; no Temporal needed.
import type { Command } from 'commander';
import { getEnvironment } from '../../common/config';
import { activePeriod, appliesTo, formatInZone, nextPeriod, type FreezePeriod } from '../../common/freeze-windows';
import { loadClientConfig, printJson, table } from '../cli-support';

export interface FreezeListing extends FreezePeriod {
  when: 'now' | 'next';
}

export function register(program: Command): void {
  program
    .command('freezes')
    .description('List the freeze windows in force now and next (from the deploy config)')
    .option('--env <environment>', 'only windows that freeze this environment')
    .option('--at <time>', 'show what holds at this ISO time instead of now, e.g. 2026-12-05T12:00:00Z')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  slipway freezes\n  slipway freezes --env production --json\n  slipway freezes --at 2026-12-24T12:00:00Z\n',
    )
    .action((opts: { env?: string; at?: string; json?: boolean }) => {
      const at = opts.at ? new Date(opts.at) : new Date();
      if (Number.isNaN(at.getTime()))
        throw new Error(`--at "${opts.at}": expected an ISO time like 2026-12-05T12:00:00Z`);
      const config = loadClientConfig();
      if (opts.env) getEnvironment(config, opts.env);
      const windows = (config.freeze ?? []).filter((w) => !opts.env || appliesTo(w, opts.env));
      const listing: FreezeListing[] = windows.flatMap((w) => {
        const now = activePeriod(w, at);
        const next = nextPeriod(w, at);
        return [
          ...(now ? [{ when: 'now' as const, ...now }] : []),
          ...(next ? [{ when: 'next' as const, ...next }] : []),
        ];
      });
      if (opts.json) return printJson(listing);
      if (config.freeze === undefined)
        return void process.stdout.write('no freeze windows: slipway.yaml has no `freeze:` section\n');
      if (listing.length === 0)
        return void process.stdout.write(`no freeze window${opts.env ? ` for ${opts.env}` : ''}\n`);
      process.stdout.write(
        table(
          ['WHEN', 'START', 'END', 'TIMEZONE', 'ENVIRONMENTS', 'REASON'],
          listing.map((p) => [
            p.when,
            formatInZone(p.start, p.timezone).replace(` ${p.timezone}`, ''),
            formatInZone(p.end, p.timezone).replace(` ${p.timezone}`, ''),
            p.timezone,
            p.environments === 'all' ? 'all' : p.environments.join(','),
            p.reason,
          ]),
        ),
      );
    });
}
