// GET /audit?since=7d&service=&env=: the audit log as JSON, oldest first — the same files and
// filters as `slipway audit`. The server reads the folder on its own disk (SLIPWAY_AUDIT_DIR, else
// .slipway/audit), so this answers only where the server runs beside the deploy worker or mounts
// its audit folder; elsewhere the answer is an empty list.
import type { ServerResponse } from 'node:http';
import { readAudit } from '../../common/audit-log';
import { parseSince } from '../cli-support';
import { HttpError, sendJson } from './http';

export function serveAudit(res: ServerResponse, url: URL, dir: string): void {
  let since: Date;
  try {
    since = parseSince(url.searchParams.get('since') ?? '7d');
  } catch (err) {
    throw new HttpError(400, (err as Error).message.replace('--since', 'since'));
  }
  const service = url.searchParams.get('service') ?? undefined;
  const environment = url.searchParams.get('env') ?? undefined;
  sendJson(res, 200, { dir, events: readAudit(dir, { since, service, environment }) });
}
