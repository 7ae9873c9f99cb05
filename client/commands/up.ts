// `slipway up` (what `npm start` runs): the local stack with embedded defaults.
import { Option, type Command } from 'commander';
import { up } from '../up';

export function register(program: Command): void {
  program
    .command('up')
    .description(
      'Start the local stack: Temporal (dev server + UI, or --temporal postgres), registry, Marathon emulator, workers, webhook/status server',
    )
    .addHelpText(
      'after',
      '\nEach part is skipped when the environment names an existing one: TEMPORAL_ADDRESS, SLIPWAY_REGISTRY, MARATHON_URL.\nExamples:\n  npm start                            # runs dev/setup.sh, then slipway up\n  npm start -- --temporal postgres     # the production Temporal server, data in .slipway/temporal-cluster\n',
    )
    .addOption(
      new Option(
        '--temporal <kind>',
        'dev: the Temporal dev server with its Web UI; postgres: the production Temporal server on a private PostgreSQL (built once, ~4 min)',
      )
        .choices(['dev', 'postgres'])
        .default('dev'),
    )
    .action(async (options: { temporal: 'dev' | 'postgres' }) => {
      await up({ temporal: options.temporal });
    });
}
