// Durability proof on real parts: every worker process is SIGKILLed in the middle of a pipeline —
// (a) while a deploy waits for health on the emulator in containers mode, (b) while the build
// runs on the Docker engine — and restarted; the pipeline still completes, and the emulator's
// request log shows exactly one deploying PUT per environment for the pipeline's image.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startStack, type Stack } from '../helpers/stack';
import { quietTemporalRuntime } from '../helpers/runtime';
import {
  activityAttempts,
  approveAndFinish,
  commitSlowToBecomeHealthy,
  pendingActivities,
  runPipeline,
  stopStack,
  waitForRetry,
  waitForStatus,
  waitUntilHealthWaitRuns,
} from '../chaos/driver';
import { until } from '../helpers/wait';

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
    const commit = commitSlowToBecomeHealthy(stack);
    const started = Date.now();
    const id = await runPipeline(stack.client, stack.service, commit);
    await waitUntilHealthWaitRuns(stack, id);
    await stack.killWorkers('SIGKILL');
    const killedAt = Date.now();
    // The workers stay dead until Temporal has written off the killed attempt (30 s heartbeat
    // timeout) and scheduled the next: the restarted workers must pick up a retry, not a live attempt.
    const lane = stack.client.workflow.getHandle(`lane/${stack.service}/test`);
    await waitForRetry(lane, 'awaitHealthy', 'the killed awaitHealthy attempt to time out and be retried', 120_000);
    startWorkers(stack);

    await approveAndFinish(stack, id);

    // The kill did land in the health wait: the lane's awaitHealthy needed a second attempt.
    const attempts = await activityAttempts(lane, 'awaitHealthy');
    assert.ok(attempts.length >= 1 && Math.max(...attempts) > 1, `awaitHealthy attempts in the lane: ${attempts}`);
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
      await until(
        'buildImage to run and heartbeat',
        180_000,
        async () =>
          (await pendingActivities(handle)).some(
            (a) => a.type === 'buildImage' && a.state.endsWith('STARTED') && a.heartbeats,
          )
            ? true
            : undefined,
        { intervalMs: 250, failFast: true },
      );
      await stack.killWorkers('SIGKILL');
      const killedAt = Date.now();
      // Dead until Temporal has written off the killed build (60 s heartbeat timeout) and scheduled
      // a retry, which the restarted build worker then runs on the same host queue.
      await waitForRetry(handle, 'buildImage', 'the killed buildImage attempt to time out and be retried', 180_000);
      startWorkers(stack);

      await approveAndFinish(stack, id);

      const builds = await activityAttempts(handle, 'buildImage');
      assert.deepEqual(builds.length, 1, `one buildImage activity (retried, not a second build): ${builds}`);
      assert.ok((builds[0] ?? 0) > 1, `buildImage was retried after the kill: attempts ${builds}`);
      console.log(
        `[worker-crash b] killed ${Math.round((killedAt - started) / 1000)} s in, pipeline done after ${Math.round((Date.now() - started) / 1000)} s; buildImage attempts ${builds.join(',')}`,
      );
    },
  );
});
