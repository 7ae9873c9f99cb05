// Issue 3's "done when", on real parts: the Marathon emulator in containers mode runs every task
// as a real container. Through the deploy activities a busybox HTTP image is deployed to
// /test/<app>, reported healthy by a real HTTP health check, upgraded to a second image with zero
// failed requests while a client keeps calling the service (minimumHealthCapacity 1, picking a
// healthy task from Marathon's task list before each request, as a load balancer would), and an
// unhealthy third image runs into our timeout and is rolled back while the second keeps serving.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import Dockerode from 'dockerode';
import { MarathonClient } from '../../activities/marathon-client';
import { viewApp } from '../../activities/marathon-app';
import { startMarathonEmulator, type MarathonEmulator } from '../../dev/marathon-emulator';
import { activitiesFor, bridgeApp, inActivity } from './helpers';
import { buildImage, removeImages } from './images';
import { until } from '../helpers/wait';

const docker = new Dockerode();
const run = randomBytes(4).toString('hex');
const repository = `${process.env.SLIPWAY_REGISTRY ?? 'local'}/slipway-test/marathon-httpd`;
const images: Record<'v1' | 'v2' | 'v3', string> = { v1: '', v2: '', v3: '' };
let emu: MarathonEmulator;

before(async () => {
  images.v1 = await buildImage(repository, `v1-${run}`, `v1 ${run}\n`, true);
  images.v2 = await buildImage(repository, `v2-${run}`, `v2 ${run}\n`, true);
  images.v3 = await buildImage(repository, `v3-${run}`, `v3 ${run}\n`, false);
  emu = await startMarathonEmulator({ mode: 'containers', tickMs: 50 });
});

after(async () => {
  await emu?.close();
  await removeImages(
    repository,
    ['v1', 'v2', 'v3'].map((v) => `${v}-${run}`),
  );
});

/** Calls the service like a load balancer: before each request, a healthy task from Marathon's task list. */
function startTraffic(client: MarathonClient, appId: string) {
  /** phase -> answer body -> how many requests got it. */
  const answers = new Map<string, Map<string, number>>();
  const failures: string[] = [];
  let phase = 'start';
  let last = '';
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const raw = await client.getApp(appId).catch(() => null);
      const tasks = raw
        ? viewApp(raw).tasks.filter(
            (t) =>
              t.state === 'TASK_RUNNING' &&
              t.healthCheckResults.length > 0 &&
              t.healthCheckResults.every((r) => r.alive),
          )
        : [];
      const task = tasks[Math.floor(Math.random() * tasks.length)];
      if (!task) {
        failures.push('no healthy task in Marathon');
      } else {
        try {
          const res = await fetch(`http://${task.host}:${task.ports[0]}/`, { signal: AbortSignal.timeout(2000) });
          const text = (await res.text()).trim();
          if (res.status !== 200) failures.push(`HTTP ${res.status} from ${task.id}`);
          else {
            const counts = answers.get(phase) ?? new Map<string, number>();
            counts.set(text, (counts.get(text) ?? 0) + 1);
            answers.set(phase, counts);
            last = text;
          }
        } catch (err) {
          failures.push(`${task.id}: ${(err as Error).message}`);
        }
      }
      // Pacing, not waiting: a request every ~10 ms is the traffic the upgrade must not disturb.
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    failures,
    phase: (name: string) => (phase = name),
    answered: (name: string) => [...(answers.get(name)?.keys() ?? [])].sort(),
    last: () => last,
    /** Requests answered so far in every phase. */
    count: () => [...answers.values()].reduce((n, m) => n + [...m.values()].reduce((a, b) => a + b, 0), 0),
    stop: async () => ((stopped = true), await loop),
  };
}

