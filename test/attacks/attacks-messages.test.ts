// Attack: someone with Temporal UI access (anyone who can signal any workflow in the namespace)
// forges the messages Slipway's workflows exchange. Each forged message must change nothing: the
// lane admits a request only when the pipeline it names confirms it, a pipeline believes an
// outcome or a "superseded" note only when the lane confirms it. Real Temporal dev server; the
// outside world (build, Marathon) faked at the activity boundary.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  approveUpdate,
  awaitingApprovalSignal,
  cancelDeploySignal,
  deployFinishedSignal,
  deployRequestSignal,
  laneQuery,
  laneWorkflowId,
  statusQuery,
  supersededSignal,
  type LaneState,
} from '../../common/contract';
import { until } from '../helpers/wait';
import { waitForStatus } from '../helpers/status';
import { startWorld, type World } from '../webhook/world';
import { sha, signalChecked, startPipeline } from './helpers';

const slowCommits = new Map<string, number>();
let world: World;
const services: string[] = [];

before(async () => {
  world = await startWorld({ slowCommits });
});
after(async () => {
  await world?.stop(services);
});

const service = () => {
  const name = `atk-${randomUUID().slice(0, 8)}`;
  services.push(name);
  return name;
};
const waitingProduction = (s: { environments: { name: string; state: string }[] }) =>
  s.environments.find((e) => e.name === 'production')?.state === 'waiting-approval';

async function ignoredByLane(svc: string, env: string, count: number): Promise<LaneState['ignored']> {
  const lane = world.client.workflow.getHandle(laneWorkflowId(svc, env));
  return until(`the ${env} lane to ignore ${count} message(s)`, 20_000, async () => {
    const state = await lane.query(laneQuery);
    return (state.ignored?.length ?? 0) >= count ? state.ignored : undefined;
  });
}

/**
 * The pipeline shows "waiting" before it tells its lane (it records the delivery event in
 * between): a test that talks to the lane waits until the lane lists the pipeline.
 */
async function laneKnowsWaiter(svc: string, pipelineId: string): Promise<void> {
  const lane = world.client.workflow.getHandle(laneWorkflowId(svc, 'production'));
  await until('the production lane to know the pipeline waits', 20_000, async () => {
    const state = await lane.query(laneQuery).catch(() => undefined);
    return state?.waitingApproval.some((w) => w.pipelineId === pipelineId) ? true : undefined;
  });
}

