// `slipway envs` as people run it (its own process, Temporal from TEMPORAL_ADDRESS, the deploy
// config from SLIPWAY_CONFIG_DIR) against real lanes that deployed to Marathon emulators: one
// service delivered to production with alice's approval, one waiting at production's gate. The
// table and the JSON must say what the lanes deployed and what Marathon runs; with production's
// Marathon gone, production's entries say so while test and integration are still listed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Inventory, PipelineStatus } from '../../common/contract';
import { startDeliveredStack, type DeliveredStack } from '../helpers/delivered-stack';
import { temporalAddress } from '../helpers/env';
import { runCli } from '../helpers/cli';

let world: DeliveredStack | undefined;
let delivered: PipelineStatus;
let waiting: PipelineStatus;
let cliEnv: NodeJS.ProcessEnv;

before(async () => {
  world = await startDeliveredStack('envs-cli');
  const [a, b] = world.stack.services as [string, string];
  const [gateA, gateB] = await Promise.all([world.toProductionGate(a), world.toProductionGate(b)]);
  delivered = await world.approveProduction(gateA.workflowId, 'alice');
  waiting = gateB;
  cliEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: temporalAddress(),
    SLIPWAY_CONFIG_DIR: world.stack.configDir,
    SLIPWAY_LOG_LEVEL: 'warn',
    SLIPWAY_STATE_DIR: mkdtempSync(path.join(os.tmpdir(), 'slipway-envs-state-')),
  };
});

after(async () => {
  await world?.stop();
});

const cli = (args: string[]) => runCli(args, cliEnv);

const envOf = (inv: Inventory, name: string) => {
  const env = inv.environments.find((e) => e.name === name);
  assert.ok(env, `environment ${name} in ${JSON.stringify(inv.environments.map((e) => e.name))}`);
  return env;
};

test('the table says what runs where, who approved it and what Marathon runs', async () => {
  const res = await cli(['envs']);
  assert.equal(res.code, 0, res.stderr);
  console.log(res.stdout);
  const a = delivered.service;
  const b = waiting.service;
  const sha = delivered.commit.slice(0, 12);
  const digest = (delivered.image ?? '').split('@')[1]?.slice(0, 19) ?? '';
  // Each environment heads its table with Marathon's totals: production runs a's 2 instances.
  assert.match(
    res.stdout,
    /^production {2}http:\/\/\S+ {2}1 apps, 2\/2 instances running \(2 healthy\), 0\.2 cpus, 256 MiB in use$/m,
  );
  assert.match(
    res.stdout,
    /^test {2}http:\/\/\S+ {2}2 apps, 2\/2 instances running \(2 healthy\), 0\.2 cpus, 256 MiB in use$/m,
  );
  const rows = res.stdout.split('\n');
  const productionStart = rows.findIndex((l) => l.startsWith('production '));
  const productionRows = rows.slice(productionStart, productionStart + 5);
  const rowA = productionRows.find((l) => l.startsWith(`${a} `));
  assert.ok(rowA, res.stdout);
  assert.match(
    rowA,
    new RegExp(
      `^${a}\\s+${sha}\\s+${digest}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ \\(\\S+ ago\\)\\s+alice\\s+2/2 \\(2 healthy\\)\\s+0\\.1\\s+128$`,
    ),
  );
  const rowB = productionRows.find((l) => l.startsWith(`${b} `));
  assert.ok(rowB, res.stdout);
  assert.match(rowB, new RegExp(`^${b}\\s+\\(none\\)\\s+no app\\s+waiting for approval: ${waiting.workflowId}$`));
  // In test nobody had to approve: the gate is production's only.
  const testStart = rows.findIndex((l) => l.startsWith('test '));
  assert.match(rows.slice(testStart).find((l) => l.startsWith(`${b} `)) ?? '', /\bno gate\s+1\/1 \(1 healthy\)/);
  assert.match(
    res.stdout,
    new RegExp(`^Waiting for approval:\\n.*\\n${waiting.workflowId.replace(/\//g, '\\/')}\\s+production\\s`, 'm'),
  );
});

