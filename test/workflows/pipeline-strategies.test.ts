// Blue/green and canary deploys on Temporal's time-skipping test server: deliveryPipeline and
// environmentLane with the real Marathon activities (marathon.ts, marathon-strategies.ts) against
// the Marathon emulator in simulated mode, so the apps, tasks, scales, kills and deletes are
// Marathon's as the emulator keeps them. Build and GitLab steps come from the fake world. The
// canary's five-minute verify wait is a durable timer, skipped with env.sleep.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { Client, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { MarathonClient } from '../../activities/marathon-client';
import { createMarathonActivities } from '../../activities/marathon';
import { createMarathonStrategyActivities } from '../../activities/marathon-strategies';
import { createVerifyActivities } from '../../activities/verify';
import { createLaneChecks } from '../../activities/lane-checks';
import { viewApp } from '../../activities/marathon-app';
import type { DeployActivities } from '../../activities';
import {
  laneQuery,
  laneWorkflowId,
  pipelineWorkflowId,
  type DeployStrategy,
  type LaneState,
  type PipelineStatus,
} from '../../common/contract';
import { deliveryPipeline } from '../../workflows';
import { startMarathonEmulator, type MarathonEmulator } from '../../dev/marathon-emulator';
import { temporalTestServerPath } from '../helpers/env';
import { recordHistory } from './record-history';
import { quietTemporalRuntime, registerSearchAttributes } from '../helpers/runtime';
import { until } from '../helpers/wait';
import { createFakeWorld } from './fake-world';

quietTemporalRuntime();

let env: TestWorkflowEnvironment;
let client: Client;
let emulator: MarathonEmulator;
let marathon: MarathonClient;
let deployWorker: { worker: Worker; running: Promise<void> } | undefined;
let buildWorkers: Worker[] = [];
let buildRunning: Promise<unknown>;
let deployActivities: Partial<DeployActivities>;
/** Images (by commit prefix) whose tasks never pass their health checks. */
const unhealthy = new Set<string>();
/**
 * Commits deployed with the environment's verification (config `verify`): a smoke check sent
 * straight to each new task, which nothing answers in the simulated emulator, so it fails.
 */
const verified = new Set<string>();
const smokePlan = { intervalSeconds: 30, smoke: [{ path: '/health', status: 200, timeoutSeconds: 1 }], metrics: [] };

const ports = { servicePort: 10080, altServicePort: 10081, drainSeconds: 1 };

function strategyOf(service: string): DeployStrategy | undefined {
  if (service.startsWith('bg-')) return { type: 'blue-green', ...ports };
  if (service.startsWith('canary-'))
    return { type: 'canary', ...ports, steps: [{ instances: 1, verifySeconds: 300 }, { percent: 100 }] };
  return undefined;
}

/** A bridge app of two instances with an HTTP health check, as the default template renders it. */
function appFor(service: string, image: string, sha: string): Record<string, unknown> {
  const bad = unhealthy.has(sha);
  return {
    id: `/production/${service}`,
    instances: 2,
    cpus: 0.1,
    mem: 64,
    container: {
      type: 'DOCKER',
      docker: { image },
      portMappings: [{ containerPort: 8080, hostPort: 0, protocol: 'tcp', name: 'http' }],
    },
    networks: [{ mode: 'container/bridge' }],
    env: bad ? { SLIPWAY_SIMULATE_UNHEALTHY: '1' } : {},
    labels: { SLIPWAY_SERVICE: service },
    healthChecks: [
      {
        protocol: 'HTTP',
        path: '/health',
        portIndex: 0,
        gracePeriodSeconds: 30,
        intervalSeconds: 1,
        timeoutSeconds: 1,
        maxConsecutiveFailures: 3,
      },
    ],
  };
}

async function startDeployWorker(): Promise<void> {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    activities: deployActivities,
    taskQueue: 'slipway',
    workflowsPath: require.resolve('../../workflows'),
  });
  deployWorker = { worker, running: worker.run() };
}

