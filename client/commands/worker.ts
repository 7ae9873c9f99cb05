// `slipway worker`: serve the deploy queue, the build queue, or both, until SIGINT/SIGTERM; with
// /healthz and Prometheus /metrics on SLIPWAY_METRICS_PORT for Marathon and Prometheus.
import type { Command } from 'commander';
import { freePort } from '../../common/free-port';
import { createLogger } from '../../common/log';
import { observeDeliveries } from '../../common/prometheus';
import { connectClient, temporalSettingsFromEnv } from '../../common/temporal-connection';
import { createWorkers, type QueueRole } from '../../worker';
import { startMetricsServer } from '../../worker/metrics-server';
import { installRuntimeLogging } from '../../worker/runtime';

export interface ObservabilityAddress {
  host: string;
  port: number;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description(
      'Run a Slipway worker: deploy workflows/activities (queue "slipway"), builds (queue "slipway-build"), or both',
    )
    .option('--queues <list>', 'comma-separated roles: deploy, build', 'deploy,build')
    .option(
      '--metrics-port <port>',
      'port of GET /healthz and GET /metrics (0: any free port, printed in the log)',
      process.env.SLIPWAY_METRICS_PORT ?? '0',
    )
    .option(
      '--metrics-host <host>',
      'address /healthz and /metrics bind to (0.0.0.0 for Prometheus and Marathon to reach them)',
      process.env.SLIPWAY_METRICS_HOST ?? '127.0.0.1',
    )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  slipway worker                  # both roles',
        '  slipway worker --queues build   # on a Docker build host',
        '  SLIPWAY_METRICS_PORT=9464 SLIPWAY_METRICS_HOST=0.0.0.0 slipway worker --queues deploy',
        '',
      ].join('\n'),
    )
    .action(async (opts: { queues: string; metricsPort: string; metricsHost: string }) => {
      const roles = opts.queues.split(',').map((r) => r.trim()) as QueueRole[];
      const bad = roles.filter((r) => r !== 'deploy' && r !== 'build');
      if (bad.length) throw new Error(`--queues: unknown role ${bad.join(', ')}: expected deploy and/or build`);
      const port = Number(opts.metricsPort);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new Error(`--metrics-port (SLIPWAY_METRICS_PORT) "${opts.metricsPort}": expected 0..65535`);
      await runWorker(roles, { host: opts.metricsHost, port });
    });
}

export async function runWorker(roles: QueueRole[], observability: ObservabilityAddress): Promise<void> {
  // The SDK's exporter listens on loopback only: /metrics of the server below is the public face.
  const sdkPort = await freePort();
  installRuntimeLogging({ prometheusBindAddress: `127.0.0.1:${sdkPort}` });
  const log = createLogger('worker');
  const settings = temporalSettingsFromEnv();
  const client = await connectClient(settings);
  const set = await createWorkers({ roles, settings, client });
  observeDeliveries(client);
  const metrics = await startMetricsServer({
    ...observability,
    client,
    workers: set.workers,
    sdkMetricsUrl: `http://127.0.0.1:${sdkPort}/metrics`,
  });
  const stop = () => set.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  log.info('worker running', {
    roles: roles.join(','),
    temporal: settings.connectionOptions.address,
    namespace: settings.namespace,
    healthz: `${metrics.url}/healthz`,
    metrics: `${metrics.url}/metrics`,
  });
  try {
    await set.run();
  } finally {
    await metrics.close();
    await client.connection.close();
  }
}
