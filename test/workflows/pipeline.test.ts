// deliveryPipeline and environmentLane on Temporal's time-skipping test server, with the outside
// world faked at the activity boundary (test/workflows/fake-world.ts). Asserts the durable
// behaviour: order of environments, one digest everywhere, approvals and their refusals, the
// approval timeout, health failure -> rollback, cancel -> rollback, supersede, one deploy at a time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowFailedError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { until } from '../helpers/wait';
import type { createFakeWorld } from './fake-world';
import type { VerifyScript } from './fake-verify';
import { startTimeSkippingWorld, waitForPipeline } from './time-skipping-world';
import { recordHistory } from './record-history';
import {
  approveSignal,
  approveUpdate,
  pipelineWorkflowId,
  rejectUpdate,
  statusQuery,
  type PipelineInput,
  type PipelineStatus,
  type VerifyPlan,
} from '../../common/contract';
import { renderStages, renderStatusTable } from '../../client/status-view';
import { deliveryPipeline, rollbackEnvironment } from '../../workflows';
import { readAudit } from '../../common/audit-log';
import { startCommitRollback, startPromotion, startRerun } from '../../client/promote';

let env: TestWorkflowEnvironment;
/** Never skips time (see time-skipping-world.ts): only the approval-timeout test waits through env.client. */
let client: Client;
let world: ReturnType<typeof createFakeWorld>;
let stop: () => Promise<void>;
const unhealthyCommits = new Set<string>();
const slowCommits = new Map<string, number>();
const verifyScripts = new Map<string, VerifyScript>();
const forgottenVersions = new Set<string>();

before(async () => {
  ({ env, client, world, stop } = await startTimeSkippingWorld({
    unhealthyCommits,
    slowCommits,
    verifyScripts,
    forgottenVersions,
    healthDelayMs: 50,
  }));
});

