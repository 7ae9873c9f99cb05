// Drift on the real stack: a real Temporal dev server, a deploy worker with Slipway's real
// workflows and deploy activities (only checkout, build and push are no-ops: no image is needed by
// a simulated Marathon), and two Marathon emulators, test in 1.5's shape and production in 1.4's.
// A pipeline delivers a commit; the test then edits the apps directly through Marathon's API as an
// operator would in the UI (instances in test; env, a secret included, in production), and
// `slipway drift`, run as a user runs it, reports exactly those fields, no secret value, and exit
// status 2. The Schedule `slipway drift --schedule` creates runs the same check, and the gauge
// slipway_drift_fields follows it.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { auditDir, readAudit } from '../../common/audit-log';
import { driftScheduleId, type DriftEnvironmentReport, type DriftReport } from '../../common/contract';
import { metricsRegistry } from '../../common/prometheus';
import { connectClient, temporalSettingsFromEnv } from '../../common/temporal-connection';
import { startMarathonEmulator, type MarathonEmulator } from '../../dev/marathon-emulator';
import { collectInventory } from '../../client/inventory';
import { loadDeployConfig } from '../../common/config';
import { lastScheduledDrift, unscheduleDriftCheck } from '../../client/drift';
import { startPipeline } from '../../client/pipelines';
import { createWorkers, type WorkerSet } from '../../worker';
import { temporalAddress } from '../helpers/env';
import { quietTemporalRuntime } from '../helpers/runtime';
import { waitForStatus } from '../helpers/status';
import { until } from '../helpers/wait';
import { runCli } from '../helpers/cli';
import { randomSha } from '../webhook/world';

const suffix = randomUUID().slice(0, 6);
const service = `drift-${suffix}`;
const secretValue = `s3cret-${randomUUID()}`;
const digest = `127.0.0.1:5000/${service}@sha256:${'d'.repeat(64)}`;
let emulator15: MarathonEmulator;
let emulator14: MarathonEmulator;
let workers: WorkerSet;
let running: Promise<void>;
let client: Client;
let cliEnv: NodeJS.ProcessEnv;
let configDir: string;

const emulator = (extra: { apiShape?: '1.4' }) =>
  startMarathonEmulator({
    mode: 'simulated',
    simulatedHealthyAfterMs: 20,
    simulatedLaunchMs: 5,
    timeScale: 0.02,
    tickMs: 20,
    port: 0,
    ...extra,
  });

