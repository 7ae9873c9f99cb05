// `slipway worker`: serve the deploy queue, the build queue, or both, until SIGINT/SIGTERM.
import type { Command } from 'commander';
import { createLogger } from '../../common/log';
import { connectClient, temporalSettingsFromEnv } from '../../common/temporal-connection';
import { createWorkers, type QueueRole } from '../../worker';
import { installRuntimeLogging } from '../../worker/runtime';

export function register(program: Command): void {
  program
    .command('worker')
    .description(
      'Run a Slipway worker: deploy workflows/activities (queue "slipway"), builds (queue "slipway-build"), or both',
    )
    .option('--queues <list>', 'comma-separated roles: deploy, build', 'deploy,build')
    .addHelpText(
      'after',
      '\nExamples:\n  slipway worker                  # both roles\n  slipway worker --queues build   # on a Docker build host\n',
    )
    .action(async (opts: { queues: string }) => {
      const roles = opts.queues.split(',').map((r) => r.trim()) as QueueRole[];
      const bad = roles.filter((r) => r !== 'deploy' && r !== 'build');
      if (bad.length) throw new Error(`--queues: unknown role ${bad.join(', ')}: expected deploy and/or build`);
      await runWorker(roles);
    });
}

export async function runWorker(roles: QueueRole[]): Promise<void> {
  installRuntimeLogging();
  const log = createLogger('worker');
  const settings = temporalSettingsFromEnv();
  const client = await connectClient(settings);
  const set = await createWorkers({ roles, settings, client });
  const stop = () => set.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  log.info('worker running', {
    roles: roles.join(','),
    temporal: settings.connectionOptions.address,
    namespace: settings.namespace,
  });
  try {
    await set.run();
  } finally {
    await client.connection.close();
  }
}