async function stopDeployWorker(): Promise<void> {
  deployWorker?.worker.shutdown();
  await deployWorker?.running;
  deployWorker = undefined;
}

before(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalTestServerPath() } },
  });
  await registerSearchAttributes(env.connection);
  client = new Client({ connection: env.connection, namespace: env.namespace });
  emulator = await startMarathonEmulator({
    mode: 'simulated',
    simulatedHealthyAfterMs: 100,
    simulatedLaunchMs: 10,
    timeScale: 0.05,
    tickMs: 20,
  });
  marathon = new MarathonClient({ baseUrl: emulator.url });
  const world = createFakeWorld({ client, environments: [{ name: 'production' }] });
  const clientFor = (url: string) => new MarathonClient({ baseUrl: url });
  deployActivities = {
    ...world.deploy,
    ...createMarathonActivities({ clientFor, pollIntervalMs: 50 }),
    ...createMarathonStrategyActivities({ clientFor, pollIntervalMs: 50 }),
    // The real verification activities: the smoke checks go to the tasks' host:port from Marathon.
    ...createVerifyActivities({ clientFor, prometheusUrlFor: () => undefined }),
    ...createLaneChecks({
      client,
      deploys: {
        deployFor: async (lane, request) => {
          const strategy = strategyOf(lane.service);
          return {
            marathonUrl: emulator.url,
            app: appFor(lane.service, request.image, request.commit),
            healthTimeoutSeconds: 4,
            forceOverForeignDeployment: false,
            ...(strategy ? { strategy } : {}),
            ...(verified.has(request.commit) ? { verify: smokePlan } : {}),
          };
        },
        targetOf: (lane) => ({
          marathonUrl: emulator.url,
          appId: `/production/${lane.service}`,
          healthTimeoutSeconds: 4,
        }),
      },
    }),
  };
  await startDeployWorker();
  buildWorkers = [
    await Worker.create({ connection: env.nativeConnection, activities: world.build, taskQueue: 'slipway-build' }),
    await Worker.create({
      connection: env.nativeConnection,
      activities: world.build,
      taskQueue: 'slipway-build@test-host',
    }),
  ];
  buildRunning = Promise.all(buildWorkers.map((w) => w.run()));
});

after(async () => {
  await stopDeployWorker();
  for (const w of buildWorkers) w.shutdown();
  await buildRunning;
  await emulator?.close();
  await env?.teardown();
});

const commit = () => randomUUID().replace(/-/g, '').slice(0, 40).padEnd(40, 'a');

function start(service: string, sha: string): Promise<WorkflowHandle<typeof deliveryPipeline>> {
  return client.workflow.start(deliveryPipeline, {
    taskQueue: 'slipway',
    workflowId: pipelineWorkflowId(service, sha),
    args: [{ service, commit: sha, trigger: { kind: 'manual', user: 'test' }, author: { username: 'carol' } }],
  });
}

const lane = (service: string) => client.workflow.getHandle(laneWorkflowId(service, 'production'));
const laneState = (service: string): Promise<LaneState> => lane(service).query(laneQuery);

/** The group's apps in the emulator: id -> {instances, image, healthy tasks}. */
async function groupApps(service: string) {
  const apps = await marathon.listApps(`HAPROXY_DEPLOYMENT_GROUP==production_${service}`);
  return Object.fromEntries(
    apps.map((raw) => {
      const v = viewApp(raw);
      const healthy = v.tasks.filter(
        (t) => t.healthCheckResults.length > 0 && t.healthCheckResults.every((r) => r.alive),
      );
      return [v.id, { instances: v.instances, image: v.image, healthy: healthy.length, labels: v.labels }];
    }),
  );
}

async function deployed(service: string): Promise<PipelineStatus> {
  const handle = await start(service, commit());
  const status = await handle.result();
  assert.equal(status.state, 'succeeded', status.error);
  return status;
}

/** A healthy first deploy, then a second whose image never gets healthy: its pipeline fails with `error`. */
async function failingSecondDeploy(service: string, error: RegExp): Promise<PipelineStatus> {
  const first = await deployed(service);
  const bad = commit();
  unhealthy.add(bad);
  await assert.rejects((await start(service, bad)).result(), (err: unknown) => {
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String(err.cause?.message), error);
    return true;
  });
  return first;
}

