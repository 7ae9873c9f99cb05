// `slipway drift`: compare each environment's live Marathon app with what the deploy config
// renders for the image running there; `--schedule 15m` makes Temporal run that check periodically.
import type { Command } from 'commander';
import { getEnvironment, getService } from '../../common/config';
import { currentUser, fail, loadClientConfig, printJson, withClient } from '../cli-support';
import { fixDrift, renderFixes, type FixStarted } from '../drift-fix';
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
  fix?: boolean;
  as: string;
  token?: string;
  api?: string;
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
    .option(
      '--fix',
      "redeploy each drifted environment's running commit, rendered from the config, through its lane and approval gate",
    )
    .option('--as <name>', 'with --fix: who asks (recorded); with --token, the token owner', currentUser())
    .option(
      '--token <token>',
      'with --fix: your approver token, to start through the HTTP API (default: $SLIPWAY_TOKEN)',
    )
    .option('--api <url>', 'with --fix: Slipway HTTP API (default: $SLIPWAY_API_URL, else the one `slipway up` runs)')
    .addHelpText(
      'after',
      '\nExit status: 0 nothing drifted, 2 drift found (a field differs or an app is missing), 1 a check failed.\n' +
        '\nExamples:\n  slipway drift\n  slipway drift hello-node --env production --json\n  slipway drift --schedule 15m\n  slipway drift hello-node --env production --fix\n',
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
      const token = opts.token ?? process.env.SLIPWAY_TOKEN;
      let fixes: FixStarted[] | undefined;
      const report = await withClient(async (client) => {
        const found = await checkDrift(client, filter);
        if (opts.fix) fixes = await fixDrift(client, found, { requestedBy: opts.as, token, api: opts.api });
        return found;
      });
      if (opts.json) printJson(fixes ? { ...report, fixes } : report);
      else process.stdout.write(renderDriftReport(report) + (fixes ? renderFixes(fixes) : ''));
      if (fixes?.some((f) => f.error)) return fail('some drift could not be fixed (see above)');
      if (fixes) return;
      const failed = report.environments.filter((e) => e.state === 'error');
      if (failed.length > 0) fail(`${failed.length} environment(s) could not be checked`);
      else if (driftFound(report)) process.exitCode = 2;
    });
}
