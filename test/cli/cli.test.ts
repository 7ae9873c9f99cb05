// The `slipway` CLI as people run it (a separate process, Temporal from TEMPORAL_ADDRESS) against
// real deliveryPipeline workflows on the harness's dev server, outside world faked
// (test/webhook/world.ts): run, watch to the end, approve/reject through the validated Update with
// refusal reasons, status, list, cancel, metrics, demo.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { PipelineStatus } from '../../common/contract';
import type { MetricsReport } from '../../client/metrics';
import { startWebhookServer } from '../../client/webhook';
import { writeTestConfig, type TestConfig } from '../webhook/helpers';
import { randomSha, startWorld, waitForStatus, type World } from '../webhook/world';
import { until } from '../helpers/wait';
import { runCli, type CliResult } from './run-cli';

let world: World;
let config: TestConfig;
let cliEnv: NodeJS.ProcessEnv;

before(async () => {
  config = writeTestConfig();
  world = await startWorld();
  cliEnv = {
    ...process.env,
    SLIPWAY_CONFIG_DIR: config.dir,
    SLIPWAY_LOG_LEVEL: 'warn',
    SLIPWAY_STATE_DIR: mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-state-')),
  };
});

after(async () => {
  await world?.stop([config.pushService, 'hello-node']);
});

function cli(args: string[], env: NodeJS.ProcessEnv = cliEnv): Promise<CliResult> {
  return runCli(args, env);
}

async function run(sha = randomSha()): Promise<string> {
  const res = await cli(['run', config.pushService, sha, '--ref', 'master', '--as', 'carol', '--json']);
  assert.equal(res.code, 0, res.stderr);
  const out = JSON.parse(res.stdout) as { workflowId: string; deduplicated: boolean };
  assert.equal(out.deduplicated, false);
  return out.workflowId;
}

const waiting = (s: PipelineStatus) => s.state === 'waiting-approval';

describe('help', () => {
  test('every command has --help with an example', async () => {
    const commands = [
      'webhook',
      'run',
      'status',
      'watch',
      'list',
      'approve',
      'reject',
      'cancel',
      'rollback',
      'metrics',
      'demo',
    ];
    const results = await Promise.all(commands.map((c) => cli([c, '--help'])));
    results.forEach((r, i) => {
      assert.equal(r.code, 0, `${commands[i]}: ${r.stderr}`);
      assert.match(r.stdout, /Example/, `${commands[i]} --help shows an example`);
    });
  });
});

