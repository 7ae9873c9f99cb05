// deliveryPipeline and environmentLane on Temporal's time-skipping test server, with the outside
// world faked at the activity boundary (test/workflows/fake-world.ts). Asserts the durable
// behaviour: order of environments, one digest everywhere, approvals and their refusals, the
// approval timeout, health failure -> rollback, cancel -> rollback, supersede, one deploy at a time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { Client, WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporalTestServerPath } from '../helpers/env';
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
import { startCommitRollback, startPromotion, startRerun } from '../../client/promote';

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
const forgottenVersions = new Set<string>();

before(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalTestServerPath() } },
  });
  await registerSearchAttributes(env.connection);
  client = new Client({ connection: env.connection, namespace: env.namespace });
  world = createFakeWorld({ client, unhealthyCommits, slowCommits, forgottenVersions, healthDelayMs: 50 });
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

/**
 * `SLIPWAY_RECORD_HISTORIES=v4 npm test -- test/workflows/pipeline` records this file's scenarios
 * as test/histories/v4-*.json for replay.test.ts. Recorded histories are never overwritten: each
 * generation of workflow code adds its own (docs/versioning.md).
 */
async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  const generation = process.env.SLIPWAY_RECORD_HISTORIES;
  if (!generation) return;
  // A feature branch records its own generation (v6-verify) so parallel branches never collide.
  if (!/^v\d+(-[a-z]+)?$/.test(generation))
    throw new Error(`SLIPWAY_RECORD_HISTORIES=${generation}: expected a generation like v4 or v6-verify`);
  const dir = path.join(__dirname, '..', 'histories');
  const file = path.join(dir, `${generation}-${name}.json`);
  if (existsSync(file))
    throw new Error(`${file} exists: recorded histories are kept as they are; record a new generation`);
  mkdirSync(dir, { recursive: true });
  // Workflow code reads its own ID, so the replay needs the original one beside the history.
  const history = JSON.parse(historyToJSON(await handle.fetchHistory())) as unknown;
  writeFileSync(file, JSON.stringify({ workflowId: handle.workflowId, history }, null, 1) + '\n');
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

