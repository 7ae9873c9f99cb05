// `slipway up` (what `npm start` runs): the local stack with embedded defaults.
import type { Command } from 'commander';
import { up } from '../up';

export function register(program: Command): void {
  program
    .command('up')
    .description(
      'Start the local stack: Temporal dev server + UI, registry, Marathon emulator, workers, webhook/status server',
    )
    .addHelpText(
      'after',
      '\nEach part is skipped when the environment names an existing one: TEMPORAL_ADDRESS, SLIPWAY_REGISTRY, MARATHON_URL.\nExample:\n  npm start            # runs dev/setup.sh, then slipway up\n',
    )
    .action(async () => {
      await up();
    });
}
