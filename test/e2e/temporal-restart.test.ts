// Durability proof on real parts: the Temporal server itself goes away in the middle of a pipeline
// (stopped while `test` waits for health) and comes back on the same ports with the same SQLite
// file. Workers and clients reconnect by themselves and the pipeline completes, with exactly one
// deploying PUT per environment in the emulator's request log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { freePort } from '../../dev/process';
import { startTemporalDevServer, type DevServer } from '../../dev/temporal';
import { startStack } from '../helpers/stack';
import { quietTemporalRuntime } from '../helpers/runtime';
import {
  approveProduction,
  deploysPerEnvironment,
  finalStatus,
  productionWaits,
  runPipeline,
  sleep,
  stopStack,
  waitFor,
  waitForStatus,
} from '../chaos/driver';

quietTemporalRuntime();

test(
  'a pipeline survives a restart of the Temporal server during the health wait of test',
  { timeout: 420_000 },
  async (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-temporal-restart-'));
    const ports = { port: await freePort(), uiPort: await freePort() };
    const dbFile = path.join(dir, 'temporal.db');
    let server: DevServer | undefined = await startTemporalDevServer({ ...ports, dbFile, name: 'temporal-restart' });
    t.after(async () => {
      await server?.process.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    const stack = await startStack({
      marathonMode: 'containers',
      example: 'hello-node',
      healthTimeout: '240s',
      temporalAddress: server.address,
    });
    t.after(() => stopStack(stack));
    const workers = [stack.startWorker('deploy'), stack.startWorker('build')];
    // /health answers 503 for the first 12 s (inside the grace period): a health wait to interrupt.
    const commit = stack.commit('slow to become healthy', (repo) => {
      const file = path.join(repo, 'src', 'server.js');
      const source = readFileSync(file, 'utf8').replace(
        "if (path === '/health') return send(res, 200, { status: 'ok' });",
        "if (path === '/health') return Date.now() - startedAt < 12000 ? send(res, 503, { status: 'starting' }) : send(res, 200, { status: 'ok' });",
      );
      assert.match(source, /status: 'starting'/, 'the example server changed: update this test edit');
      writeFileSync(file, `${source}// ${randomUUID()}\n`);
    });
    const started = Date.now();
    const id = await runPipeline(stack.client, stack.service, commit);
    const deploying = await waitForStatus(
      stack.client,
      id,
      (s) => s.environments.some((e) => e.name === 'test' && e.state === 'deploying' && !!e.deploymentId),
      'test to be deploying with a Marathon deployment id',
      240_000,
    );
    const putAt = await waitFor('the deploying PUT of test in the request log', 30_000, () =>
      stack.emulator
        .requests()
        .find((r) => r.method === 'PUT' && r.pipelineId === id && r.image === deploying.image && r.status < 300),
    );
    await waitFor('awaitHealthy polling the emulator', 30_000, () =>
      stack.emulator.requests().some((r) => r.path === '/v2/deployments' && r.method === 'GET' && r.time > putAt.time)
        ? true
        : undefined,
    );

    const stoppedAt = Date.now();
    await server.process.stop();
    server = undefined;
    await sleep(10_000); // longer than one poll retry, so the workers see the outage
    server = await startTemporalDevServer({ ...ports, dbFile, name: 'temporal-restart' });
    const downMs = Date.now() - stoppedAt;

    await waitForStatus(stack.client, id, productionWaits, 'production to wait for approval', 300_000);
    const approval = await approveProduction(stack.client, id, 60_000);
    assert.equal(approval.accepted, true, JSON.stringify(approval));
    const status = await finalStatus(stack.client, id);
    assert.equal(status.state, 'succeeded', JSON.stringify(status));
    assert.deepEqual(
      status.environments.map((e) => [e.name, e.state]),
      [
        ['test', 'healthy'],
        ['integration', 'healthy'],
        ['production', 'healthy'],
      ],
    );
    // The workers that were running before the restart did the work: none died or was restarted.
    assert.deepEqual(
      workers.map((w) => w.exitCode ?? w.signalCode),
      [null, null],
    );
    assert.deepEqual(deploysPerEnvironment(stack.emulator.requests(), status), {
      test: 1,
      integration: 1,
      production: 1,
    });
    console.log(
      `[temporal-restart] server down ${(downMs / 1000).toFixed(1)} s (stopped ${Math.round((stoppedAt - started) / 1000)} s in), pipeline done after ${Math.round((Date.now() - started) / 1000)} s`,
    );
  },
);