before(async () => {
  quietTemporalRuntime();
  emulator15 = await emulator({});
  emulator14 = await emulator({ apiShape: '1.4' });
  const dir = mkdtempSync(path.join(os.tmpdir(), `slipway-drift-${suffix}-`));
  configDir = dir;
  mkdirSync(path.join(dir, 'services'));
  writeFileSync(
    path.join(dir, 'slipway.yaml'),
    [
      'environments:',
      `  - { name: test, marathon: "${emulator15.url}", healthTimeout: 60s }`,
      `  - { name: production, marathon: "${emulator14.url}", healthTimeout: 60s }`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(dir, 'services', `${service}.yaml`),
    [
      `name: ${service}`,
      'type: node',
      'repository: /nonexistent',
      'app:',
      '  instances: 1',
      '  env: { LOG_LEVEL: info, DB_PASSWORD: { secret: { env: DRIFT_TEST_DB_PASSWORD } } }',
      '  healthCheck: { path: /health, gracePeriodSeconds: 5, intervalSeconds: 1, timeoutSeconds: 1 }',
      '',
    ].join('\n'),
  );
  // The worker runs in this process: its config, and the secret only it can read.
  Object.assign(process.env, {
    SLIPWAY_CONFIG_DIR: dir,
    TEMPORAL_ADDRESS: temporalAddress(),
    SLIPWAY_BUILD_HOST_ID: `drift-${suffix}`,
    DRIFT_TEST_DB_PASSWORD: secretValue,
  });
  cliEnv = {
    ...process.env,
    DRIFT_TEST_DB_PASSWORD: '',
    SLIPWAY_LOG_LEVEL: 'warn',
    SLIPWAY_STATE_DIR: mkdtempSync(path.join(os.tmpdir(), 'slipway-drift-state-')),
  };
  const settings = temporalSettingsFromEnv();
  client = await connectClient(settings);
  const noop = async () => undefined;
  workers = await createWorkers({
    roles: ['deploy', 'build'],
    settings,
    client,
    activityOverrides: {
      checkoutSource: async (input: { buildId: string; commit: string }) => ({
        workdir: `/nonexistent/${input.buildId}`,
        commit: input.commit,
        committedAt: new Date().toISOString(),
        author: 'drift-test',
      }),
      removeWorkdir: noop,
      buildImage: async () => ({ image: digest, imageId: 'sha256:x', durationMs: 0, steps: 0, cachedSteps: 0 }),
      pushImage: async () => ({ digestRef: digest, digest: digest.split('@')[1] as string, alreadyPresent: true }),
      // The no-op push left nothing in a registry: the promotion `drift --fix` starts asks the
      // registry for the digest the (no-op) build pipeline reported.
      verifyPromotionImage: async () => ({ digestRef: digest }),
    } as never,
  });
  running = workers.run();
});

after(async () => {
  await unscheduleDriftCheck(client).catch(() => undefined);
  for await (const info of client.workflow.list({
    query: `WorkflowId STARTS_WITH 'lane/${service}/' AND ExecutionStatus = 'Running'`,
  }))
    await client.workflow
      .getHandle(info.workflowId)
      .terminate('test over')
      .catch(() => undefined);
  workers?.shutdown();
  await running;
  await client?.connection.close();
  await emulator15?.close();
  await emulator14?.close();
});

const cli = (args: string[]) => runCli(args, cliEnv);

async function marathon(url: string, method: string, route: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${route}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(res.ok, `${method} ${route}: ${res.status} ${await res.clone().text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** An edit through Marathon's API, as the UI sends it; returns once Marathon's deployment is over. */
async function editApp(url: string, appId: string, edit: (app: Record<string, unknown>) => Record<string, unknown>) {
  const { app } = (await marathon(url, 'GET', `/v2/apps${appId}`)) as { app: Record<string, unknown> };
  await marathon(url, 'PUT', `/v2/apps${appId}`, edit(app));
  await until(`Marathon to finish the edit of ${appId}`, 30_000, async () => {
    const now = (await marathon(url, 'GET', `/v2/apps${appId}`)) as { app: { deployments: unknown[] } };
    return now.app.deployments.length === 0 ? true : undefined;
  });
}

test('typos and bad intervals are refused before anything runs, naming what was expected', async () => {
  const typo = await cli(['drift', 'no-such-service']);
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, new RegExp(`unknown service "no-such-service": expected one of ${service}`));
  const env = await cli(['drift', '--env', 'staging']);
  assert.match(env.stderr, /unknown environment "staging": expected one of test, production/);
  const interval = await cli(['drift', '--schedule', '30s']);
  assert.equal(interval.code, 1);
  assert.match(
    interval.stderr,
    /--schedule "30s": expected an interval of at least a minute, like "15m" or "every 1h"/,
  );
});

const byEnvironment = (report: DriftReport) =>
  Object.fromEntries(report.environments.filter((e) => e.service === service).map((e) => [e.environment, e])) as Record<
    string,
    DriftEnvironmentReport
  >;

test('a delivered app is in sync; hand edits in Marathon are reported field by field, secrets unnamed', async () => {
  const sha = randomSha();
  const { workflowId } = await startPipeline(client, {
    service,
    commit: sha,
    ref: 'refs/heads/main',
    trigger: { kind: 'manual', user: 'drift-test' },
  });
  await waitForStatus(client, workflowId, (s) => s.state === 'succeeded', 'the delivery to succeed', 120_000);

  const clean = await cli(['drift', service, '--json']);
  assert.equal(clean.code, 0, clean.stderr);
  const cleanEnvs = byEnvironment(JSON.parse(clean.stdout) as DriftReport);
  assert.deepEqual(
    Object.values(cleanEnvs).map((e) => [e.environment, e.state, e.commit, e.image, e.fields]),
    [
      ['test', 'in-sync', sha, digest, []],
      ['production', 'in-sync', sha, digest, []],
    ],
  );

  await editApp(emulator15.url, `/test/${service}`, () => ({ instances: 3 }));
  await editApp(emulator14.url, `/production/${service}`, (app) => ({
    env: { ...(app.env as object), LOG_LEVEL: 'debug', DB_PASSWORD: 'typed-in-the-ui' },
  }));

  const drifted = await cli(['drift', service, '--json']);
  assert.equal(drifted.code, 2, `exit 2 on drift: ${drifted.stderr}`);
  const envs = byEnvironment(JSON.parse(drifted.stdout) as DriftReport);
  assert.deepEqual(
    envs.test?.fields.map((f) => f.summary),
    ['instances: 1 rendered, 3 live'],
  );
  assert.deepEqual(
    envs.production?.fields.map((f) => f.summary),
    ['env.DB_PASSWORD differs (secret)', 'env.LOG_LEVEL: info rendered, debug live'],
  );

  const text = await cli(['drift', service, '--env', 'production']);
  assert.equal(text.code, 2, text.stderr);
  assert.match(text.stdout, /production\s+drifted\s+[0-9a-f]{12}\s+2 fields/);
  assert.match(text.stdout, /env\.DB_PASSWORD differs \(secret\)/);
  assert.doesNotMatch(text.stdout, /^\S+\s+test\s/m, '--env production checks production only');
  for (const output of [drifted.stdout, text.stdout]) {
    assert.ok(!output.includes(secretValue), 'the secret is not printed');
    assert.ok(!output.includes('typed-in-the-ui'), 'the live secret is not printed');
  }

  // The Schedule: created once, updated after; a run finds the same fields and sets the gauge.
  const created = await cli(['drift', '--schedule', 'every', '15m']);
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /Schedule slipway-drift created: a drift check every 15m/);
  const updated = await cli(['drift', '--schedule', '20m']);
  assert.match(updated.stdout, /Schedule slipway-drift updated: a drift check every 20m/);
  const description = await client.schedule.getHandle(driftScheduleId).describe();
  assert.deepEqual(
    description.spec.intervals?.map((i) => i.every),
    [20 * 60 * 1000],
  );
  await client.schedule.getHandle(driftScheduleId).trigger();
  const scheduled = await until('the scheduled drift check to finish', 60_000, () => lastScheduledDrift(client));
  const scheduledEnvs = byEnvironment(scheduled);
  assert.deepEqual(
    [scheduledEnvs.test?.fields.map((f) => f.field), scheduledEnvs.production?.fields.map((f) => f.field)],
    [['instances'], ['env.DB_PASSWORD', 'env.LOG_LEVEL']],
  );
  // The scheduled run announces each drift once: an audit line per drifted environment, whose id
  // names the drift, so the next run finding the same fields adds none.
  const driftEvents = () =>
    readAudit(auditDir(), { since: new Date(Date.now() - 3_600_000), service }).filter((e) => e.kind === 'drift');
  await until('the drift events in the audit log', 10_000, () => (driftEvents().length === 2 ? true : undefined));
  assert.deepEqual(
    driftEvents()
      .map((e) => [e.environment, e.commit])
      .sort(),
    [
      ['production', sha],
      ['test', sha],
    ],
  );
  assert.ok(!JSON.stringify(driftEvents()).includes(secretValue), 'no secret in the drift events');
  // `slipway envs` and the board mark what the Schedule's last run found.
  const inventory = await collectInventory(client, loadDeployConfig(configDir), { services: [service] });
  assert.deepEqual(
    inventory.environments.map((e) => [e.name, e.entries[0]?.drift?.drifted, e.entries[0]?.drift?.details]),
    [
      ['test', true, ['instances: 1 rendered, 3 live']],
      ['production', true, ['env.DB_PASSWORD differs (secret)', 'env.LOG_LEVEL: info rendered, debug live']],
    ],
  );
  const gauge = await metricsRegistry.getSingleMetricAsString('slipway_drift_fields');
  assert.match(gauge, new RegExp(`slipway_drift_fields\\{service="${service}",environment="test"\\} 1`));
  assert.match(gauge, new RegExp(`slipway_drift_fields\\{service="${service}",environment="production"\\} 2`));

  // An app Marathon lost: the lane deployed it, so it is reported missing.
  await marathon(emulator15.url, 'DELETE', `/v2/apps/test/${service}`);
  await until('Marathon to delete the app', 30_000, async () =>
    (await fetch(`${emulator15.url}/v2/apps/test/${service}`)).status === 404 ? true : undefined,
  );
  const lost = await cli(['drift', service, '--env', 'test', '--json']);
  assert.equal(lost.code, 2, lost.stderr);
  const lostTest = byEnvironment(JSON.parse(lost.stdout) as DriftReport).test;
  assert.deepEqual([lostTest?.state, lostTest?.reason], ['missing', `Marathon has no app /test/${service}`]);

  // --fix redeploys production's running commit, rendered from the config, through its lane.
  const fix = await cli(['drift', service, '--env', 'production', '--fix', '--as', 'carol']);
  assert.equal(fix.code, 0, fix.stderr);
  const fixId = /redeploying \S+ [0-9a-f]{12} to production: (\S+)/.exec(fix.stdout)?.[1];
  assert.ok(fixId && fixId.startsWith(`promotion/${service}/${sha}/production/`), fix.stdout);
  const fixed = await waitForStatus(client, fixId, (s) => s.state === 'succeeded', 'the drift fix', 120_000);
  assert.deepEqual(
    fixed.environments.map((e) => [e.name, e.state]),
    [['production', 'healthy']],
    'production only',
  );
  const after = await cli(['drift', service, '--env', 'production', '--json']);
  assert.equal(after.code, 0, after.stderr);
  assert.equal(byEnvironment(JSON.parse(after.stdout) as DriftReport).production?.state, 'in-sync');

  // Nothing of the secret in the drift workflows' histories.
  for await (const info of client.workflow.list({ query: `WorkflowType = 'driftCheck'` })) {
    const history = JSON.stringify(await client.workflow.getHandle(info.workflowId, info.runId).fetchHistory());
    assert.ok(!history.includes(secretValue) && !history.includes('typed-in-the-ui'), info.workflowId);
  }
});