/** Waits until the lane's blue/green or canary step matches. */
const atStep = (service: string, pattern: RegExp) =>
  until(
    `lane step ${pattern}`,
    20_000,
    async () => {
      const step = (await laneState(service)).strategyStep;
      return step && pattern.test(step) ? step : undefined;
    },
    { intervalMs: 50 },
  );

describe('deploy strategies', { timeout: 90_000 }, () => {
  test('blue/green: the first deploy is blue, the next switches to green and deletes blue', async () => {
    const svc = `bg-${randomUUID().slice(0, 8)}`;
    const first = await deployed(svc);
    assert.deepEqual(Object.keys(await groupApps(svc)), [`/production/${svc}-blue`]);
    assert.deepEqual((await laneState(svc)).current?.live, { appId: `/production/${svc}-blue`, colour: 'blue' });

    const second = await start(svc, commit());
    // Mid-switch both colours serve the group, on the two ports of the convention.
    await atStep(svc, /^switch: green .*draining/);
    const both = await groupApps(svc);
    assert.deepEqual(Object.keys(both).sort(), [`/production/${svc}-blue`, `/production/${svc}-green`]);
    assert.equal(both[`/production/${svc}-green`]?.labels.HAPROXY_DEPLOYMENT_COLOUR, 'green');
    assert.equal(both[`/production/${svc}-green`]?.labels.HAPROXY_0_PORT, '10080');
    assert.equal(both[`/production/${svc}-green`]?.labels.HAPROXY_DEPLOYMENT_TARGET_INSTANCES, '2');
    const status = await second.result();
    assert.equal(status.state, 'succeeded', status.error);
    assert.deepEqual(status.environments[0]?.live, { appId: `/production/${svc}-green`, colour: 'green' });

    const after = await groupApps(svc);
    assert.deepEqual(Object.keys(after), [`/production/${svc}-green`], 'blue is deleted');
    assert.equal(after[`/production/${svc}-green`]?.instances, 2);
    assert.equal(after[`/production/${svc}-green`]?.healthy, 2);
    assert.equal(after[`/production/${svc}-green`]?.image, status.image);
    const state = await laneState(svc);
    assert.deepEqual(state.current?.live, { appId: `/production/${svc}-green`, colour: 'green' });
    assert.equal(state.history[0]?.image, first.image);
    assert.equal(state.strategyStep, undefined);
    // zdd.py's way down: drained tasks killed with scale=true, then the old app deleted.
    const calls = emulator.requests().map((r) => `${r.method} ${r.path}`);
    assert.ok(calls.includes('POST /v2/tasks/delete'), 'drained blue tasks were killed');
    assert.ok(calls.includes(`DELETE /v2/apps/production/${svc}-blue`));
    await recordHistory(second, 'pipeline-blue-green');
    await recordHistory(lane(svc), 'lane-blue-green');
  });

  test('blue/green abort: a new colour that never gets healthy is deleted and blue serves on', async () => {
    const svc = `bg-${randomUUID().slice(0, 8)}`;
    const first = await failingSecondDeploy(svc, /not healthy within 4 s/);
    const apps = await groupApps(svc);
    assert.deepEqual(Object.keys(apps), [`/production/${svc}-blue`], 'green is deleted');
    assert.equal(apps[`/production/${svc}-blue`]?.healthy, 2);
    assert.equal(apps[`/production/${svc}-blue`]?.image, first.image);
    const state = await laneState(svc);
    assert.equal(state.current?.image, first.image);
    assert.equal(state.current?.live?.colour, 'blue');
    await recordHistory(lane(svc), 'lane-blue-green-abort');
  });

  test('blue/green with verification: a failing smoke check on the new colour aborts, blue serves on', async () => {
    const svc = `bg-${randomUUID().slice(0, 8)}`;
    const first = await deployed(svc);
    const sha = commit();
    verified.add(sha);
    await assert.rejects((await start(svc, sha)).result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(String(err.cause?.message), /verification failed: started: smoke GET \/health on \S+ /);
      return true;
    });
    const apps = await groupApps(svc);
    assert.deepEqual(Object.keys(apps), [`/production/${svc}-blue`], 'green is deleted');
    assert.equal(apps[`/production/${svc}-blue`]?.image, first.image);
    assert.equal((await laneState(svc)).current?.live?.colour, 'blue');
  });

  test('blue/green cancelled mid-switch: blue is scaled back to its size, green deleted', async () => {
    const svc = `bg-${randomUUID().slice(0, 8)}`;
    const first = await deployed(svc);
    const handle = await start(svc, commit());
    await atStep(svc, /^switch: .*draining/);
    await handle.cancel();
    await assert.rejects(handle.result());
    await until('blue alone and whole again', 20_000, async () => {
      const apps = await groupApps(svc);
      const blue = apps[`/production/${svc}-blue`];
      return Object.keys(apps).length === 1 && blue?.instances === 2 && blue.healthy === 2 ? true : undefined;
    });
    assert.equal((await groupApps(svc))[`/production/${svc}-blue`]?.image, first.image);
    assert.equal((await laneState(svc)).current?.live?.colour, 'blue');
  });

  test('blue/green mid-switch: the history up to the drain step replays, as a new worker would after a crash', async () => {
    const svc = `bg-${randomUUID().slice(0, 8)}`;
    await deployed(svc);
    const handle = await start(svc, commit());
    await atStep(svc, /^switch: .*draining/);
    // A worker that takes over a lane mid-switch rebuilds it from this history, then resumes at
    // the step (a durable timer here). The end-to-end test kills a real worker at this point.
    const history = historyFromJSON(JSON.parse(historyToJSON(await lane(svc).fetchHistory())));
    await Worker.runReplayHistory(
      { workflowsPath: require.resolve('../../workflows') },
      history,
      laneWorkflowId(svc, 'production'),
    );
    const status = await handle.result();
    assert.equal(status.state, 'succeeded', status.error);
    assert.deepEqual(Object.keys(await groupApps(svc)), [`/production/${svc}-green`]);
  });

  test('canary: one instance beside stable, a durable five-minute wait, then the stable app is promoted', async () => {
    const svc = `canary-${randomUUID().slice(0, 8)}`;
    const first = await deployed(svc);
    const stableId = `/production/${svc}`;
    assert.deepEqual(
      Object.keys(await groupApps(svc)),
      [stableId],
      'the first deploy puts the stable app in the group',
    );

    const handle = await start(svc, commit());
    await atStep(svc, /^canary step 1 of 2: 1 instance\(s\) beside 2: verifying for 300 s/);
    const during = await groupApps(svc);
    assert.equal(during[`${stableId}-canary`]?.instances, 1);
    assert.equal(during[stableId]?.image, first.image, 'the stable app is untouched while the canary runs');
    await env.sleep('5m');
    const status = await handle.result();
    assert.equal(status.state, 'succeeded', status.error);
    const after = await groupApps(svc);
    assert.deepEqual(Object.keys(after), [stableId], 'the canary is deleted');
    assert.equal(after[stableId]?.image, status.image, 'the stable app took the new version');
    assert.equal(after[stableId]?.instances, 2);
    await recordHistory(lane(svc), 'lane-canary');
  });

  test('canary failure: an unhealthy canary is deleted and the stable app keeps running the old version', async () => {
    const svc = `canary-${randomUUID().slice(0, 8)}`;
    const first = await failingSecondDeploy(svc, /canary \/production\/canary-\w+-canary failed/);
    const apps = await groupApps(svc);
    assert.deepEqual(Object.keys(apps), [`/production/${svc}`]);
    assert.equal(apps[`/production/${svc}`]?.image, first.image);
    assert.equal(apps[`/production/${svc}`]?.healthy, 2);
    await recordHistory(lane(svc), 'lane-canary-failed');
  });
});
