// `slipway metrics`: deployment frequency, lead time, change failure rate and time to restore per
// service and environment, from the pipelines Temporal recorded (see ../metrics.ts).
import type { Command } from 'commander';
import { parseSince, printJson, table, withClient } from '../cli-support';
import { collectMetrics } from '../metrics';
import { formatDuration } from '../status-view';

const dur = (ms: number | null) => (ms === null ? '-' : formatDuration(ms));

export function register(program: Command): void {
  program
    .command('metrics')
    .description(
      'Delivery metrics per service and environment: deploy frequency, lead time, change failure rate, time to restore',
    )
    .option('--service <name>', 'only this service')
    .option('--since <duration|date>', 'window start: 7d, 24h, 2w or an ISO date', '7d')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  slipway metrics\n  slipway metrics --service hello-node --since 30d --json\n')
    .action(async (opts: { service?: string; since: string; json?: boolean }) => {
      const since = parseSince(opts.since);
      const report = await withClient((client) => collectMetrics(client, { service: opts.service, since }));
      if (opts.json) return printJson(report);
      process.stdout.write(
        `${report.pipelines} pipelines from ${report.since} to ${report.until} (${report.days.toFixed(1)} days)\n\n`,
      );
      if (report.rows.length === 0) return void process.stdout.write('no deploys in this window\n');
      process.stdout.write(
        table(
          [
            'SERVICE',
            'ENVIRONMENT',
            'DEPLOYS',
            'PER DAY',
            'LEAD TIME p50',
            'p90',
            'FAILURE RATE',
            'TIME TO RESTORE p50',
          ],
          report.rows.map((r) => [
            r.service,
            r.environment + (r.production ? ' (prod)' : ''),
            String(r.deployments),
            r.deploymentsPerDay.toFixed(2),
            dur(r.leadTimeMedianMs),
            dur(r.leadTimeP90Ms),
            r.changeFailureRate === null
              ? '-'
              : `${(r.changeFailureRate * 100).toFixed(0)}% (${r.failures}/${r.deployments + r.failures})`,
            r.restores ? `${dur(r.timeToRestoreMedianMs)} (${r.restores})` : '-',
          ]),
        ),
      );
      if (report.unreadable.length) {
        process.stdout.write(
          `\n${report.unreadable.length} pipeline(s) not counted: their status could not be read (is a worker running?)\n`,
        );
      }
    });
}
