// deliveryPipeline and environmentLane on Temporal's time-skipping test server, with the outside
// world faked at the activity boundary (test/workflows/fake-world.ts). Asserts the durable
// behaviour: order of environments, one digest everywhere, approvals and their refusals, the
// approval timeout, health failure -> rollback, cancel -> rollback, supersede, one deploy at a time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { Client, WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporalTestServerPath } from '../helpers/env';
import { recordHistory } from '../helpers/history';
import { until } from '../helpers/wait';
import { quietTemporalRuntime, registerSearchAttributes } from '../helpers/runtime';
import { createFakeWorld } from './fake-world';
import {
  approveSignal,
  approveUpdate,
  pipelineWorkflowId,
  rejectUpdate,
  statusQuery,
  type PipelineInput,
  type PipelineStatus,
} from '../../common/contract';
import { deliveryPipeline, rollbackEnvironment } from '../../workflows';

quietTemporalRuntime();

let env: TestWorkflowEnvironment;
/**
 * A client that never lets the server skip time. The environment's own client skips time while it
 * waits for a result; with only the lanes' run timeouts left (the test server's default is ten
 * years), a skip ends every lane. Only the approval-timeout test waits through env.client.
 */
let client: Client;
let world: ReturnType<typeof createFakeWorld>;
let workers: Worker[];
let running: Promise<unknown>;
const unhealthyCommits = new Set<string>();
const slowCommits = new Map<string, number>();

before(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalTestServerPath() } },
  });
  await registerSearchAttributes(env.connection);
  client = new Client({ connection: env.connection, namespace: env.namespace });
  world = createFakeWorld({ client, unhealthyCommits, slowCommits, healthDelayMs: 50 });
  const connection = env.nativeConnection;
  workers = [
    await Worker.create({
      connection,
      activities: world.deploy,
      taskQueue: 'slipway',
      workflowsPath: require.resolve('../../workflows'),
    }),
    await Worker.create({ connection, activities: world.build, taskQueue: 'slipway-build' }),
    await Worker.create({ connection, activities: world.build, taskQueue: 'slipway-build@test-host' }),
  ];
  running = Promise.all(workers.map((w) => w.run()));
});

after(async () => {
  for (const w of workers ?? []) w.shutdown();
  await running;
  await env?.teardown();
});

const commit = () => randomUUID().replace(/-/g, '').slice(0, 40).padEnd(40, 'a');
const service = () => `svc-${randomUUID().slice(0, 8)}`;

async function start(input: Partial<PipelineInput> & { service: string; commit: string }): Promise<WorkflowHandle> {
  return client.workflow.start(deliveryPipeline, {
    taskQueue: 'slipway',
    workflowId: pipelineWorkflowId(input.service, input.commit),
    args: [{ trigger: { kind: 'manual', user: 'test' }, author: { username: 'carol' }, ...input }],
  });
}

/** Polls the pipeline's status query until `predicate` holds. */
function waitFor(handle: WorkflowHandle, predicate: (s: PipelineStatus) => boolean, what: string) {
  return until(
    what,
    20_000,
    async () => {
      const status = await handle.query(statusQuery);
      return predicate(status) ? status : undefined;
    },
    { intervalMs: 50 },
  );
}

const waitingFor = (envName: string) => (s: PipelineStatus) =>
  s.environments.find((e) => e.name === envName)?.state === 'waiting-approval';

