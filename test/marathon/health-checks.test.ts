// Health checks as Marathon runs them, and the faults Slipway must live with: COMMAND checks run
// in the task's container and MESOS_HTTP/MESOS_TCP inside its network namespace (containers mode,
// real containers); tasks LOST or UNREACHABLE and health "unknown" after a leader change
// (simulated mode), each handled by Slipway's wait: replaced tasks count, an unreachable old task
// does not hold the wait up, and unknown health is waited out, or named when the time runs out.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { startMarathonEmulator, type MarathonEmulator } from '../../dev/marathon-emulator';
import { activitiesFor, fastEmulator, bridgeApp, digest, getJson, inActivity } from './helpers';
import { buildImage, removeImages } from './images';

const run = randomBytes(4).toString('hex');
const repository = `${process.env.SLIPWAY_REGISTRY ?? 'local'}/slipway-test/marathon-checks`;
const images = { healthy: '', unhealthy: '' };
let containers: MarathonEmulator;
let simulated: MarathonEmulator;

before(async () => {
  images.healthy = await buildImage(repository, `ok-${run}`, 'ok\n', true);
  images.unhealthy = await buildImage(repository, `bad-${run}`, 'bad\n', false);
  containers = await startMarathonEmulator({ mode: 'containers', tickMs: 50 });
  simulated = await fastEmulator();
});
after(async () => {
  await containers?.close();
  await simulated?.close();
  await removeImages(repository, [`ok-${run}`, `bad-${run}`]);
});

const check = (protocol: string, extra: Record<string, unknown> = {}) => ({
  healthChecks: [
    {
      protocol,
      gracePeriodSeconds: 0,
      intervalSeconds: 1,
      timeoutSeconds: 2,
      maxConsecutiveFailures: 1,
      delaySeconds: 0,
      ...extra,
    },
  ],
});

async function deployAndWait(emu: MarathonEmulator, app: Record<string, unknown>, timeoutSeconds: number) {
  const activities = activitiesFor({ pollIntervalMs: 100 });
  const { result } = await inActivity(activities.deployToMarathon, [
    { marathonUrl: emu.url, environment: 'test', pipelineId: `pipeline/checks/${String(app.id)}`, app },
  ]);
  return inActivity(activities.awaitHealthy, [
    { ...result, marathonUrl: emu.url, environment: 'test', timeoutSeconds },
  ]);
}

test('a COMMAND check runs in the container: it passes where the file exists and kills the task where not', async () => {
  const command = { command: { value: 'test -f /www/health' } };
  const ok = await deployAndWait(containers, bridgeApp('/test/cmd-ok', images.healthy, check('COMMAND', command)), 60);
  assert.equal(ok.result.healthy, 1);
  await assert.rejects(
    deployAndWait(containers, bridgeApp('/test/cmd-bad', images.unhealthy, check('COMMAND', command)), 8),
    (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure && err.type === 'HealthTimeout');
      assert.match(
        err.message,
        /last task failure: TASK_KILLED: killed: unhealthy \(command "test -f \/www\/health" exited 1/,
      );
      return true;
    },
  );
});

test('MESOS_HTTP and MESOS_TCP run inside the task network against the container port', async () => {
  const http = await deployAndWait(
    containers,
    bridgeApp('/test/mesos-http', images.healthy, check('MESOS_HTTP', { path: '/health', portIndex: 0 })),
    60,
  );
  assert.equal(http.result.healthy, 1);
  const tcp = await deployAndWait(
    containers,
    bridgeApp('/test/mesos-tcp', images.unhealthy, check('MESOS_TCP', { portIndex: 0 })),
    60,
  );
  assert.equal(tcp.result.healthy, 1, 'the port answers even where /health is missing');
  await assert.rejects(
    deployAndWait(
      containers,
      bridgeApp('/test/mesos-http-bad', images.unhealthy, check('MESOS_HTTP', { path: '/health', portIndex: 0 })),
      6,
    ),
    /killed: unhealthy \(MESOS_HTTP GET 127\.0\.0\.1:8080\/health failed \(exit 1\)\)/,
  );
});

const lose = (emu: MarathonEmulator, appId: string, state: string) =>
  fetch(`${emu.url}/_emulator/tasks/lose`, { method: 'POST', body: JSON.stringify({ appId, state }) }).then(
    async (r) => ((await r.json()) as { tasks: string[] }).tasks,
  );

test('a LOST task is replaced and the wait counts the replacement', async () => {
  await deployAndWait(simulated, bridgeApp('/test/lost', digest(1), { instances: 2 }), 10);
  const [lostId] = await lose(simulated, '/test/lost', 'TASK_LOST');
  assert.ok(lostId);
  const again = await deployAndWait(simulated, bridgeApp('/test/lost', digest(1), { instances: 2 }), 10);
  assert.equal(again.result.healthy, 2);
  const app = (await getJson(`${simulated.url}/v2/apps/test/lost`)) as {
    app: { tasks: { id: string }[]; lastTaskFailure: { state: string; taskId: string } };
  };
  assert.ok(!app.app.tasks.some((t) => t.id === lostId));
  assert.deepEqual([app.app.lastTaskFailure.state, app.app.lastTaskFailure.taskId], ['TASK_LOST', lostId]);
});

test('an UNREACHABLE task of the old version stays listed, but does not hold up the new version', async () => {
  const keep = { unreachableStrategy: { inactiveAfterSeconds: 0, expungeAfterSeconds: 3600 } };
  await deployAndWait(simulated, bridgeApp('/test/unreachable', digest(1), keep), 10);
  const [id] = await lose(simulated, '/test/unreachable', 'TASK_UNREACHABLE');
  const upgraded = await deployAndWait(simulated, bridgeApp('/test/unreachable', digest(2), keep), 10);
  assert.equal(upgraded.result.healthy, 1);
  const app = (await getJson(`${simulated.url}/v2/apps/test/unreachable`)) as {
    app: { tasks: { id: string; state: string }[] };
  };
  assert.deepEqual(app.app.tasks.find((t) => t.id === id)?.state, 'TASK_UNREACHABLE');
});

test('after a leader change health is unknown: the wait names it at its deadline, and succeeds once checks report', async () => {
  await deployAndWait(simulated, bridgeApp('/test/leader', digest(1)), 10);
  const activities = activitiesFor({ pollIntervalMs: 50 });
  const input = {
    marathonUrl: simulated.url,
    environment: 'test',
    appId: '/test/leader',
    deploymentId: null,
    version: ((await getJson(`${simulated.url}/v2/apps/test/leader`)) as { app: { version: string } }).app.version,
  };
  await fetch(`${simulated.url}/_emulator/leader-change`, { method: 'POST', body: '{"unknownForMs": 2500}' });
  await assert.rejects(inActivity(activities.awaitHealthy, [{ ...input, timeoutSeconds: 1 }]), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure && err.type === 'HealthTimeout');
    assert.match(err.message, /healthy 0\/1.*health unknown for 1 task\(s\)/);
    return true;
  });
  const { result } = await inActivity(activities.awaitHealthy, [{ ...input, timeoutSeconds: 10 }]);
  assert.equal(result.healthy, 1);
});