test('a real container is deployed, upgraded without a failed request, and an unhealthy image is rolled back while the old one serves', async () => {
  const appId = `/test/httpd-${run}`;
  const client = new MarathonClient({ baseUrl: emu.url });
  const acts = activitiesFor({ pollIntervalMs: 100 });
  const app = (image: string) =>
    bridgeApp(appId, image, {
      mem: 16,
      taskKillGracePeriodSeconds: 1,
      healthChecks: [
        {
          protocol: 'HTTP',
          path: '/health',
          portIndex: 0,
          gracePeriodSeconds: 2,
          intervalSeconds: 1,
          timeoutSeconds: 1,
          maxConsecutiveFailures: 2,
        },
      ],
      upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
    });
  const env = { marathonUrl: emu.url, environment: 'test' };
  const deploy = async (image: string, pipelineId: string) =>
    (await inActivity(acts.deployToMarathon, [{ ...env, pipelineId, app: app(image) }])).result;
  const healthy = async (d: { version: string; deploymentId: string | null }, timeoutSeconds: number) =>
    (
      await inActivity(acts.awaitHealthy, [
        { ...env, appId, version: d.version, deploymentId: d.deploymentId, timeoutSeconds },
      ])
    ).result;

  // 1. First image: a real container, healthy through a real HTTP check.
  let t = Date.now();
  const first = await deploy(images.v1, `pipe-v1-${run}`);
  const firstHealthy = await healthy(first, 60);
  assert.deepEqual([firstHealthy.healthy, firstHealthy.instances], [1, 1]);
  const task = viewApp((await client.getApp(appId))!).tasks[0]!;
  assert.equal(task.host, '127.0.0.1');
  assert.equal((await (await fetch(`http://127.0.0.1:${task.ports[0]}/`)).text()).trim(), `v1 ${run}`);
  const containers = await docker.listContainers({ filters: { label: [`slipway.emulator.app=${appId}`] } });
  assert.equal(containers.length, 1);
  assert.equal(containers[0]?.Labels.SLIPWAY_PIPELINE_ID, `pipe-v1-${run}`, 'app labels are passed to the container');
  console.log(`[containers] v1 healthy in ${Date.now() - t} ms`);

  // 2. Upgrade under traffic: the old task serves until the new one is healthy.
  const traffic = startTraffic(client, appId);
  try {
    traffic.phase('upgrade');
    t = Date.now();
    const second = await deploy(images.v2, `pipe-v2-${run}`);
    await healthy(second, 60);
    console.log(`[containers] v2 healthy in ${Date.now() - t} ms`);
    await until('the traffic to reach v2', 10_000, () => (traffic.last() === `v2 ${run}` ? true : undefined), {
      intervalMs: 20,
    });
    assert.deepEqual(traffic.failures, [], 'no failed request during the upgrade');
    // While both tasks are healthy both answer; once the deployment is done only v2 does.
    assert.deepEqual(traffic.answered('upgrade'), [`v1 ${run}`, `v2 ${run}`]);
    assert.equal(traffic.last(), `v2 ${run}`);

    // 3. Unhealthy third image: our timeout, then rollback to the second; v2 keeps serving throughout.
    traffic.phase('unhealthy');
    t = Date.now();
    const third = await deploy(images.v3, `pipe-v3-${run}`);
    assert.equal(third.previousImage, images.v2);
    const failure = await healthy(third, 6).catch((err: unknown) => err);
    assert.ok(failure instanceof ApplicationFailure && failure.type === 'HealthTimeout', String(failure));
    assert.match(failure.message, /healthy 0\/1/);
    const rolled = (
      await inActivity(acts.rollbackMarathonApp, [
        { ...env, appId, toVersion: third.previousVersion!, timeoutSeconds: 60, reason: 'health timeout' },
      ])
    ).result;
    console.log(`[containers] v3 timed out and was rolled back in ${Date.now() - t} ms`);
    // Some traffic after the rollback too, so "v2 never stopped" covers its end.
    const answeredBefore = traffic.count();
    await until(
      'traffic after the rollback',
      10_000,
      () => (traffic.count() >= answeredBefore + 10 ? true : undefined),
      {
        intervalMs: 20,
      },
    );
    assert.deepEqual(traffic.failures, [], 'no failed request while v3 failed and was rolled back');
    assert.deepEqual(traffic.answered('unhealthy'), [`v2 ${run}`], 'v3 never served, v2 never stopped');

    const now = viewApp((await client.getApp(appId))!);
    assert.equal(now.image, images.v2);
    assert.equal(now.version, rolled.version);
    assert.equal(now.tasks.length, 1);
    assert.deepEqual(now.deploymentIds, []);
  } finally {
    await traffic.stop();
  }
  // Killed containers are removed after their grace period.
  const containersOf = async (id: string, all = true) =>
    (await docker.listContainers({ all, filters: { label: [`slipway.emulator.app=${id}`] } })).length;
  await until('replaced containers to be removed', 15_000, async () =>
    (await containersOf(appId)) === 1 ? true : undefined,
  );

  // Deleting the app stops its containers.
  await fetch(`${emu.url}/v2/apps${appId}`, { method: 'DELETE' });
  await until('containers of a deleted app to be removed', 15_000, async () =>
    (await containersOf(appId)) === 0 ? true : undefined,
  );
});

test('closing the emulator removes every container it started', async () => {
  const other = await startMarathonEmulator({ mode: 'containers', tickMs: 50 });
  const appId = `/test/close-${run}`;
  try {
    await fetch(`${other.url}/v2/apps${appId}`, {
      method: 'PUT',
      body: JSON.stringify({ ...bridgeApp(appId, images.v1), instances: 2 }),
    });
    await until('two containers to start', 20_000, async () =>
      (await docker.listContainers({ filters: { label: [`slipway.emulator.app=${appId}`] } })).length >= 2
        ? true
        : undefined,
    );
  } finally {
    await other.close();
  }
  assert.equal(
    (await docker.listContainers({ all: true, filters: { label: [`slipway.emulator.app=${appId}`] } })).length,
    0,
  );
});