describe('deliveryPipeline', { timeout: 60_000 }, () => {
  test('happy path: test -> integration -> approval -> production, one digest everywhere', async () => {
    const svc = service();
    const sha = commit();
    const handle = await start({ service: svc, commit: sha });
    const waiting = await waitFor(handle, waitingFor('production'), 'the production approval gate');
    assert.equal(waiting.state, 'waiting-approval');
    assert.deepEqual(
      waiting.environments.map((e) => e.state),
      ['healthy', 'healthy', 'waiting-approval'],
    );

    const record = await handle.executeUpdate(approveUpdate, {
      args: [{ environment: 'production', approver: 'alice', comment: 'ship it' }],
    });
    assert.equal(record.accepted, true);
    assert.equal(record.verified, false, 'a UI/CLI approval without attestation is not verified');

    const status = (await handle.result()) as PipelineStatus;
    assert.equal(status.state, 'succeeded');
    assert.deepEqual(
      status.environments.map((e) => e.state),
      ['healthy', 'healthy', 'healthy'],
    );
    assert.match(status.image ?? '', /^registry\.test\/svc-[0-9a-f]+@sha256:[0-9a-f]{64}$/);
    const mine = world.deploys.filter((d) => d.pipelineId === handle.workflowId);
    assert.deepEqual(
      mine.map((d) => d.environment),
      ['test', 'integration', 'production'],
    );
    assert.ok(
      mine.every((d) => d.image === status.image),
      'every environment received the same digest',
    );
    assert.equal(world.builds.filter((b) => b === sha).length, 1, 'built once');
    assert.equal(status.decisions.length, 1);
    assert.equal(status.decisions[0]?.approver, 'alice');
    await recordHistory(handle, 'pipeline-happy-path');
    await recordHistory(env.client.workflow.getHandle(`lane/${svc}/production`), 'lane-production');
  });

  test('approval refusals: wrong approver, the author, an environment that does not wait', async () => {
    const svc = service();
    const handle = await start({ service: svc, commit: commit(), changedBy: { gitlabUsernames: ['bob'] } });
    await waitFor(handle, waitingFor('production'), 'the production gate');
    const refused = async (req: { environment: string; approver: string }, pattern: RegExp) => {
      await assert.rejects(handle.executeUpdate(approveUpdate, { args: [req] }), (err: unknown) => {
        assert.ok(err instanceof WorkflowUpdateFailedError, `expected WorkflowUpdateFailedError, got ${String(err)}`);
        assert.match(String((err.cause as Error)?.message), pattern);
        return true;
      });
    };
    await refused(
      { environment: 'production', approver: 'mallory' },
      /mallory may not decide for production: approvers are alice, bob/,
    );
    await refused(
      { environment: 'production', approver: 'bob' },
      /bob is an author of this change \(gitlab @bob\) and may not approve it into production/,
    );
    await refused(
      { environment: 'test', approver: 'alice' },
      /test is not waiting for approval \(it is healthy\); production is/,
    );
    // A signal cannot be refused: it is recorded with the reason and changes nothing.
    await handle.signal(approveSignal, { environment: 'production', approver: 'mallory' });
    const status = await waitFor(handle, (s) => s.decisions.length === 1, 'the refused signal to be recorded');
    assert.equal(status.decisions[0]?.accepted, false);
    assert.match(status.decisions[0]?.refusal ?? '', /mallory may not decide/);
    assert.equal(status.state, 'waiting-approval');
    await handle.executeUpdate(rejectUpdate, {
      args: [{ environment: 'production', approver: 'alice', reason: 'freeze' }],
    });
    const final = (await handle.result()) as PipelineStatus;
    assert.equal(final.state, 'rejected');
    assert.match(final.error ?? '', /production rejected by alice: freeze/);
    await recordHistory(handle, 'pipeline-rejected');
    assert.equal(final.environments[2]?.state, 'skipped');
    assert.equal(
      world.deploys.filter((d) => d.pipelineId === handle.workflowId && d.environment === 'production').length,
      0,
    );
  });

  test('approval timeout: after the configured wait (time-skipped) the pipeline ends approval-expired', async () => {
    const svc = service();
    const handle = await start({ service: svc, commit: commit() });
    await waitFor(handle, waitingFor('production'), 'the production gate');
    const started = Date.now();
    // env.client lets the test server skip the hour while it waits.
    const final = (await env.client.workflow.getHandle(handle.workflowId).result()) as PipelineStatus;
    assert.ok(Date.now() - started < 15_000, 'time was skipped, not waited');
    assert.equal(final.state, 'approval-expired');
    assert.match(final.error ?? '', /no decision for production within 1h/);
    assert.equal(
      world.deploys.filter((d) => d.pipelineId === handle.workflowId && d.environment === 'production').length,
      0,
    );
  });

  test('health failure: the environment is rolled back to its previous version and the pipeline fails', async () => {
    const svc = service();
    const first = await start({ service: svc, commit: commit() });
    await waitFor(first, waitingFor('production'), 'the first pipeline at the gate');
    await first.executeUpdate(approveUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
    await first.result();

    const bad = commit();
    unhealthyCommits.add(bad);
    const second = await start({ service: svc, commit: bad });
    await assert.rejects(second.result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.ok(err.cause instanceof ApplicationFailure);
      assert.equal(err.cause.type, 'PipelineFailed');
      assert.match(err.cause.message, /test: .*not healthy.*rolled back to v\d+/);
      return true;
    });
    const status = await second.query(statusQuery);
    assert.equal(status.state, 'failed');
    assert.deepEqual(
      status.environments.map((e) => e.state),
      ['rolled-back', 'skipped', 'skipped'],
    );
    const firstTestDeploy = world.deploys.find((d) => d.pipelineId === first.workflowId && d.environment === 'test');
    const rollback = world.rollbacks.find((r) => r.appId === `/test/${svc}`);
    assert.equal(rollback?.toVersion, firstTestDeploy?.version, 'rolled back to what ran before');
    await recordHistory(second, 'pipeline-health-rollback');
  });

  test('environment tags follow what runs: set when healthy, kept on a health failure, moved back by a rollback', async () => {
    const svc = `tagged-${randomUUID().slice(0, 8)}`;
    const tagOf = (envName: string) => world.tags.get(`registry.test/${svc}:${envName}`);
    const first = await start({ service: svc, commit: commit() });
    await waitFor(first, waitingFor('production'), 'the first pipeline at the gate');
    await first.executeUpdate(approveUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
    const done = (await first.result()) as PipelineStatus;
    const firstImage = done.image ?? '';
    assert.match(firstImage, /@sha256:/);
    assert.deepEqual(
      ['test', 'integration', 'production'].map(tagOf),
      [firstImage, firstImage, firstImage],
      'every environment tag points at the digest it runs',
    );
    assert.deepEqual(
      done.environments.map((e) => [e.imageTag, e.warning]),
      [
        ['test', undefined],
        ['integration', undefined],
        ['production', undefined],
      ],
    );

    const bad = commit();
    unhealthyCommits.add(bad);
    await assert.rejects(start({ service: svc, commit: bad }).then((h) => h.result()));
    assert.equal(tagOf('test'), firstImage, 'a version that never became healthy is never tagged');

    const second = await start({ service: svc, commit: commit() });
    await waitFor(second, waitingFor('production'), 'the second pipeline at the gate');
    const secondImage = (await second.query(statusQuery)).image ?? '';
    assert.equal(tagOf('test'), secondImage);
    await second.executeUpdate(rejectUpdate, { args: [{ environment: 'production', approver: 'bob' }] });
    await second.result();
    assert.equal(tagOf('production'), firstImage, 'a rejected promotion leaves the production tag alone');

    const rollback = await client.workflow.start(rollbackEnvironment, {
      taskQueue: 'slipway',
      workflowId: `rollback/${svc}/test/${randomUUID()}`,
      args: [{ service: svc, environment: 'test', requestedBy: 'carol', reason: 'bad release' }],
    });
    const outcome = (await rollback.result()) as { kind: string; imageTag?: string };
    assert.equal(outcome.kind, 'healthy');
    assert.equal(outcome.imageTag, 'test');
    assert.equal(tagOf('test'), firstImage, 'the rollback moved the tag back with the app');
    await recordHistory(env.client.workflow.getHandle(`lane/${svc}/test`), 'lane-test-image-tags');
  });

  test('a registry that refuses the tag leaves a warning, not a failed delivery', async () => {
    const svc = `tagged-refused-${randomUUID().slice(0, 8)}`;
    const handle = await start({ service: svc, commit: commit() });
    const waiting = await waitFor(handle, waitingFor('production'), 'the production gate');
    for (const e of waiting.environments.slice(0, 2)) {
      assert.equal(e.state, 'healthy');
      assert.equal(e.imageTag, undefined);
      assert.match(
        e.warning ?? '',
        new RegExp(`registry tag "${e.name}" still points at the previous image: .*denied`),
      );
    }
    assert.equal(world.tagCalls.filter((c) => c.digestRef.includes(svc)).length, 2, 'not retried: non-retryable');
    await handle.executeUpdate(approveUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
    assert.equal(((await handle.result()) as PipelineStatus).state, 'succeeded');
  });

  test('cancel during a deploy: the deploy is rolled back and the pipeline ends cancelled', async () => {
    const svc = service();
    const first = await start({ service: svc, commit: commit() });
    await waitFor(first, waitingFor('production'), 'the first pipeline at the gate');
    await first.executeUpdate(rejectUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
    await first.result();

    const slowSha = commit();
    slowCommits.set(slowSha, 20_000);
    const second = await start({ service: svc, commit: slowSha });
    await waitFor(
      second,
      (s) => s.environments[0]?.state === 'deploying' && s.environments[0]?.version !== undefined,
      'the test deploy to start',
    );
    await second.cancel();
    await assert.rejects(second.result(), (err: unknown) => err instanceof WorkflowFailedError);
    const status = await second.query(statusQuery);
    assert.equal(status.state, 'cancelled');
    assert.equal(status.environments[0]?.state, 'rolled-back');
    assert.deepEqual(
      status.environments.slice(1).map((e) => e.state),
      ['skipped', 'skipped'],
    );
    const firstTest = world.deploys.find((d) => d.pipelineId === first.workflowId && d.environment === 'test');
    const rollback = world.rollbacks.find((r) => r.appId === `/test/${svc}`);
    assert.equal(rollback?.toVersion, firstTest?.version, 'rolled back to the version that ran before');
    assert.match(rollback?.reason ?? '', /was cancelled/);
    await recordHistory(second, 'pipeline-cancelled');
  });

  test('supersede: a newer pipeline reaching the production gate ends the older one waiting there', async () => {
    const svc = service();
    const older = await start({ service: svc, commit: commit() });
    await waitFor(older, waitingFor('production'), 'the older pipeline at the gate');
    const newer = await start({ service: svc, commit: commit() });
    await waitFor(newer, waitingFor('production'), 'the newer pipeline at the gate');
    const olderFinal = (await older.result()) as PipelineStatus;
    assert.equal(olderFinal.state, 'superseded');
    assert.equal(olderFinal.supersededBy, newer.workflowId);
    await newer.executeUpdate(approveUpdate, { args: [{ environment: 'production', approver: 'bob' }] });
    assert.equal(((await newer.result()) as PipelineStatus).state, 'succeeded');
  });

  test('racing pipelines: one deploy per environment at a time, and the older never overwrites the newer', async () => {
    const svc = service();
    const shaOld = commit();
    const shaNew = commit();
    slowCommits.set(shaOld, 1500);
    const older = await start({ service: svc, commit: shaOld });
    await waitFor(older, (s) => s.environments[0]?.state === 'deploying', 'the older deploy to start');
    const newer = await start({ service: svc, commit: shaNew });
    await waitFor(newer, waitingFor('production'), 'the newer pipeline at the gate');
    const olderFinal = await waitFor(
      older,
      (s) => ['superseded', 'succeeded', 'failed'].includes(s.state),
      'the older one to settle',
    );
    // The older pipeline may finish test (it was first in the queue) but can never deploy after the newer.
    assert.equal(olderFinal.state, 'superseded');
    await newer.executeUpdate(approveUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
    await newer.result();
    assert.equal(world.maxConcurrent(), 1, 'never two deploys at once on one Marathon app');
    for (const envName of ['test', 'integration', 'production']) {
      const last = world.deploys.filter((d) => d.appId === `/${envName}/${svc}`).at(-1);
      assert.equal(last?.pipelineId, newer.workflowId, `${envName} runs the newer commit`);
    }
  });
});
