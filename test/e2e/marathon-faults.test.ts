// Marathon misbehaving, on the real stack (emulator in containers mode, workers as processes):
// a flaky leaderless Marathon (20 % 503 plus latency) is ridden out; a 422 fails the pipeline at
// once with Marathon's own message; a version that never turns healthy hits our timeout and is
// rolled back while the previous version keeps serving.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { sendDecision, startPipeline } from '../../client/pipelines';
import type { PipelineStatus } from '../../common/contract';
import { startStack, type Stack } from '../helpers/stack';
import { until } from '../helpers/wait';

// Every stack's workers poll the same task queues, so only one stack lives at a time: each test
// stops the one before it (a worker with another stack's config would fail its pipelines).
let current: Stack | undefined;
after(async () => {
  await current?.stop();
});

async function newStack(opts: Parameters<typeof startStack>[0]): Promise<Stack> {
  await current?.stop();
  const stack = await startStack(opts);
  current = stack;
  stack.startWorker('deploy');
  stack.startWorker('build');
  return stack;
}

async function statusOf(stack: Stack, workflowId: string): Promise<PipelineStatus> {
  return await stack.client.workflow.getHandle(workflowId).query<PipelineStatus>('status');
}

async function run(stack: Stack, commit: string): Promise<string> {
  const { workflowId } = await startPipeline(stack.client, {
    service: stack.service,
    commit,
    ref: 'refs/heads/main',
    trigger: { kind: 'manual', user: 'e2e' },
  });
  return workflowId;
}

async function approveProductionWhenAsked(stack: Stack, workflowId: string): Promise<void> {
  await until('production to wait for approval', 240_000, async () => {
    const s = await statusOf(stack, workflowId);
    if (['failed', 'cancelled', 'superseded'].includes(s.state))
      throw new Error(`pipeline ended ${s.state}: ${s.error}`);
    return s.environments.find((e) => e.name === 'production')?.state === 'waiting-approval' ? true : undefined;
  });
  const outcome = await sendDecision(stack.client, workflowId, 'approve', {
    environment: 'production',
    approver: 'alice',
    comment: 'faults test',
  });
  assert.ok(outcome.ok, JSON.stringify(outcome));
}

/** The deploying PUTs Marathon accepted for an app (a 503 answered before Marathon looked is no deploy). */
function acceptedPuts(stack: Stack, environment: string): number {
  return stack.emulator
    .requests()
    .filter(
      (r) =>
        r.method === 'PUT' &&
        r.path === `/v2/apps/${environment}/${stack.service}` &&
        r.status >= 200 &&
        r.status < 300,
    ).length;
}

interface TaskView {
  id: string;
  state: string;
  host: string;
  ports: number[];
  healthCheckResults?: { alive: boolean }[];
}

async function healthyTasks(stack: Stack, environment: string): Promise<TaskView[]> {
  const res = await fetch(`${stack.marathonUrl}/v2/apps/${environment}/${stack.service}?embed=app.tasks`);
  const body = (await res.json()) as { app: { tasks: TaskView[] } };
  // As marathon-lb does: running (not being killed) and passing every health check.
  return body.app.tasks.filter(
    (t) => t.state === 'TASK_RUNNING' && t.healthCheckResults?.length && t.healthCheckResults.every((h) => h.alive),
  );
}

/**
 * What a load balancer in front of Marathon would route to: the tasks whose health checks pass.
 * A task Marathon began to kill between our listing and our request is a race, not an outage (a
 * load balancer drops it on TASK_KILLING): it is left out; any other task that does not answer is
 * an error.
 */
async function versionsServed(stack: Stack, environment: string): Promise<string[]> {
  const versions: string[] = [];
  for (const t of await healthyTasks(stack, environment)) {
    try {
      const answer = await fetch(`http://${t.host}:${t.ports[0]}/version`, { signal: AbortSignal.timeout(2000) });
      versions.push(((await answer.json()) as { commit: string }).commit);
    } catch (err) {
      const stillHealthy = (await healthyTasks(stack, environment)).some((x) => x.id === t.id);
      if (stillHealthy) throw new Error(`healthy task ${t.id} did not answer: ${(err as Error).message}`);
    }
  }
  return versions;
}

describe('a flaky Marathon: 20 % of requests answered 503, 150 ms added to every one', () => {
  test('the pipeline completes, and each environment got exactly one deployment', async () => {
    const stack = await newStack({
      marathonMode: 'containers',
      example: 'hello-node',
      emulator: { faults: { failureRate: 0.2, latencyMs: 150 } },
    });
    const commit = stack.commit('flaky marathon');
    const workflowId = await run(stack, commit);
    await approveProductionWhenAsked(stack, workflowId);
    const result = (await stack.client.workflow.getHandle(workflowId).result()) as PipelineStatus;
    assert.equal(result.state, 'succeeded', result.error);

    const requests = stack.emulator.requests().filter((r) => r.path.startsWith('/v2/'));
    const refused = requests.filter((r) => r.status === 503).length;
    assert.ok(refused > 0, `the fault was active (${refused} of ${requests.length} requests answered 503)`);
    for (const environment of ['test', 'integration', 'production'])
      assert.equal(acceptedPuts(stack, environment), 1, `one deployment to ${environment}`);
  });
});