describe('a pipeline from the command line', () => {
  let id: string;

  test('run starts a pipeline once; a second run of the same commit starts none; typos are caught', async () => {
    const sha = randomSha();
    id = await run(sha);
    assert.equal(id, `pipeline/${config.pushService}/${sha}`);
    const again = await cli(['run', config.pushService, sha, '--json']);
    assert.deepEqual(JSON.parse(again.stdout), { workflowId: id, deduplicated: true });
    const typo = await cli(['run', 'no-such-service', sha]);
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /unknown service "no-such-service": expected one of/);
    const badSha = await cli(['run', config.pushService, 'main']);
    assert.equal(badSha.code, 1);
    assert.match(badSha.stderr, /expected a git SHA/);
  });

  test('watch follows every stage to the end while approve refuses with reasons, then approves', async () => {
    const watching = cli(['watch', id, '--plain', '--interval', '0.2', '--timeout', '60']);
    await waitForStatus(world.client, id, waiting, 'production to wait');

    const wrongEnv = await cli(['approve', id, '--env', 'integration', '--as', 'alice']);
    assert.equal(wrongEnv.code, 1);
    assert.match(
      wrongEnv.stderr,
      /approve refused: integration is not waiting for approval \(it is healthy\); production is/,
    );
    const notApprover = await cli(['approve', id, '--env', 'production', '--as', 'mallory']);
    assert.equal(notApprover.code, 1);
    assert.match(
      notApprover.stderr,
      /approve refused: mallory may not decide for production: approvers are alice, bob/,
    );
    const unknownEnv = await cli(['approve', id, '--env', 'staging', '--as', 'alice', '--json']);
    assert.equal(unknownEnv.code, 1);
    assert.equal(
      (JSON.parse(unknownEnv.stdout) as { reason: string }).reason,
      'unknown environment "staging": this pipeline has test, integration, production',
    );

    const ok = await cli(['approve', id, '--env', 'production', '--as', 'alice', '--comment', 'ship it']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /approved: production of .* by alice/);

    const watched = await watching;
    assert.equal(watched.code, 0, watched.stderr);
    const lines = watched.stdout;
    for (const stage of ['build', 'test', 'integration', 'production']) {
      assert.match(lines, new RegExp(`${stage}: done`), `watch shows ${stage} done:\n${lines}`);
    }
    assert.match(lines, /production: waiting — waits for alice or bob/);
    assert.match(lines, /pipeline succeeded/);
  });

  test('status prints a readable table and the status JSON', async () => {
    const table = await cli(['status', id]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^State\s+succeeded/m);
    assert.match(table.stdout, /^ENVIRONMENT\s+STATE\s+TIME/m);
    assert.match(table.stdout, /^production\s+healthy\s+.*approved by alice/m);
    assert.match(table.stdout, /approve production by alice \(update\) — ship it/);
    const json = JSON.parse((await cli(['status', id, '--json'])).stdout) as PipelineStatus;
    assert.equal(json.state, 'succeeded');
    assert.equal(json.decisions.find((d) => d.accepted)?.channel, 'update');
    const missing = await cli(['status', `pipeline/${config.pushService}/${'0'.repeat(40)}`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no pipeline/);
  });

  test('reject ends a pipeline "rejected" (watch exits non-zero); cancel stops one that waits', async () => {
    const rejected = await run();
    await waitForStatus(world.client, rejected, waiting, 'production to wait');
    const res = await cli(['reject', rejected, '--env', 'production', '--as', 'bob', '--reason', 'release freeze']);
    assert.equal(res.code, 0, res.stderr);
    const watched = await cli(['watch', rejected, '--plain', '--interval', '0.2', '--timeout', '30']);
    assert.equal(watched.code, 1);
    assert.match(watched.stderr, /pipeline ended rejected: production rejected by bob: release freeze/);

    const cancelled = await run();
    await waitForStatus(world.client, cancelled, waiting, 'production to wait');
    const c = await cli(['cancel', cancelled]);
    assert.equal(c.code, 0, c.stderr);
    const final = await waitForStatus(world.client, cancelled, (s) => s.state === 'cancelled', 'cancellation');
    assert.equal(final.environments.at(-1)?.state, 'skipped');
    const again = await cli(['cancel', cancelled]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is not running/);
  });

  test('list filters by service and state', async () => {
    // Visibility shows the end state moments after the workflow closed.
    let listed: { workflowId: string; state: string }[] = [];
    await until(
      () => `${id} in \`slipway list --state succeeded\`; last ${JSON.stringify(listed)}`,
      30_000,
      async () => {
        const res = await cli(['list', '--service', config.pushService, '--state', 'succeeded', '--json']);
        listed = JSON.parse(res.stdout) as typeof listed;
        return listed.some((p) => p.workflowId === id) ? true : undefined;
      },
      { intervalMs: 200 },
    );
    assert.ok(listed.every((p) => p.state === 'succeeded'));
    // The table names every state; the rejected and cancelled pipelines of the test before ended
    // after the succeeded one, so visibility may show them a moment later.
    let table = '';
    await until(
      () => `the rejected and cancelled pipelines in \`slipway list\`; last:\n${table}`,
      30_000,
      async () => {
        table = (await cli(['list', '--service', config.pushService])).stdout;
        return /rejected/.test(table) && /cancelled/.test(table) ? true : undefined;
      },
      { intervalMs: 200 },
    );
    assert.match(table, /^WORKFLOW ID\s+STATE/m);
  });

  test('metrics reports deploy frequency, lead time, change failure rate and time to restore', async () => {
    // A deploy that never gets healthy in "test" (rolled back to the version before), then a good one.
    const bad = randomSha();
    world.unhealthyCommits.add(bad);
    const badId = await run(bad);
    await waitForStatus(world.client, badId, (s) => s.state === 'failed', 'the unhealthy deploy to fail');
    const good = await run();
    await waitForStatus(world.client, good, waiting, 'the good one to reach production');
    assert.equal((await cli(['approve', good, '--env', 'production', '--as', 'bob'])).code, 0);
    await waitForStatus(world.client, good, (s) => s.state === 'succeeded', 'the good one to succeed');

    const res = await cli(['metrics', '--service', config.pushService, '--since', '1d', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout) as MetricsReport;
    assert.deepEqual(report.unreadable, []);
    const row = (env: string) => report.rows.find((r) => r.environment === env)!;
    // test: 4 healthy (the approved, rejected, cancelled and good pipelines) and 1 failure.
    assert.equal(row('test').deployments, 4);
    assert.equal(row('test').failures, 1);
    assert.equal(row('test').changeFailureRate, 1 / 5);
    assert.equal(row('test').restores, 1);
    assert.ok((row('test').timeToRestoreMedianMs ?? 0) > 0);
    assert.equal(row('production').production, true);
    assert.equal(row('production').deployments, 2);
    assert.equal(row('production').changeFailureRate, 0);
    assert.ok((row('production').leadTimeMedianMs ?? 0) > 0);
    assert.ok(Math.abs(row('production').deploymentsPerDay - 2) < 0.01, '2 deploys in a 1-day window');
    console.log(
      `[figure] metrics for ${config.pushService}: ` +
        report.rows
          .map(
            (r) =>
              `${r.environment} deploys=${r.deployments} perDay=${r.deploymentsPerDay.toFixed(2)} leadP50=${Math.round((r.leadTimeMedianMs ?? 0) / 1000)}s ` +
              `CFR=${((r.changeFailureRate ?? 0) * 100).toFixed(1)}% TTR=${Math.round((r.timeToRestoreMedianMs ?? 0) / 1000)}s`,
          )
          .join('; '),
    );
    const table = await cli(['metrics', '--service', config.pushService, '--since', '1d']);
    assert.match(table.stdout, /^SERVICE\s+ENVIRONMENT\s+DEPLOYS\s+PER DAY\s+LEAD TIME p50/m);
    assert.match(table.stdout, /production \(prod\)/);
  });
});

describe('slipway rollback', () => {
  test('rolls production back to the version before, through the rollbackEnvironment workflow', async () => {
    const res = await cli([
      'rollback',
      config.pushService,
      '--env',
      'production',
      '--reason',
      'error rate up',
      '--as',
      'carol',
      '--json',
    ]);
    assert.equal(res.code, 0, res.stderr + res.stdout);
    const out = JSON.parse(res.stdout) as { workflowId: string; outcome: { kind: string } };
    assert.match(out.workflowId, new RegExp(`^rollback/${config.pushService}/production/`));
    assert.equal(out.outcome.kind, 'healthy');
    const last = world.fake.rollbacks.at(-1);
    assert.equal(last?.appId, `/production/${config.pushService}`);
    assert.match(last?.reason ?? '', /error rate up/);
  });
});

describe('slipway demo', () => {
  test('turns examples/hello-node into a git repo and delivers it through a GitLab push webhook', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-demo-state-'));
    const demoConfig = mkdtempSync(path.join(os.tmpdir(), 'slipway-demo-config-'));
    mkdirSync(path.join(demoConfig, 'services'));
    writeFileSync(
      path.join(demoConfig, 'slipway.yaml'),
      'environments:\n  - name: test\n    marathon: http://127.0.0.1:1\n',
    );
    writeFileSync(
      path.join(demoConfig, 'services', 'hello-node.yaml'),
      `name: hello-node\ntype: node\nrepository: ${path.join(stateDir, 'demo', 'hello-node')}\ngitlab: { project: demo/hello-node, branches: [main] }\n`,
    );
    const token = `demo-${randomUUID()}`;
    const server = await startWebhookServer({ port: 0, client: world.client, token, configDir: demoConfig });
    try {
      writeFileSync(
        path.join(stateDir, 'endpoints.json'),
        JSON.stringify({
          webhook: `${server.url}/webhooks/gitlab`,
          temporalUi: 'http://127.0.0.1:8233',
          configDir: demoConfig,
        }),
      );
      writeFileSync(path.join(stateDir, 'webhook-token'), token);
      const env = { ...cliEnv, SLIPWAY_STATE_DIR: stateDir, SLIPWAY_WEBHOOK_TOKEN: '' };
      const first = await cli(['demo'], env);
      assert.equal(first.code, 0, first.stderr + first.stdout);
      const id = /Pipeline:\s+(\S+)/.exec(first.stdout)?.[1] ?? '';
      assert.match(id, /^pipeline\/hello-node\/[0-9a-f]{40}$/);
      assert.match(
        first.stdout,
        new RegExp(
          `Temporal UI:\\s+http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(id).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`,
        ),
      );
      const status = await waitForStatus(
        world.client,
        id,
        (s) => s.state === 'waiting-approval',
        'the demo pipeline to reach production',
      );
      assert.equal(status.trigger.kind, 'gitlab-push');
      assert.equal(status.author?.username, 'demo');
      // A second demo delivers a new commit, hence a new pipeline.
      const second = await cli(['demo', '--json'], env);
      assert.equal(second.code, 0, second.stderr);
      const answer = JSON.parse(second.stdout) as { status: number; workflowId: string; deduplicated: boolean };
      assert.equal(answer.status, 202);
      assert.notEqual(answer.workflowId, id);
      assert.equal(answer.deduplicated, false);
    } finally {
      await server.close();
    }
  });
});

describe('slipway worker', () => {
  test('a malformed numeric setting stops it with a message naming the variable', async () => {
    for (const [name, value] of [
      ['SLIPWAY_WORKFLOW_CACHE', 'lots'],
      ['SLIPWAY_BUILD_CONCURRENCY', '0'],
    ] as const) {
      const res = await cli(['worker'], { ...cliEnv, [name]: value });
      assert.notEqual(res.code, 0, `${name}=${value} must stop the worker`);
      assert.match(res.stderr, new RegExp(`${name}: expected a whole number of at least \\d, got "${value}"`));
    }
  });
});