describe("promotions: deploy a commit's build again, no build", { timeout: 60_000 }, () => {
  /** A pipeline of `sha` rejected at the production gate: it ran in test and integration. */
  async function rejectedAtProduction(svc: string, sha: string): Promise<PipelineStatus> {
    const gitlabPush = { kind: 'gitlab-push' as const, project: `group/${svc}`, user: 'carol' };
    const handle = await start({ service: svc, commit: sha, ref: 'refs/heads/main', trigger: gitlabPush });
    await waitFor(handle, waitingFor('production'), 'the production gate');
    await handle.executeUpdate(rejectUpdate, {
      args: [{ environment: 'production', approver: 'bob', reason: 'not now' }],
    });
    const status = (await handle.result()) as PipelineStatus;
    assert.equal(status.state, 'rejected');
    return status;
  }

  const deploysOf = (svc: string, envName: string) => world.deploys.filter((d) => d.appId === `/${envName}/${svc}`);

  test('rerun of a rejected pipeline: production only, through its approval gate, same digest, no build', async () => {
    const svc = service();
    const sha = commit();
    const rejected = await rejectedAtProduction(svc, sha);
    const { workflowId, to } = await startRerun(client, rejected.workflowId, { requestedBy: 'carol' });
    assert.equal(to, 'production');
    assert.match(workflowId, new RegExp(`^promotion/${svc}/${sha}/production/`));
    const handle = client.workflow.getHandle(workflowId);
    const waiting = await waitFor(handle, waitingFor('production'), 'the promotion at the production gate');
    assert.equal(waiting.promotion?.note, `promoted from ${rejected.workflowId}, no build`);
    assert.deepEqual(waiting.promotion?.alreadyRan, ['test', 'integration']);
    assert.deepEqual(
      waiting.environments.map((e) => [e.name, e.state]),
      [
        ['test', 'skipped'],
        ['integration', 'skipped'],
        ['production', 'waiting-approval'],
      ],
    );
    await assert.rejects(
      handle.executeUpdate(approveUpdate, { args: [{ environment: 'production', approver: 'carol' }] }),
      'the gate refuses who it always refused (carol is the author)',
    );
    await handle.executeUpdate(approveUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
    const done = (await handle.result()) as PipelineStatus;
    assert.equal(done.state, 'succeeded');
    assert.equal(done.image, rejected.image);
    assert.deepEqual(
      world.builds.filter((c) => c === sha),
      [sha],
      'built once, by the first pipeline',
    );
    assert.equal(deploysOf(svc, 'production').at(-1)?.image, rejected.image);
    assert.equal(deploysOf(svc, 'test').length, 1, 'test was not deployed again');
    await recordHistory(handle, 'pipeline-promotion-rerun');
    const reported = world.gitlabDeployments.filter(
      (d) => d.project === `group/${svc}` && d.environment === 'production',
    );
    assert.deepEqual(
      reported.map((d) => [d.sha, d.ref, d.status]),
      [
        [sha, 'main', 'running'],
        [sha, 'main', 'success'],
      ],
      "the promotion reports its production deployment under the build pipeline's project and ref",
    );
    assert.deepEqual(
      world.registryChecks.find((c) => c.digestRef === rejected.image)?.imageRepository,
      `registry.test/${svc}`,
    );
  });

  test('a commit whose pipeline is gone is promoted from the registry tag, through the chain up to --to', async () => {
    const svc = service();
    const sha = commit();
    const digestRef = `registry.test/${svc}@sha256:${'ab'.repeat(32)}`;
    world.pushed.set(`registry.test/${svc}:${sha.slice(0, 12)}`, digestRef);
    const { workflowId } = await startPromotion(client, {
      service: svc,
      commit: sha,
      to: 'integration',
      requestedBy: 'carol',
    });
    const done = (await client.workflow.getHandle(workflowId).result()) as PipelineStatus;
    assert.equal(done.state, 'succeeded');
    assert.equal(done.promotion?.note, `promoted from registry registry.test/${svc}:${sha.slice(0, 12)}, no build`);
    assert.deepEqual(
      done.environments.map((e) => [e.name, e.state]),
      [
        ['test', 'healthy'],
        ['integration', 'healthy'],
      ],
    );
    assert.equal(deploysOf(svc, 'test')[0]?.image, digestRef);
    assert.equal(deploysOf(svc, 'production').length, 0, 'nothing beyond --to');
    assert.equal(world.builds.includes(sha), false);
  });

  test('a promotion of a commit never built is refused with a clear message', async () => {
    const svc = service();
    const sha = commit();
    const { workflowId } = await startPromotion(client, {
      service: svc,
      commit: sha,
      to: 'test',
      requestedBy: 'carol',
    });
    const err = await client.workflow
      .getHandle(workflowId)
      .result()
      .then(
        () => assert.fail('the promotion succeeded'),
        (e: unknown) => e as WorkflowFailedError,
      );
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(
      (err.cause as ApplicationFailure).message,
      new RegExp(
        `no build of this commit: no pipeline found and no registry.test/${svc}:${sha.slice(0, 12)} in the registry`,
      ),
    );
    assert.equal(deploysOf(svc, 'test').length, 0);
    await assert.rejects(
      startPromotion(client, { service: svc, commit: sha.slice(0, 12), to: 'test', requestedBy: 'carol' }),
      /expected the full commit SHA/,
    );
  });

  test('older than what runs: refused unless allowed; rollback to a commit by version, or by redeploy once Marathon forgot it', async () => {
    const svc = service();
    const [shaOld, shaNew] = [commit(), commit()];
    const old = await rejectedAtProduction(svc, shaOld);
    const newer = await start({ service: svc, commit: shaNew });
    await waitFor(newer, waitingFor('production'), 'the newer pipeline at the gate');
    await newer.executeUpdate(approveUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
    await newer.result();

    const refused = await startRerun(client, old.workflowId, { requestedBy: 'carol' });
    const refusedStatus = (await client.workflow.getHandle(refused.workflowId).result()) as PipelineStatus;
    assert.equal(refusedStatus.state, 'superseded');
    // The lane answers its approval wait at once: a newer pipeline already runs there.
    assert.equal(refusedStatus.supersededBy, newer.workflowId);
    assert.match(refusedStatus.error ?? '', /superseded by .* while waiting for approval into production/);
    assert.equal(refusedStatus.environments.at(-1)?.state, 'skipped');

    const never = await startCommitRollback(client, {
      service: svc,
      environment: 'production',
      commit: shaOld,
      requestedBy: 'carol',
    });
    await assert.rejects(never.handle.result(), (e: WorkflowFailedError) =>
      /never ran in production \(the lane remembers/.test((e.cause as Error).message),
    );

    // test ran old, then newer: back to old's Marathon version, which Marathon still holds.
    const byVersion = await startCommitRollback(client, {
      service: svc,
      environment: 'test',
      commit: shaOld,
      requestedBy: 'carol',
    });
    assert.equal((await byVersion.handle.result()).kind, 'healthy');
    assert.equal(world.rollbacks.at(-1)?.toVersion, deploysOf(svc, 'test')[0]?.version);
    const rolledBack = world.gitlabDeployments.filter((d) => d.project === `group/${svc}` && d.environment === 'test');
    assert.deepEqual(rolledBack.at(-1) && [rolledBack.at(-1)!.sha, rolledBack.at(-1)!.status], [shaOld, 'success']);
    // Marathon forgot newer's version in test: its digest is deployed anew, over the older commit.
    for (const d of deploysOf(svc, 'test')) forgottenVersions.add(d.version);
    const deploysBefore = deploysOf(svc, 'test').length;
    const byRedeploy = await startCommitRollback(client, {
      service: svc,
      environment: 'test',
      commit: shaNew,
      requestedBy: 'carol',
    });
    assert.equal((await byRedeploy.handle.result()).kind, 'healthy');
    assert.equal(deploysOf(svc, 'test').length, deploysBefore + 1);
    assert.equal(deploysOf(svc, 'test').at(-1)?.image, ((await newer.result()) as PipelineStatus).image);
    assert.deepEqual(
      world.builds.filter((c) => c === shaNew),
      [shaNew],
      'no second build',
    );

    const allowed = await startRerun(client, old.workflowId, { requestedBy: 'carol', allowOlder: true });
    const handle = client.workflow.getHandle(allowed.workflowId);
    await waitFor(handle, waitingFor('production'), 'the allowed rerun at the gate');
    await handle.executeUpdate(approveUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
    assert.equal(((await handle.result()) as PipelineStatus).state, 'succeeded');
    assert.equal(deploysOf(svc, 'production').at(-1)?.image, old.image);
  });
});