after(async () => {
  await stop?.();
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

const waitFor = waitForPipeline;

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
    const told = readAudit(world.auditDir, { since: new Date(0), service: svc }).at(-1);
    assert.deepEqual([told?.kind, told?.environment], ['approval-expired', 'production']);
    assert.match(told?.reason ?? '', /no decision for production within 1h/);
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

  test('delivery events: the audit log holds the wait, the decision, each deploy, a rollback, an operator rollback', async () => {
    const svc = service();
    const audit = () => readAudit(world.auditDir, { since: new Date(0), service: svc });
    const first = await start({ service: svc, commit: commit() });
    await waitFor(first, waitingFor('production'), 'the first pipeline at the gate');
    await first.executeUpdate(approveUpdate, {
      args: [{ environment: 'production', approver: 'alice', comment: 'ship it' }],
    });
    const done = (await first.result()) as PipelineStatus;
    assert.deepEqual(
      audit().map((e) => [e.kind, e.environment, e.actor, e.reason]),
      [
        ['deployed', 'test', undefined, undefined],
        ['deployed', 'integration', undefined, undefined],
        ['waiting-approval', 'production', undefined, undefined],
        ['approved', 'production', 'alice', 'ship it'],
        ['deployed', 'production', undefined, undefined],
      ],
    );
    const waitLine = audit()[2];
    assert.deepEqual(waitLine?.approvers, ['alice', 'bob']);
    assert.ok(waitLine?.deadline, 'the wait says until when');
    assert.ok(
      audit().every((e) => e.pipelineId === first.workflowId && e.commit === done.commit),
      'every line names the pipeline and its commit',
    );
    assert.equal(audit().at(-1)?.image, done.image, 'a deploy line names the digest');

    const bad = commit();
    unhealthyCommits.add(bad);
    const second = await start({ service: svc, commit: bad });
    await assert.rejects(second.result());
    const rolledBack = audit().filter((e) => e.pipelineId === second.workflowId);
    assert.deepEqual(
      rolledBack.map((e) => [e.kind, e.environment]),
      [['rolled-back', 'test']],
    );
    const testVersion = world.deploys.find((d) => d.pipelineId === first.workflowId && d.environment === 'test');
    assert.equal(rolledBack[0]?.rolledBackTo, testVersion?.version);
    assert.match(rolledBack[0]?.reason ?? '', /not healthy/);

    // A third one reaches the gate and is rejected: test runs it now, with the first one before it.
    const third = await start({ service: svc, commit: commit() });
    await waitFor(third, waitingFor('production'), 'the third pipeline at the gate');
    await third.executeUpdate(rejectUpdate, {
      args: [{ environment: 'production', approver: 'bob', reason: 'not today' }],
    });
    await third.result();
    assert.deepEqual(
      audit()
        .filter((e) => e.pipelineId === third.workflowId)
        .map((e) => [e.kind, e.environment, e.actor, e.reason]),
      [
        ['deployed', 'test', undefined, undefined],
        ['deployed', 'integration', undefined, undefined],
        ['waiting-approval', 'production', undefined, undefined],
        ['rejected', 'production', 'bob', 'not today'],
      ],
      'a rejection is told once, when it is decided',
    );

    const operatorRollback = async (environment: string) => {
      const requestId = `rollback/${svc}/${environment}/${randomUUID()}`;
      const args = [{ service: svc, environment, requestedBy: 'carol', reason: 'bad release' }] as const;
      const result = client.workflow
        .start(rollbackEnvironment, { taskQueue: 'slipway', workflowId: requestId, args: [...args] })
        .then((h) => h.result());
      return { result, lines: () => audit().filter((e) => e.pipelineId === requestId) };
    };
    // Production ran one version only: nothing to return to, and the audit says so.
    const refused = await operatorRollback('production');
    await assert.rejects(refused.result);
    assert.deepEqual(
      refused.lines().map((e) => [e.kind, e.environment, e.actor]),
      [['failed', 'production', 'carol']],
    );
    assert.match(refused.lines()[0]?.reason ?? '', /rollback failed: no earlier version/);
    const undone = await operatorRollback('test');
    await undone.result;
    assert.deepEqual(
      undone.lines().map((e) => [e.kind, e.environment, e.actor, e.reason]),
      [['rolled-back', 'test', 'carol', 'bad release']],
    );
    assert.equal(new Set(audit().map((e) => e.id)).size, audit().length, 'one line per event id');
    await recordHistory(first, 'pipeline-delivery-events');
    await recordHistory(second, 'pipeline-events-rolled-back');
    await recordHistory(env.client.workflow.getHandle(`lane/${svc}/test`), 'lane-events-operator-rollback');
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
    assert.deepEqual(
      readAudit(world.auditDir, { since: new Date(0), service: svc })
        .filter((e) => e.pipelineId === second.workflowId)
        .map((e) => [e.kind, e.environment]),
      [['cancelled', 'test']],
      'a cancelled pipeline is audited as cancelled where it stopped',
    );
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

describe('deploy verification (config verify)', { timeout: 120_000 }, () => {
  const plan = (p: Partial<VerifyPlan>): VerifyPlan => ({ intervalSeconds: 30, smoke: [], metrics: [], ...p });
  const testState = (state: string) => (s: PipelineStatus) => s.environments[0]?.state === state;

  /** A pipeline that delivered to test and stopped at the production gate: what runs before. */
  async function deliveredBefore(svc: string): Promise<WorkflowHandle> {
    const first = await start({ service: svc, commit: commit() });
    await waitFor(first, waitingFor('production'), 'the first pipeline at the gate');
    await first.executeUpdate(rejectUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
    await first.result();
    return first;
  }

  /** The verified deploy fails: rolled back to what `first` deployed, the reason in the error. */
  async function assertRolledBack(first: WorkflowHandle, handle: WorkflowHandle, reason: RegExp) {
    // env.client lets the server skip the soak's and the retries' timers while it waits.
    await assert.rejects(env.client.workflow.getHandle(handle.workflowId).result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure);
      assert.match(err.cause.message, reason);
      return true;
    });
    const status = await handle.query(statusQuery);
    assert.deepEqual(
      status.environments.map((e) => e.state),
      ['rolled-back', 'skipped', 'skipped'],
    );
    const svc = status.service;
    const before = world.deploys.find((d) => d.pipelineId === first.workflowId && d.environment === 'test');
    const rollback = world.rollbacks.find((r) => r.appId === `/test/${svc}`);
    assert.equal(rollback?.toVersion, before?.version, 'rolled back to the version that ran before');
    assert.match(rollback?.reason ?? '', /^verification failed: /);
    return status;
  }

  test('a 10-minute soak with smoke and metric checks passes: "verifying, 4 min left", then on to the next environment', async () => {
    const svc = service();
    const sha = commit();
    const query = `errors{commit="${sha}"}`;
    const smoke = [{ path: '/health', status: 200, timeoutSeconds: 5 }];
    const metrics = [{ query, max: 0.05, noData: 'fail' as const }];
    verifyScripts.set(sha, {
      plan: plan({ soakSeconds: 600, intervalSeconds: 60, smoke, metrics }),
      metricValue: 0.01,
    });
    const handle = await start({ service: svc, commit: sha });
    const verifying = await waitFor(handle, testState('verifying'), 'test to be verifying');
    const until = Date.parse(verifying.environments[0]?.verifyingUntil ?? '');
    assert.ok(until - Date.parse(verifying.environments[0]?.startedAt ?? '') >= 600_000, 'the soak lasts 10 minutes');
    assert.match(renderStatusTable(verifying, until - 239_000), /test +verifying .*verifying, 4 min left/);
    assert.deepEqual(
      renderStages(verifying, until - 239_000)[2]
        ?.split(/ +/)
        .slice(1, 6),
      ['▶', 'test', 'running', 'verifying,', '4'],
    );
    assert.equal(verifying.state, 'deploying');
    // The Temporal UI's "Current Details", as the UI reads them (the workflow metadata query).
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(
      metadata.currentDetails ?? '',
      /\| test \| 🔎 verifying \| v\d+ \| verifying until \d\d:\d\d:\d\d UTC, 10 min left \|/,
    );
    // Ten minutes of workflow time pass in a moment on the time-skipping server.
    await env.sleep('10m');
    const waiting = await waitFor(handle, waitingFor('production'), 'the production gate');
    assert.deepEqual(
      waiting.environments.map((e) => e.state),
      ['healthy', 'healthy', 'waiting-approval'],
    );
    const version = world.deploys.find((d) => d.pipelineId === handle.workflowId && d.environment === 'test')?.version;
    assert.equal(world.verified.looks.get(version ?? ''), 11, 'a baseline, then a look every minute for 10 minutes');
    assert.equal(world.verified.smokeAttempts.get(version ?? ''), 1);
    assert.equal(world.verified.metricQueries.filter((q) => q === query).length, 11);
    const integration = world.deploys.find(
      (d) => d.pipelineId === handle.workflowId && d.environment === 'integration',
    );
    assert.equal(world.verified.looks.get(integration?.version ?? ''), undefined, 'integration has no verify config');
    await handle.executeUpdate(approveUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
    assert.equal(((await handle.result()) as PipelineStatus).state, 'succeeded');
    await recordHistory(handle, 'pipeline-verified');
    await recordHistory(env.client.workflow.getHandle(`lane/${svc}/test`), 'lane-test-verified');
  });

  test('a task restarting during the soak fails verification and rolls back', async () => {
    const svc = service();
    const first = await deliveredBefore(svc);
    const sha = commit();
    verifyScripts.set(sha, { plan: plan({ soakSeconds: 300 }), restartAtLook: 4 });
    const handle = await start({ service: svc, commit: sha });
    const status = await assertRolledBack(
      first,
      handle,
      /test: verification failed: task \S+\.first stopped and was restarted or replaced \(last task failure: TASK_FAILED: exited with 137 \(task \S+\.second\)\) \((9\d|1\d\d)s into the 5m soak\); rolled back to v\d+$/,
    );
    assert.match(status.environments[0]?.error ?? '', /^verification failed: task .* stopped and was restarted/);
    await recordHistory(handle, 'pipeline-verify-rollback');
  });

  test('a failing smoke check is tried three times, then rolls back with its reason', async () => {
    const svc = service();
    const first = await deliveredBefore(svc);
    const sha = commit();
    const failure = 'smoke GET /health on 127.0.0.1:31000 returned 500, expected 200';
    const smoke = [{ path: '/health', status: 200, timeoutSeconds: 5 }];
    verifyScripts.set(sha, { plan: plan({ smoke }), smokeFailure: failure });
    const handle = await start({ service: svc, commit: sha });
    await assertRolledBack(
      first,
      handle,
      /test: verification failed: smoke GET \/health on 127\.0\.0\.1:31000 returned 500, expected 200; rolled back to v\d+$/,
    );
    const version = world.deploys.find((d) => d.pipelineId === handle.workflowId)?.version ?? '';
    assert.equal(world.verified.smokeAttempts.get(version), 3);
  });

  test('a metric over its threshold rolls back', async () => {
    const svc = service();
    const first = await deliveredBefore(svc);
    const sha = commit();
    const query = `errors{commit="${sha}"}`;
    verifyScripts.set(sha, { plan: plan({ metrics: [{ query, max: 0.05, noData: 'fail' }] }), metricValue: 0.3 });
    const handle = await start({ service: svc, commit: sha });
    await assertRolledBack(
      first,
      handle,
      /test: verification failed: metric `errors\{commit="[0-9a-f]+"\}` is 0\.3, above max 0\.05; rolled back to v\d+$/,
    );
  });

  test('cancelled while verifying: the verified version is rolled back and the pipeline ends cancelled', async () => {
    const svc = service();
    const first = await deliveredBefore(svc);
    const sha = commit();
    verifyScripts.set(sha, { plan: plan({ soakSeconds: 600 }) });
    const handle = await start({ service: svc, commit: sha });
    await waitFor(handle, testState('verifying'), 'test to be verifying');
    await handle.cancel();
    await assert.rejects(handle.result(), (err: unknown) => err instanceof WorkflowFailedError);
    const status = await handle.query(statusQuery);
    assert.deepEqual([status.state, status.environments[0]?.state], ['cancelled', 'rolled-back']);
    const before = world.deploys.find((d) => d.pipelineId === first.workflowId && d.environment === 'test');
    const rollback = world.rollbacks.find((r) => r.appId === `/test/${svc}`);
    assert.equal(rollback?.toVersion, before?.version);
    assert.match(rollback?.reason ?? '', /was cancelled/);
  });

  test('mid-soak: the lane history so far replays, as a worker taking the lane over does first; the soak finishes once, nothing deployed twice', async () => {
    const svc = service();
    const sha = commit();
    verifyScripts.set(sha, { plan: plan({ soakSeconds: 120 }) });
    const handle = await start({ service: svc, commit: sha });
    await waitFor(handle, testState('verifying'), 'test to be verifying');
    const version = world.deploys.find((d) => d.pipelineId === handle.workflowId)?.version ?? '';
    await env.sleep('45s');
    await until('the soak to look twice', 10_000, () =>
      (world.verified.looks.get(version) ?? 0) >= 2 ? true : undefined,
    );
    // What a worker that takes over a lane does first: replay its history, here stopped mid-soak
    // (committed as a history too, so every later change of the code must replay it).
    const lane = env.client.workflow.getHandle(`lane/${svc}/test`);
    await Worker.runReplayHistory(
      { workflowsPath: require.resolve('../../workflows') },
      await lane.fetchHistory(),
      lane.workflowId,
    );
    await recordHistory(lane, 'lane-test-mid-soak');
    await env.sleep('2m');
    const waiting = await waitFor(handle, waitingFor('production'), 'the production gate after the soak');
    assert.equal(waiting.environments[0]?.state, 'healthy');
    assert.equal(
      world.deploys.filter((d) => d.pipelineId === handle.workflowId && d.environment === 'test').length,
      1,
      'deployed once',
    );
    assert.equal(world.verified.looks.get(version), 5, 'a baseline and one look every 30 s for 2 minutes, none twice');
    await handle.executeUpdate(rejectUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
    await handle.result();
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
