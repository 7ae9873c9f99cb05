// `slipway audit` as people run it (a separate process reading SLIPWAY_AUDIT_DIR), and the same
// events through the webhook server's GET /audit: filters by time, service and environment, the
// table and --json, a bad --since named.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { AuditLog } from '../../common/audit-log';
import type { DeliveryEvent } from '../../common/contract';
import { projectRoot } from '../../common/paths';
import { startWebhookServer, type WebhookServer } from '../../client/webhook';
import { temporalAddress } from '../helpers/env';
import { writeTestConfig } from '../webhook/helpers';

const dir = mkdtempSync(path.join(process.env.SLIPWAY_AUDIT_DIR ?? os.tmpdir(), 'audit-cli-'));
const day = 86400e3;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const commit = 'c0ffee00112233445566778899aabbccddeeff00';
const pipelineId = `pipeline/hello-node/${commit}`;
const base = { service: 'hello-node', commit, pipelineId };
const events: DeliveryEvent[] = [
  { ...base, id: 'old', kind: 'deployed', environment: 'test', at: ago(10 * day) },
  { ...base, id: 'e1', kind: 'deployed', environment: 'test', at: ago(3 * day) },
  { ...base, id: 'e2', kind: 'waiting-approval', environment: 'production', approvers: ['alice'], at: ago(2 * day) },
  { ...base, id: 'e3', kind: 'approved', environment: 'production', actor: 'alice', reason: 'ship it', at: ago(day) },
  { ...base, id: 'e4', kind: 'deployed', environment: 'production', at: ago(day - 1000) },
  {
    id: 'rollback/billing/production/1/rolled-back',
    kind: 'rolled-back',
    service: 'billing',
    environment: 'production',
    pipelineId: 'rollback/billing/production/1',
    actor: 'carol',
    reason: 'bad release',
    rolledBackTo: '2026-11-30T10:00:00.000Z',
    at: ago(3600e3),
  },
];

before(() => {
  const log = new AuditLog(dir);
  for (const e of events) log.append(e);
  assert.equal(log.append(events[1]!), false, 'an event already there is not appended again');
});

const run = promisify(execFile);

/** `slipway audit ...` in its own process, reading the folder from SLIPWAY_AUDIT_DIR as users set it. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = ['--import', 'tsx', path.join(projectRoot, 'client', 'cli.ts'), 'audit', ...args];
  try {
    const { stdout, stderr } = await run(process.execPath, argv, {
      env: { ...process.env, SLIPWAY_AUDIT_DIR: dir },
      cwd: projectRoot,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('slipway audit', () => {
  test('prints the last week oldest first as a table; --service, --env and --json filter and shape it', async () => {
    const week = await cli(['--since', '7d']);
    assert.equal(week.code, 0, week.stderr);
    const lines = week.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^TIME\s+EVENT\s+SERVICE\s+ENVIRONMENT\s+COMMIT\s+BY\s+DETAILS$/);
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(/\s{2,}/)[1]),
      ['deployed', 'waiting-approval', 'approved', 'deployed', 'rolled-back'],
      'ten days ago is outside the week',
    );
    assert.match(lines[3] ?? '', /approved\s+hello-node\s+production\s+c0ffee001122\s+alice\s+ship it$/);
    assert.match(
      lines[5] ?? '',
      /rolled-back\s+billing\s+production\s+carol\s+to 2026-11-30T10:00:00.000Z; bad release$/,
    );

    const json = await cli(['--since', '30d', '--service', 'hello-node', '--env', 'production', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(
      (JSON.parse(json.stdout) as DeliveryEvent[]).map((e) => e.id),
      ['e2', 'e3', 'e4'],
    );
  });

  test('nothing to show, and a --since it cannot read', async () => {
    const none = await cli(['--since', '1d', '--service', 'nobody']);
    assert.equal(none.code, 0);
    assert.match(none.stdout, /^no audit events since 1d in /);
    const bad = await cli(['--since', 'last tuesday']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--since "last tuesday": expected a duration like 7d, 24h, 2w or an ISO date/);
  });
});

describe('GET /audit', () => {
  let server: WebhookServer;
  let connection: Connection;

  before(async () => {
    connection = await Connection.connect({ address: temporalAddress() });
    server = await startWebhookServer({
      port: 0,
      client: new Client({ connection }),
      insecureNoToken: true,
      configDir: writeTestConfig().dir,
      auditDir: dir,
      env: { ...process.env, SLIPWAY_READ_TOKEN: 'reader-token' },
    });
  });

  after(async () => {
    await server?.close();
    await connection?.close();
  });

  test('the same events as JSON, behind the read token', async () => {
    const url = `${server.url}/audit?since=7d&service=hello-node`;
    assert.equal((await fetch(url)).status, 401);
    const res = await fetch(url, { headers: { Authorization: 'Bearer reader-token' } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { dir: string; events: DeliveryEvent[] };
    assert.equal(body.dir, dir);
    assert.deepEqual(
      body.events.map((e) => e.id),
      ['e1', 'e2', 'e3', 'e4'],
    );
    const bad = await fetch(`${server.url}/audit?since=soon`, { headers: { Authorization: 'Bearer reader-token' } });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /since "soon": expected a duration/);
  });
});
