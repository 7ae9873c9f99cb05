// `slipway drift`: compare each environment's live Marathon app with what the deploy config
// renders for the image running there; `--schedule 15m` makes Temporal run that check periodically.
import type { Command } from 'commander';
import { getEnvironment, getService } from '../../common/config';
import { fail, loadClientConfig, printJson, withClient } from '../cli-support';
import {
  checkDrift,
  driftFound,
  parseDriftInterval,
  renderDriftReport,
  scheduleDriftCheck,
  unscheduleDriftCheck,
} from '../drift';

interface DriftOptions {
  env?: string;
  json?: boolean;
  schedule?: string;
  unschedule?: boolean;
}

export function register(program: Command): void {
  program
    .command('drift')
    .description("Compare each environment's live Marathon app with what the deploy config renders for its image")
    .argument('[service]', 'only this service (default: every service)')
    .option('--env <environment>', 'only this environment')
    .option('--json', 'print the findings as JSON')
    .option('--schedule <interval>', 'create or update the Temporal Schedule "slipway-drift": a check every <interval>')
    .option('--unschedule', 'delete the Temporal Schedule "slipway-drift"')
    .addHelpText(
      'after',
      '\nExit status: 0 nothing drifted, 2 drift found (a field differs or an app is missing), 1 a check failed.\n' +
        '\nExamples:\n  slipway drift\n  slipway drift hello-node --env production --json\n  slipway drift --schedule 15m\n',
    )
    .action(async (service: string | undefined, opts: DriftOptions) => {
      let schedule = opts.schedule;
      // `--schedule every 15m`, unquoted: the shell hands "15m" over as the service.
      if (schedule?.toLowerCase() === 'every' && service) [schedule, service] = [service, undefined];
      const filter = { ...(service ? { service } : {}), ...(opts.env ? { environment: opts.env } : {}) };
      // Catch a typo here rather than in a failed check; the worker validates again.
      if (service || opts.env) {
        const config = loadClientConfig();
        if (service) getService(config, service);
        if (opts.env) getEnvironment(config, opts.env);
      }
      if (opts.unschedule) {
        const deleted = await withClient((client) => unscheduleDriftCheck(client));
        process.stdout.write(deleted ? 'Schedule slipway-drift deleted\n' : 'no Schedule slipway-drift\n');
        return;
      }
      if (schedule) {
        const every = parseDriftInterval(schedule);
        const result = await withClient((client) => scheduleDriftCheck(client, every, filter));
        if (opts.json) return printJson(result);
        const verb = result.created ? 'created' : 'updated';
        process.stdout.write(
          `Schedule ${result.scheduleId} ${verb}: a drift check every ${schedule.replace(/^every\s+/i, '')}\n`,
        );
        return;
      }
      const report = await withClient((client) => checkDrift(client, filter));
      if (opts.json) printJson(report);
      else process.stdout.write(renderDriftReport(report));
      const failed = report.environments.filter((e) => e.state === 'error');
      if (failed.length > 0) fail(`${failed.length} environment(s) could not be checked`);
      else if (driftFound(report)) process.exitCode = 2;
    });
}
