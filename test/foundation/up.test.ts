// `slipway up` (what `npm start` runs) as a user meets it: it starts the stack, writes every URL
// to endpoints.json once all answer, says so when a second one is started, and on SIGTERM stops
// everything it started. Broken surroundings (a busy port, a temporal CLI that does not run) give
// one clear line and leave nothing behind. Each run gets its own state folder and free ports, and
// uses the harness's registry.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { isPortOpen } from '../../dev/process';
import { registryAddress } from '../helpers/env';
import { until } from '../helpers/wait';
import { descendants, running, startUp, upPorts as ports } from '../helpers/up-process';

/** The shared `until`, for probes that answer yes or no. */
const waitFor = (what: string, ms: number, probe: () => boolean | Promise<boolean>) =>
  until(what, ms, async () => ((await probe()) ? true : undefined), { intervalMs: 200 });

test('up starts the stack, writes endpoints.json, refuses a second copy, and SIGTERM leaves nothing behind', async () => {
  const env = await ports();
  const run = startUp(env);
  const endpointsFile = path.join(run.stateDir, 'endpoints.json');
  try {
    await Promise.race([
      waitFor('endpoints.json', 120_000, () => existsSync(endpointsFile)),
      run.exited.then((code) => assert.fail(`up exited (${code}) before it was ready:\n${run.output()}`)),
    ]);
    const endpoints = JSON.parse(readFileSync(endpointsFile, 'utf8')) as Record<
      'temporalAddress' | 'temporalUi' | 'registry' | 'marathon' | 'webhook',
      string
    >;
    assert.equal(endpoints.temporalAddress, `127.0.0.1:${env.TEMPORAL_PORT}`);
    assert.equal(endpoints.registry, registryAddress());
    assert.ok(await isPortOpen(Number(env.TEMPORAL_PORT)), 'Temporal gRPC answers');
    assert.equal((await fetch(endpoints.temporalUi!)).status, 200, 'the Temporal UI answers');
    assert.equal((await fetch(`${endpoints.marathon}/ping`)).status, 200, 'the Marathon emulator answers');
    const health = await fetch(endpoints.webhook.replace('/webhooks/gitlab', '/healthz'));
    assert.equal(health.status, 200, 'the webhook server answers and reaches Temporal');
    for (const url of [endpoints.temporalUi, endpoints.temporalAddress, endpoints.marathon, endpoints.webhook])
      assert.ok(run.output().includes(url!), `up printed ${url}`);
    assert.match(run.output(), /Marathon emulator: a development stand-in/);
    // The newcomer's first pipeline: examples/hello-node pushed through the webhook just started.
    await waitFor('the demo pipeline', 60_000, () => /Demo: examples\/hello-node was pushed/.test(run.output()));
    const demo = /Pipeline +(pipeline\/hello-node\/[0-9a-f]{40})/.exec(run.output());
    assert.ok(demo, `up started the demo pipeline:\n${run.output()}`);
    const status = await fetch(endpoints.webhook.replace('/webhooks/gitlab', `/pipelines/${demo[1]}`));
    assert.equal(status.status, 200, 'the demo pipeline exists');

    const second = startUp(await ports(), { stateDir: run.stateDir });
    assert.equal(await second.exited, 0);
    assert.match(second.output(), new RegExp(`slipway up is already running \\(pid ${run.child.pid}\\)`));
    assert.ok(second.output().includes(endpoints.webhook), 'the second up shows the running one’s endpoints');

    const tree = descendants(run.child.pid!);
    assert.ok(tree.length >= 1, 'up runs the Temporal dev server as a child');
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0);
    await waitFor('every process up started to end', 15_000, () => tree.every((p) => !running(p)));
    for (const port of Object.values(env)) assert.ok(!(await isPortOpen(Number(port))), `port ${port} is free again`);
    assert.ok(!existsSync(endpointsFile), 'endpoints.json is removed');
    assert.ok(!existsSync(path.join(run.stateDir, 'up.pid')), 'the lock file is removed');
  } finally {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  }
});

test('a busy Temporal port gives one clear line and leaves nothing running', async () => {
  const env = await ports();
  const blocker = net.createServer().listen(Number(env.TEMPORAL_PORT), '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  try {
    const run = startUp(env);
    const code = await run.exited;
    assert.notEqual(code, 0);
    const lines = run.output().trim().split('\n');
    assert.equal(lines.length, 1, `one line, got:\n${run.output()}`);
    assert.match(lines[0]!, new RegExp(`port ${env.TEMPORAL_PORT}.*(in use|busy)`, 'i'));
    for (const port of [env.TEMPORAL_UI_PORT, env.SLIPWAY_MARATHON_PORT, env.SLIPWAY_WEBHOOK_PORT])
      assert.ok(!(await isPortOpen(Number(port))), `nothing listens on ${port}`);
    assert.ok(!existsSync(path.join(run.stateDir, 'up.pid')), 'the lock file is removed');
  } finally {
    blocker.close();
  }
});

test('a temporal CLI that does not run gives one clear line naming it', async () => {
  const env = await ports();
  const run = startUp({ ...env, TEMPORAL_CLI_PATH: '/bin/false' });
  const code = await run.exited;
  assert.notEqual(code, 0);
  const lines = run.output().trim().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${run.output()}`);
  assert.match(lines[0]!, /\/bin\/false/);
  for (const port of Object.values(env)) assert.ok(!(await isPortOpen(Number(port))), `nothing listens on ${port}`);
});
