// Durability proof on real parts: every worker process is SIGKILLed in the middle of a pipeline —
// (a) while a deploy waits for health on the emulator in containers mode, (b) while the build
// runs on the Docker engine — and restarted; the pipeline still completes, and the emulator's
// request log shows exactly one deploying PUT per environment for the pipeline's image.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startStack, type Stack } from '../helpers/stack';
import { quietTemporalRuntime } from '../helpers/runtime';
import {
  activityAttempts,
  approveProduction,
  deploysPerEnvironment,
  finalStatus,
  pendingActivities,
  productionWaits,
  runPipeline,
  sleep,
  stopStack,
  waitFor,
  waitForStatus,
} from '../chaos/driver';

quietTemporalRuntime();
// Stacks on one Temporal server share the task queues: each test stops its own when it ends.

function startWorkers(stack: Stack) {
  stack.startWorker('deploy');
  stack.startWorker('build');
}

describe('SIGKILL of every worker while a deploy waits for health (containers mode)', () => {
  test('the pipeline completes and each environment got exactly one deploying PUT', { timeout: 420_000 }, async (t) => {
    const stack = await startStack({ marathonMode: 'containers', example: 'hello-node', healthTimeout: '240s' });
    t.after(() => stopStack(stack));
    startWorkers(stack);
    // The app answers /health with 503 for its first 12 s (inside the 15 s grace period): a health
    // wait long enough to be caught mid-way. The marker makes this image new to the Docker cache.
    const commit = stack.commit('slow to become healthy', (dir) => {
      const file = path.join(dir, 'src', 'server.js');
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
    // awaitHealthy polls /v2/deployments; seeing that after our PUT means the wait is running.
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
    await stack.killWorkers('SIGKILL');
    const killedAt = Date.now();
    await sleep(2000);
    startWorkers(stack);

    await waitForStatus(stack.client, id, productionWaits, 'production to wait for approval', 300_000);
    const approval = await approveProduction(stack.client, id, 60_000);
    assert.deepEqual(approval.accepted, true, JSON.stringify(approval));
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

    // The kill did land in the health wait: the lane's awaitHealthy needed a second attempt.
    const lane = stack.client.workflow.getHandle(`lane/${stack.service}/test`);
    const attempts = await activityAttempts(lane, 'awaitHealthy');
    assert.ok(attempts.length >= 1 && Math.max(...attempts) > 1, `awaitHealthy attempts in the lane: ${attempts}`);
    assert.deepEqual(deploysPerEnvironment(stack.emulator.requests(), status), {
      test: 1,
      integration: 1,
      production: 1,
    });
    console.log(
      `[worker-crash a] killed ${Math.round((killedAt - started) / 1000)} s in, pipeline done after ${Math.round((Date.now() - started) / 1000)} s; awaitHealthy attempts ${attempts.join(',')}`,
    );
  });
});

describe('SIGKILL of every worker during the build', () => {
  test(
    'the build resumes on the restarted host and each environment got exactly one deploying PUT',
    { timeout: 420_000 },
    async (t) => {
      const stack = await startStack({
        marathonMode: 'simulated',
        example: 'hello-node',
        healthTimeout: '240s',
        buildCommand: 'sleep 20',
      });
      t.after(() => stopStack(stack));
      startWorkers(stack);
      const commit = stack.commit('a build that takes a while', (dir) =>
        writeFileSync(path.join(dir, 'build-marker.txt'), `${randomUUID()}\n`),
      );
      const started = Date.now();
      const id = await runPipeline(stack.client, stack.service, commit);
      const handle = stack.client.workflow.getHandle(id);
      await waitForStatus(stack.client, id, (s) => s.state === 'building', 'the build to start', 120_000);
      // The build activity runs on the build host and has heartbeated: kill it mid-build.
      await waitFor('buildImage to run and heartbeat', 180_000, async () =>
        (await pendingActivities(handle)).some(
          (a) => a.type === 'buildImage' && a.state.endsWith('STARTED') && a.heartbeats,
        )
          ? true
          : undefined,
      );
      await stack.killWorkers('SIGKILL');
      const killedAt = Date.now();
      await sleep(2000);
      startWorkers(stack);

      await waitForStatus(stack.client, id, productionWaits, 'production to wait for approval', 300_000);
      const approval = await approveProduction(stack.client, id, 60_000);
      assert.deepEqual(approval.accepted, true, JSON.stringify(approval));
      const status = await finalStatus(stack.client, id);
      assert.equal(status.state, 'succeeded', JSON.stringify(status));

      const builds = await activityAttempts(handle, 'buildImage');
      assert.deepEqual(builds.length, 1, `one buildImage activity (retried, not a second build): ${builds}`);
      assert.ok((builds[0] ?? 0) > 1, `buildImage was retried after the kill: attempts ${builds}`);
      assert.deepEqual(deploysPerEnvironment(stack.emulator.requests(), status), {
        test: 1,
        integration: 1,
        production: 1,
      });
      console.log(
        `[worker-crash b] killed ${Math.round((killedAt - started) / 1000)} s in, pipeline done after ${Math.round((Date.now() - started) / 1000)} s; buildImage attempts ${builds.join(',')}`,
      );
    },
  );
});
