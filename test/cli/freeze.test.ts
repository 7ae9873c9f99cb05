// Freeze windows from the command line, run as people run the CLI (a separate process):
// `slipway freezes` lists the windows in force and next from the deploy config, and refuses a
// config with a bad window naming the field; `slipway override-freeze` lets a frozen pipeline (a
// real deliveryPipeline on the harness's dev server, outside world faked) through — refused for a
// non-approver and without a reason, accepted for an approver through the Update and, verified,
// through the HTTP API with an approver token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { pipelineWorkflowId, type PipelineStatus } from '../../common/contract';
import type { FreezeWindowConfig } from '../../common/freeze-windows';
import { startWebhookServer, type WebhookServer } from '../../client/webhook';
import { deliveryPipeline } from '../../workflows';
import { writeTestConfig, type TestConfig } from '../webhook/helpers';
import { randomSha, startWorld, waitForStatus, type World } from '../webhook/world';
import { runCli, type CliResult } from '../helpers/cli';

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return runCli(args, { ...process.env, SLIPWAY_LOG_LEVEL: 'warn', ...env });
}

function configDir(freeze: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-freezes-'));
  mkdirSync(path.join(dir, 'services'));
  writeFileSync(
    path.join(dir, 'slipway.yaml'),
    [
      'environments:',
      '  - name: test',
      '  - name: production',
      '    approval: { approvers: [alice] }',
      `freeze:${freeze}`,
      '',
    ].join('\n'),
  );
  return dir;
}

describe('slipway freezes', () => {
  const dir = configDir(
    [
      '',
      '  - { cron: "0 17 * * FRI", duration: 63h, timezone: Europe/Berlin, environments: [production], reason: weekend }',
      '  - { cron: "0 0 24 12 *", duration: 3d, timezone: UTC, reason: holidays }',
    ].join('\n'),
  );
  const env = { SLIPWAY_CONFIG_DIR: dir, MARATHON_URL: 'http://127.0.0.1:1' };

  test('lists the window in force and the next ones, in their timezones', async () => {
    const res = await cli(['freezes', '--at', '2026-12-05T12:00:00Z'], env);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(res.stdout.trimEnd().split('\n'), [
      'WHEN  START             END               TIMEZONE       ENVIRONMENTS  REASON',
      'now   2026-12-04 17:00  2026-12-07 08:00  Europe/Berlin  production    weekend',
      'next  2026-12-11 17:00  2026-12-14 08:00  Europe/Berlin  production    weekend',
      'next  2026-12-24 00:00  2026-12-27 00:00  UTC            all           holidays',
    ]);
  });

  test('--env keeps the windows of one environment; --json gives the instants', async () => {
    const res = await cli(['freezes', '--env', 'test', '--at', '2026-12-05T12:00:00Z', '--json'], env);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout), [
      {
        when: 'next',
        start: '2026-12-24T00:00:00.000Z',
        end: '2026-12-27T00:00:00.000Z',
        timezone: 'UTC',
        reason: 'holidays',
        environments: 'all',
        cron: '0 0 24 12 *',
      },
    ]);
    const unknown = await cli(['freezes', '--env', 'prod'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown environment "prod": expected one of test, production/);
  });

  test('a bad window stops it with the field and what was expected', async () => {
    const bad = configDir('\n  - { cron: "0 17 * * FRI", duration: 63h, timezone: Berlin/Europe, reason: weekend }');
    const res = await cli(['freezes'], { SLIPWAY_CONFIG_DIR: bad, MARATHON_URL: 'http://127.0.0.1:1' });
    assert.equal(res.code, 1);
    assert.match(
      res.stderr,
      /slipway\.yaml: field "freeze\.0\.timezone" is "Berlin\/Europe": expected an IANA timezone like "Europe\/Berlin"/,
    );
  });
});

describe('slipway override-freeze', () => {
  const windows: FreezeWindowConfig[] = [];
  let world: World;
  let server: WebhookServer;
  let config: TestConfig;
  let cliEnv: NodeJS.ProcessEnv;
  const service = `frozen-${randomUUID().slice(0, 8)}`;

  before(async () => {
    config = writeTestConfig();
    world = await startWorld({ freezeWindows: windows });
    server = await startWebhookServer({
      port: 0,
      client: world.client,
      token: `hook-${randomUUID()}`,
      configDir: config.dir,
    });
    cliEnv = {
      SLIPWAY_CONFIG_DIR: config.dir,
      SLIPWAY_API_URL: server.url,
      SLIPWAY_STATE_DIR: mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-state-')),
      SLIPWAY_TOKEN: '',
    };
    // A window in force for the next hours: every pipeline of the test waits frozen at production.
    const start = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const cron = `${start.getUTCMinutes()} ${start.getUTCHours()} ${start.getUTCDate()} ${start.getUTCMonth() + 1} *`;
    windows.push({ cron, duration: '6h', timezone: 'UTC', environments: ['production'], reason: 'release freeze' });
  });

  after(async () => {
    await server?.close();
    await world?.stop([service]);
  });

  async function frozenPipeline(): Promise<string> {
    const sha = randomSha();
    const workflowId = pipelineWorkflowId(service, sha);
    await world.client.workflow.start(deliveryPipeline, {
      taskQueue: 'slipway',
      workflowId,
      args: [{ service, commit: sha, trigger: { kind: 'manual', user: 'carol' }, author: { username: 'carol' } }],
    });
    await waitForStatus(world.client, workflowId, (s) => s.state === 'frozen', 'the pipeline to freeze at production');
    return workflowId;
  }

  test('refused for a non-approver and without a reason; an approver with a reason lets it through', async () => {
    const id = await frozenPipeline();
    const mallory = await cli(
      ['override-freeze', id, '--env', 'production', '--as', 'mallory', '--reason', 'now'],
      cliEnv,
    );
    assert.equal(mallory.code, 1);
    assert.match(
      mallory.stderr,
      /override-freeze refused: mallory may not decide for production: approvers are alice, bob/,
    );
    const noReason = await cli(['override-freeze', id, '--env', 'production', '--as', 'alice'], cliEnv);
    assert.equal(noReason.code, 1);
    assert.match(
      noReason.stderr,
      /override-freeze refused: expected "reason": why production's freeze \(release freeze\)/,
    );

    const ok = await cli(['override-freeze', id, '--env', 'production', '--as', 'alice', '--reason', 'hotfix'], cliEnv);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, `freeze overridden: production of ${id} by alice: hotfix\n`);
    const status: PipelineStatus = await waitForStatus(
      world.client,
      id,
      (s) => s.state === 'waiting-approval',
      'the approval gate after the override',
    );
    assert.deepEqual(
      status.freezeOverrides?.map((o) => [o.approver, o.accepted, o.channel]),
      [
        ['mallory', false, 'update'],
        ['alice', false, 'update'],
        ['alice', true, 'update'],
      ],
    );
  });

  test('with an approver token: through the HTTP API, verified', async () => {
    const id = await frozenPipeline();
    const res = await cli(
      [
        'override-freeze',
        id,
        '--env',
        'production',
        '--token',
        config.tokens.bob as string,
        '--reason',
        'outage',
        '--json',
      ],
      cliEnv,
    );
    assert.equal(res.code, 0, res.stderr);
    const record = JSON.parse(res.stdout) as {
      approver: string;
      verified: boolean;
      channel: string;
      accepted: boolean;
    };
    assert.deepEqual([record.approver, record.verified, record.channel, record.accepted], ['bob', true, 'api', true]);
    await waitForStatus(
      world.client,
      id,
      (s) => s.state === 'waiting-approval',
      'the approval gate after the override',
    );
  });
});