test('--json carries the whole digest, the approval and live Marathon figures', async () => {
  const res = await cli(['envs', '--json', '--service', delivered.service]);
  assert.equal(res.code, 0, res.stderr);
  const inv = JSON.parse(res.stdout) as Inventory;
  const production = envOf(inv, 'production');
  assert.equal(production.entries.length, 1);
  const entry = production.entries[0]!;
  assert.equal(entry.deployed?.pipelineId, delivered.workflowId);
  assert.equal(entry.deployed?.image, delivered.image);
  assert.match(entry.deployed?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(
    entry.deployed?.approvedBy.map((x) => [x.approver, x.verified, x.channel]),
    [['alice', false, 'update']],
  );
  assert.equal(entry.deployed?.gated, true);
  assert.equal(entry.deployed?.author, 'Carol');
  // What Marathon says, read back from the emulator itself.
  const app = (await (
    await fetch(`${world!.stack.emulatorFor('production').url}/v2/apps${entry.marathon.appId}`)
  ).json()) as { app: { tasksRunning: number; version: string } };
  assert.equal(entry.marathon.tasksRunning, app.app.tasksRunning);
  assert.equal(entry.marathon.version, app.app.version);
  assert.equal(entry.marathon.image, delivered.image);
  assert.deepEqual(production.totals, { apps: 1, instances: 2, tasksRunning: 2, tasksHealthy: 2, cpus: 0.2, mem: 256 });
  assert.equal(entry.drift, undefined, 'nothing fills drift here');
  const since = Date.parse(entry.deployed?.since ?? '');
  assert.ok(since <= Date.now() && since > Date.now() - 5 * 60_000, entry.deployed?.since);
});

test('a failed deploy is listed with its reason; its environment keeps what ran before', async () => {
  const failed = await world!.failInTest(delivered.service);
  const res = await cli(['envs', '--json', '--env', 'test']);
  assert.equal(res.code, 0, res.stderr);
  const inv = JSON.parse(res.stdout) as Inventory;
  const failure = inv.recentFailures.find((f) => f.workflowId === failed.workflowId);
  assert.ok(failure, JSON.stringify(inv.recentFailures));
  assert.equal(failure.error, failed.error);
  assert.match(failure.error ?? '', /test/);
  const entry = envOf(inv, 'test').entries.find((e) => e.service === delivered.service);
  assert.equal(entry?.deployed?.commit, delivered.commit, 'the rollback left the delivered version in test');
  assert.equal(entry?.marathon.tasksHealthy, 1);
  const table = await cli(['envs', '--env', 'test']);
  // Visibility keeps no environment for a pipeline that ended; its error names the environment.
  assert.match(
    table.stdout,
    new RegExp(
      `^Recent failures:\\n.*\\n${failed.workflowId}\\s+\\d{4}-\\S+ \\S+ \\(\\S+ ago\\)\\s+test: .* rolled back to `,
      'm',
    ),
  );
});

test('a Marathon that does not answer marks its environment; the others are still listed', async () => {
  await world!.stack.emulatorFor('production').close();
  const res = await cli(['envs', '--json']);
  assert.equal(res.code, 0, res.stderr);
  const inv = JSON.parse(res.stdout) as Inventory;
  const production = envOf(inv, 'production');
  assert.match(
    production.marathonError ?? '',
    /Marathon http:\/\/127\.0\.0\.1:\d+ \(environment production\) unreachable/,
  );
  for (const entry of production.entries) assert.match(entry.marathon.error ?? '', /unreachable/);
  // The lanes still answer: production's deployed version is listed all the same.
  assert.equal(production.entries.find((e) => e.service === delivered.service)?.deployed?.commit, delivered.commit);
  assert.deepEqual(production.totals, { apps: 0, instances: 0, tasksRunning: 0, tasksHealthy: 0, cpus: 0, mem: 0 });
  const test = envOf(inv, 'test');
  assert.equal(test.marathonError, undefined);
  assert.equal(test.totals.tasksRunning, 2);
  const table = await cli(['envs', '--env', 'production']);
  assert.equal(table.code, 0, table.stderr);
  console.log(table.stdout);
  assert.match(
    table.stdout,
    /^production {2}http:\/\/\S+ {2}Marathon unreadable: Marathon http:\/\/127\.0\.0\.1:\d+ \(environment production\) unreachable/m,
  );
  assert.equal((table.stdout.match(/unreachable/g) ?? []).length, 1, 'said once, not per service');
  assert.doesNotMatch(table.stdout, /^integration /m);
});

test('unknown names are refused with what was expected; --help shows examples', async () => {
  const help = await cli(['envs', '--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /Examples:\n {2}slipway envs\n/);
  const env = await cli(['envs', '--env', 'staging']);
  assert.equal(env.code, 1);
  assert.match(env.stderr, /--env "staging": expected one of test, integration, production/);
  const service = await cli(['envs', '--service', 'nope']);
  assert.equal(service.code, 1);
  assert.match(service.stderr, /unknown service "nope": expected one of /);
});