describe('Marathon refuses the app definition with 422', () => {
  test('the pipeline fails at once with Marathon message, and nothing is retried', async () => {
    const stack = await newStack({ marathonMode: 'containers', example: 'hello-node' });
    // A constraint operator Marathon does not know: our own checks let it through, Marathon's do not.
    appendFileSync(
      path.join(stack.configDir, 'services', `${stack.service}.yaml`),
      ['  test:', '    constraints: [[hostname, LIKEWISE, "node-1"]]', ''].join('\n'),
    );
    const commit = stack.commit('bad constraint');
    const started = Date.now();
    const workflowId = await run(stack, commit);
    const result = await stack.client.workflow
      .getHandle(workflowId)
      .result()
      .then(
        () => assert.fail('the pipeline should have failed'),
        (err: Error & { cause?: Error }) => err,
      );
    const status = await statusOf(stack, workflowId);
    assert.equal(status.state, 'failed');
    const testEnv = status.environments.find((e) => e.name === 'test')!;
    assert.equal(testEnv.state, 'failed');
    assert.match(testEnv.error ?? '', /422/);
    assert.match(testEnv.error ?? '', /Constraint operator must be one of/);
    assert.match(String(result.cause?.message ?? result.message), /Constraint operator must be one of/);
    assert.deepEqual(
      status.environments.slice(1).map((e) => e.state),
      ['skipped', 'skipped'],
    );
    const puts = stack.emulator.requests().filter((r) => r.method === 'PUT' && r.path.includes(stack.service));
    assert.equal(puts.length, 1, 'a 422 is not retried');
    assert.equal(puts[0]?.status, 422);
    console.log(`422 → pipeline failed ${((Date.now() - started) / 1000).toFixed(1)} s after start (build included)`);
  });
});

describe('a version that never becomes healthy', () => {
  test('hits our health timeout and is rolled back while the previous version keeps serving', async () => {
    const stack = await newStack({ marathonMode: 'containers', example: 'hello-node', healthTimeout: '40s' });
    const good = stack.commit('good version');
    const first = await run(stack, good);
    await until('the good version to be healthy in test', 240_000, async () => {
      const s = await statusOf(stack, first);
      return s.environments[0]?.state === 'healthy' ? true : undefined;
    });
    assert.deepEqual(await versionsServed(stack, 'test'), [good]);

    const broken = stack.commit('health endpoint broken', (dir) => {
      const file = path.join(dir, 'src', 'server.js');
      const source = readFileSync(file, 'utf8');
      const patched = source.replace(
        "if (path === '/health') return send(res, 200, { status: 'ok' });",
        "if (path === '/health') return send(res, 500, { status: 'broken' });",
      );
      assert.notEqual(patched, source, 'the example still has the health line this test breaks');
      writeFileSync(file, patched);
    });
    const second = await run(stack, broken);

    // While the broken version deploys and fails, the good one answers every request. A sampler
    // asks test what it serves, pausing 500 ms between rounds (a steady probe, as a load balancer's
    // health check would be, not a wait for anything), until the pipeline has ended.
    let ended = false;
    const outcome = stack.client.workflow
      .getHandle(second)
      .result()
      .then(
        () => 'succeeded',
        (err: Error) => err.message,
      )
      .finally(() => {
        ended = true;
      });
    const answers: string[] = [];
    const failures: string[] = [];
    while (!ended) {
      try {
        answers.push(...(await versionsServed(stack, 'test')));
      } catch (err) {
        failures.push((err as Error).message);
      }
      await Promise.race([outcome, delay(500)]);
    }
    assert.notEqual(await outcome, 'succeeded');

    const status = await statusOf(stack, second);
    assert.equal(status.state, 'failed');
    const testEnv = status.environments.find((e) => e.name === 'test')!;
    assert.equal(testEnv.state, 'rolled-back', testEnv.error);
    assert.match(status.error ?? '', /not healthy within 40 s/);
    assert.deepEqual(await versionsServed(stack, 'test'), [good], 'the good version serves after the rollback');
    assert.ok(answers.length > 10, `${answers.length} answers while the broken version was tried`);
    assert.deepEqual(failures, [], 'no request failed while the broken version was tried');
    assert.ok(
      answers.every((c) => c === good),
      'only the good version answered (the broken one never passed health)',
    );
    await stack.client.workflow.getHandle(first).cancel();
  });
});
