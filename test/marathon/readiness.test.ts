// Readiness checks as Marathon treats them: an unknown portName is a 422 (and refused before it is
// sent); during a deployment a new task counts only once ready, old tasks stay until then, and the
// deployment ends when all are ready; Slipway's config renders `readinessCheck` and its wait
// reports readiness and times out on a task that never gets ready.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { loadDeployConfig } from '../../common/config';
import { validateMarathonApp } from '../../activities/marathon-app';
import { renderMarathonAppFromConfig } from '../../activities/plan';
import { parseMarathonVersion } from '../../activities/marathon-version';
import type { HealthProgress } from '../../activities/marathon';
import type { MarathonEmulator } from '../../dev/marathon-emulator';
import { activitiesFor, fastEmulator, bridgeApp, digest, getJson, inActivity } from './helpers';
import { until } from '../helpers/wait';

let emu: MarathonEmulator;
before(async () => {
  emu = await fastEmulator({ simulatedHealthyAfterMs: 50, simulatedLaunchMs: 10 });
});
after(() => emu?.close());

const readiness = (extra: Record<string, unknown> = {}) => ({
  readinessChecks: [
    {
      name: 'ready',
      protocol: 'HTTP',
      path: '/ready',
      portName: 'http',
      intervalSeconds: 2,
      timeoutSeconds: 1,
      ...extra,
    },
  ],
});

test('an unknown portName is a 422 from Marathon and refused by Slipway before sending', async () => {
  const app = bridgeApp('/test/unready-port', digest(1), readiness({ portName: 'admin' }));
  const res = await fetch(`${emu.url}/v2/apps/test/unready-port`, { method: 'PUT', body: JSON.stringify(app) });
  assert.equal(res.status, 422);
  const body = (await res.json()) as { details: { path: string; errors: string[] }[] };
  assert.deepEqual(
    body.details.find((d) => d.path === '/readinessChecks(0)/portName'),
    { path: '/readinessChecks(0)/portName', errors: ['No port definition reference for portName admin'] },
  );
  assert.match(
    validateMarathonApp(app).join('; '),
    /readinessChecks\[0\]\.portName is "admin": no port has that name; expected one of "http"/,
  );
  assert.deepEqual(validateMarathonApp(bridgeApp('/test/x', digest(1), readiness())), []);
});

test('old tasks stay until a new one is ready; the deployment and Slipway wait for readiness', async () => {
  const activities = activitiesFor({ pollIntervalMs: 50 });
  const deploy = async (n: number, env: Record<string, string> = {}) =>
    (
      await inActivity(activities.deployToMarathon, [
        {
          marathonUrl: emu.url,
          environment: 'test',
          pipelineId: `pipeline/ready/${n}`,
          app: bridgeApp('/test/ready', digest(n), { ...readiness(), env }),
        },
      ])
    ).result;
  const wait = (d: Awaited<ReturnType<typeof deploy>>, timeoutSeconds: number) =>
    inActivity(activities.awaitHealthy, [{ ...d, marathonUrl: emu.url, environment: 'test', timeoutSeconds }]);

  const first = await deploy(1);
  const healthy = await wait(first, 20);
  assert.equal(healthy.result.healthy, 1);

  // Healthy but never ready: the old task keeps serving, the deployment never ends.
  const second = await deploy(2, { SLIPWAY_SIMULATE_NOT_READY: '1' });
  type Deployment = { id: string; currentActions: { readinessCheckResults: { taskId: string; ready: boolean }[] }[] };
  const results = await until('the readiness result of the new task', 10_000, async () => {
    const deps = (await getJson(`${emu.url}/v2/deployments`)) as Deployment[];
    const r = deps.find((d) => d.id === second.deploymentId)?.currentActions[0]?.readinessCheckResults ?? [];
    return r.length > 0 ? r : undefined;
  });
  assert.equal(results[0]?.ready, false);
  let heartbeats: unknown[] = [];
  await assert.rejects(
    inActivity(activities.awaitHealthy, [{ ...second, marathonUrl: emu.url, environment: 'test', timeoutSeconds: 2 }], {
      onEnv: (env) => env.on('heartbeat', (d: unknown) => heartbeats.push(d)),
    }),
    (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure && err.type === 'HealthTimeout');
      assert.match(
        err.message,
        /healthy 1\/1, ready 0\/1 \(readiness check\).*1 task\(s\) of older versions still running/,
      );
      return true;
    },
  );
  assert.equal((heartbeats.at(-1) as HealthProgress).ready, 0);
  const app = (await getJson(`${emu.url}/v2/apps/test/ready?embed=app.readiness`)) as {
    app: { tasks: { version: string }[]; readinessCheckResults: { ready: boolean }[] };
  };
  assert.equal(app.app.tasks.length, 2, 'the old task was not killed for a task that is not ready');
  assert.deepEqual(
    app.app.readinessCheckResults.map((r) => r.ready),
    [false],
  );

  // A version that gets ready replaces it; the deployment ends only then.
  const third = await (async () => {
    await fetch(`${emu.url}/v2/deployments/${second.deploymentId}?force=true`, { method: 'DELETE' });
    return deploy(3);
  })();
  heartbeats = [];
  const done = await wait(third, 20);
  assert.equal(done.result.healthy, 1);
  const after = (await getJson(`${emu.url}/v2/apps/test/ready`)) as { app: { tasks: unknown[] } };
  assert.equal(after.app.tasks.length, 1);
});

test('config readinessCheck renders a readiness check on the port named "http"; a timeout not below the interval is a config error', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-ready-'));
  try {
    mkdirSync(path.join(dir, 'services'));
    writeFileSync(path.join(dir, 'slipway.yaml'), 'environments:\n  - name: test\n    marathon: http://127.0.0.1:1\n');
    const service = path.join(dir, 'services', 'web.yaml');
    writeFileSync(service, 'name: web\ntype: node\nrepository: /tmp/web\napp:\n  readinessCheck: { path: /ready }\n');
    const input = { service: 'web', environment: 'test', image: digest(3), pipelineId: 'p', commit: 'abc1234' };
    for (const version of ['1.4', '1.5']) {
      const app = renderMarathonAppFromConfig(loadDeployConfig(dir), {
        ...input,
        target: parseMarathonVersion(version)!,
      });
      assert.deepEqual(app.readinessChecks, [
        {
          name: 'readiness',
          protocol: 'HTTP',
          path: '/ready',
          portName: 'http',
          intervalSeconds: 5,
          timeoutSeconds: 3,
          httpStatusCodesForReady: [200],
          preserveLastResponse: false,
        },
      ]);
    }
    writeFileSync(
      service,
      'name: web\ntype: node\nrepository: /tmp/web\napp:\n  readinessCheck: { path: /ready, intervalSeconds: 2, timeoutSeconds: 2 }\n',
    );
    assert.throws(
      () => loadDeployConfig(dir),
      /field "app.readinessCheck" is .*expected timeoutSeconds below intervalSeconds/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
