// `slipway audit`: the audit log of delivery events (decisions, deploys, rollbacks, ...), read from
// the files where the deploy worker writes them: SLIPWAY_AUDIT_DIR, else .slipway/audit. Run it
// on the deploy worker's host, or where its audit folder is mounted.
import type { Command } from 'commander';
import { auditDir, readAudit } from '../../common/audit-log';
import type { DeliveryEvent } from '../../common/contract';
import { parseSince, printJson, table } from '../cli-support';

interface AuditOptions {
  since: string;
  service?: string;
  env?: string;
  dir?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('audit')
    .description('Print the audit log: approvals, rejections, deploys, failures, rollbacks (oldest first)')
    .option('--since <when>', 'a duration back from now (7d, 24h, 2w) or an ISO date', '7d')
    .option('--service <name>', 'only this service')
    .option('--env <environment>', 'only this environment')
    .option('--dir <path>', 'the audit folder (default: $SLIPWAY_AUDIT_DIR, else .slipway/audit)')
    .option('--json', 'print the events as a JSON array')
    .addHelpText(
      'after',
      '\nExamples:\n  slipway audit --since 7d\n  slipway audit --since 2026-12-01 --service hello-node --env production --json\n',
    )
    .action((opts: AuditOptions) => {
      const dir = opts.dir ?? auditDir();
      const events = readAudit(dir, { since: parseSince(opts.since), service: opts.service, environment: opts.env });
      if (opts.json) return printJson(events);
      if (events.length === 0) return void process.stdout.write(`no audit events since ${opts.since} in ${dir}\n`);
      process.stdout.write(
        table(['TIME', 'EVENT', 'SERVICE', 'ENVIRONMENT', 'COMMIT', 'BY', 'DETAILS'], events.map(row)),
      );
    });
}

function row(e: DeliveryEvent): string[] {
  const details = [
    e.rolledBackTo && `to ${e.rolledBackTo}`,
    e.reason,
    e.approvers && `approvers ${e.approvers.join(', ')}`,
  ]
    .filter(Boolean)
    .join('; ');
  return [
    e.at.replace('T', ' ').slice(0, 19),
    e.kind,
    e.service,
    e.environment ?? '',
    e.commit?.slice(0, 12) ?? '',
    e.actor ?? '',
    details.length > 100 ? `${details.slice(0, 97)}...` : details,
  ];
}