async function approve(handle: { workflowId: string }) {
  await world.client.workflow
    .getHandle(handle.workflowId)
    .executeUpdate(approveUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
}

/** A pipeline approved into production, in its health wait there (which takes `healthMs`). */
async function deployingToProduction(healthMs: number) {
  const svc = service();
  const pipeline = await startPipeline(world.client, svc);
  slowCommits.set(pipeline.workflowId.split('/')[2] as string, healthMs);
  await waitForStatus(world.client, pipeline.workflowId, waitingProduction, 'the production gate');
  await approve(pipeline);
  await waitForStatus(
    world.client,
    pipeline.workflowId,
    (s) => !!s.environments.find((e) => e.name === 'production' && e.state === 'deploying' && e.version),
    'the production health wait',
  );
  return { svc, pipeline };
}

describe('forged messages between pipelines and lanes', { timeout: 120_000 }, () => {
  test('a forged deploy request (foreign Marathon URL, foreign app, wrong image) deploys nothing', async () => {
    const svc = service();
    const pipeline = await startPipeline(world.client, svc);
    const status = await waitForStatus(world.client, pipeline.workflowId, waitingProduction, 'the production gate');
    const lane = world.client.workflow.getHandle(laneWorkflowId(svc, 'production'));
    await laneKnowsWaiter(svc, pipeline.workflowId);
    const forged = {
      pipelineId: pipeline.workflowId,
      order: Date.parse(status.startedAt) + 1e9,
      commit: status.commit,
      image: `registry.test/${svc}@sha256:${'e'.repeat(64)}`,
      marathonUrl: 'http://127.0.0.1:9/capture',
      app: { id: '/production/someone-else', container: { docker: { privileged: true } } },
      healthTimeoutSeconds: 1,
      forceOverForeignDeployment: true,
    };
    await lane.signal(deployRequestSignal, forged);
    const impostor = `pipeline/${svc}/${sha()}`;
    await lane.signal(deployRequestSignal, { ...forged, pipelineId: impostor });
    const ignored = (await ignoredByLane(svc, 'production', 2)) ?? [];
    // Both handlers check concurrently, so either may be listed first.
    const reasonFor = (id: string) => ignored.find((i) => i.pipelineId === id)?.reason ?? '';
    assert.match(reasonFor(pipeline.workflowId), /does not confirm the request: .*(not deploying|image)/);
    assert.match(reasonFor(impostor), /no workflow/);
    assert.deepEqual(
      world.fake.deploys.filter((d) => d.appId === `/production/${svc}` || d.appId === '/production/someone-else'),
      [],
      'nothing was deployed into production',
    );
    assert.equal((await lane.query(laneQuery)).queue.length, 0);
    assert.equal((await pipeline.query(statusQuery)).state, 'waiting-approval');
  });

  test('a forged "healthy" does not end a deploy: the pipeline waits for the lane\'s real answer', async () => {
    const { pipeline } = await deployingToProduction(4000);
    await pipeline.signal(deployFinishedSignal, {
      environment: 'production',
      outcome: { kind: 'healthy', deploymentId: 'forged', version: 'forged', previousVersion: null },
    });
    await signalChecked(pipeline, deployFinishedSignal.name);
    const during = await pipeline.query(statusQuery);
    assert.equal(during.environments.at(-1)?.state, 'deploying', 'still waiting for the real outcome');
    const done = await pipeline.result();
    assert.equal(done.state, 'succeeded');
    assert.notEqual(done.environments.at(-1)?.version, 'forged');
  });

  test('a forged "superseded" does not end a pipeline waiting for approval', async () => {
    const svc = service();
    const pipeline = await startPipeline(world.client, svc);
    await waitForStatus(world.client, pipeline.workflowId, waitingProduction, 'the production gate');
    await pipeline.signal(supersededSignal, { environment: 'production', by: `pipeline/${svc}/${sha()}` });
    await signalChecked(pipeline, supersededSignal.name);
    assert.equal((await pipeline.query(statusQuery)).state, 'waiting-approval');
    await approve(pipeline);
    assert.equal((await pipeline.result()).state, 'succeeded');
  });

  test('a forged cancel does not roll back a deploy in flight', async () => {
    const { svc, pipeline } = await deployingToProduction(3000);
    const lane = world.client.workflow.getHandle(laneWorkflowId(svc, 'production'));
    await lane.signal(cancelDeploySignal, { pipelineId: pipeline.workflowId });
    const ignored = await until('the forged cancel to be ignored', 20_000, async () =>
      (await lane.query(laneQuery)).ignored?.find((i) => i.message === 'cancelDeploy'),
    );
    assert.match(ignored.reason, /not being cancelled/);
    assert.equal((await pipeline.result()).state, 'succeeded');
    assert.deepEqual(
      world.fake.rollbacks.filter((r) => r.appId === `/production/${svc}`),
      [],
      'nothing was rolled back',
    );
  });

  test('a forged approval wait does not supersede the pipeline really waiting', async () => {
    const svc = service();
    const pipeline = await startPipeline(world.client, svc);
    await waitForStatus(world.client, pipeline.workflowId, waitingProduction, 'the production gate');
    await laneKnowsWaiter(svc, pipeline.workflowId);
    const lane = world.client.workflow.getHandle(laneWorkflowId(svc, 'production'));
    await lane.signal(awaitingApprovalSignal, { pipelineId: `pipeline/${svc}/${sha()}`, order: Date.now() * 2 });
    const ignored = await until('the forged approval wait to be ignored', 20_000, async () =>
      (await lane.query(laneQuery)).ignored?.find((i) => i.message === 'awaitingApproval'),
    );
    assert.match(ignored.reason, /no workflow/);
    // The real waiter is listed, the impostor never.
    assert.deepEqual(
      (await lane.query(laneQuery)).waitingApproval.map((w) => w.pipelineId),
      [pipeline.workflowId],
    );
    await approve(pipeline);
    assert.equal((await pipeline.result()).state, 'succeeded');
  });
});
