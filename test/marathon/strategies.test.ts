// The pieces of the blue/green and canary strategies without workflows: the `strategy` config and
// its errors, marathon-lb's drain rule, the Marathon calls they add (list by label, scale, kill
// with scale, delete) against the emulator in Marathon 1.5's and 1.4's shapes, and the lane's
// knowledge of the live colour.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getService, loadDeployConfig, resolveStrategy } from '../../common/config';
import { ConfigError } from '../../common/errors';
import { drainedTaskIds, groupBackends, nextScaleUp, type GroupApp } from '../../common/deployment-group';
import { MarathonClient } from '../../activities/marathon-client';
import { createMarathonActivities } from '../../activities/marathon';
import { createMarathonStrategyActivities, withServicePort } from '../../activities/marathon-strategies';
import { viewApp } from '../../activities/marathon-app';
import { Lane } from '../../workflows/lane/lane-state';
import type { MarathonEmulator } from '../../dev/marathon-emulator';
import { until } from '../helpers/wait';
import { fastEmulator } from './helpers';

const env = { MARATHON_URL: 'http://marathon.test:8080' };

function load(root: string, service: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-strategy-'));
  writeFileSync(path.join(dir, 'slipway.yaml'), root);
  mkdirSync(path.join(dir, 'services'));
  writeFileSync(path.join(dir, 'services', 'web.yaml'), service);
  return loadDeployConfig(dir, { env });
}

const ports = 'app: { servicePort: 10080, altServicePort: 10081 }\n';

describe('strategy config', () => {
  test('an environment sets it for every service, a service overrides it per environment', () => {
    const config = load(
      'environments:\n  - name: test\n  - name: production\n    strategy: blue-green\n',
      `name: web\ntype: node\n${ports}environments:\n  test: { strategy: { type: canary, steps: [{ instances: 1, verify: 5m }, { percent: 50 }, { percent: 100 }] } }\n`,
    );
    const web = getService(config, 'web');
    assert.deepEqual(resolveStrategy(config, web, 'production'), {
      type: 'blue-green',
      servicePort: 10080,
      altServicePort: 10081,
      drainSeconds: 10,
    });
    assert.deepEqual(resolveStrategy(config, web, 'test'), {
      type: 'canary',
      servicePort: 10080,
      altServicePort: 10081,
      drainSeconds: 10,
      steps: [{ instances: 1, verifySeconds: 300 }, { percent: 50 }, { percent: 100 }],
    });
  });

  test('without a strategy it is rolling; blue-green without its ports is an error naming the file', () => {
    const rolling = load('environments:\n  - name: test\n', 'name: web\ntype: node\n');
    assert.deepEqual(resolveStrategy(rolling, getService(rolling, 'web'), 'test'), { type: 'rolling' });
    const config = load('environments:\n  - name: test\n    strategy: blue-green\n', 'name: web\ntype: node\n');
    assert.throws(
      () => resolveStrategy(config, getService(config, 'web'), 'test'),
      (err: unknown) =>
        err instanceof ConfigError &&
        /web\.yaml: strategy "blue-green" in test needs "servicePort" and a different "altServicePort"/.test(
          err.message,
        ),
    );
  });

  test('a canary whose last step does not promote, or a step with both counts, is refused', () => {
    assert.throws(
      () =>
        load(
          'environments:\n  - name: test\n    strategy: { type: canary, steps: [{ instances: 1 }] }\n',
          'name: web\ntype: node\n',
        ),
      /field "environments\.0\.strategy.*expected the last step to be \{ percent: 100 \}/,
    );
    assert.throws(
      () =>
        load(
          'environments:\n  - name: test\n    strategy: { type: canary, steps: [{ instances: 1, percent: 5 }, { percent: 100 }] }\n',
          'name: web\ntype: node\n',
        ),
      /expected exactly one of "instances" or "percent"/,
    );
  });
});

describe("marathon-lb's deployment group", () => {
  const app = (id: string, instances: number, startedAt: string, healthy: number, target = 3): GroupApp => ({
    id,
    instances,
    labels: {
      HAPROXY_DEPLOYMENT_GROUP: 'web',
      HAPROXY_DEPLOYMENT_STARTED_AT: startedAt,
      HAPROXY_DEPLOYMENT_TARGET_INSTANCES: String(target),
    },
    hasHealthChecks: true,
    tasks: Array.from({ length: instances }, (_, i) => ({
      id: `${id}.${i}`,
      state: 'TASK_RUNNING',
      host: '127.0.0.1',
      port: 31000 + i,
      healthy: i < healthy,
    })),
  });

  test('as many old tasks drain as the new app has healthy ones, beyond the target, oldest ids first', () => {
    const blue = app('/web-blue', 3, '2026-01-01', 3);
    assert.deepEqual(drainedTaskIds(blue, app('/web-green', 1, '2026-02-01', 0)), []);
    assert.deepEqual(drainedTaskIds(blue, app('/web-green', 2, '2026-02-01', 1)), ['/web-blue.0']);
    assert.deepEqual(drainedTaskIds(blue, app('/web-green', 3, '2026-02-01', 3)), [
      '/web-blue.0',
      '/web-blue.1',
      '/web-blue.2',
    ]);
    const backends = groupBackends([blue, app('/web-green', 2, '2026-02-01', 1)]);
    assert.deepEqual(
      backends.map((b) => `${b.taskId}${b.draining ? ' (draining)' : ''}`),
      ['/web-blue.0 (draining)', '/web-blue.1', '/web-blue.2', '/web-green.0'],
      'unhealthy tasks get no traffic; the drained one gets no new requests',
    );
  });

  test("the new app grows as zdd.py grows it: by half, then to the target once it passes the old app's size", () => {
    assert.equal(nextScaleUp(1, 9, 10), 2);
    assert.equal(nextScaleUp(2, 8, 10), 3);
    assert.equal(nextScaleUp(3, 7, 10), 5);
    assert.equal(nextScaleUp(5, 5, 10), 10);
    assert.equal(nextScaleUp(1, 1, 2), 2);
  });
});

for (const apiShape of ['1.5', '1.4'] as const) {
  describe(`the strategies' Marathon calls on Marathon ${apiShape}`, () => {
    let emulator: MarathonEmulator;
    let client: MarathonClient;
    const clientFor = (url: string) => new MarathonClient({ baseUrl: url });
    const steps = createMarathonStrategyActivities({ clientFor, pollIntervalMs: 20 });
    const marathon = createMarathonActivities({ clientFor, pollIntervalMs: 20 });
    const target = () => ({ marathonUrl: emulator.url, environment: 'production' });
    const groupPorts = { servicePort: 10080, altServicePort: 10081, drainSeconds: 0 };
    const rendered = (id: string): Record<string, unknown> => ({
      id,
      instances: 2,
      cpus: 0.1,
      mem: 64,
      container:
        apiShape === '1.4'
          ? {
              type: 'DOCKER',
              docker: {
                image: 'registry.test/web@sha256:' + '1'.repeat(64),
                network: 'BRIDGE',
                portMappings: [{ containerPort: 8080, hostPort: 0, protocol: 'tcp', name: 'http' }],
              },
            }
          : {
              type: 'DOCKER',
              docker: { image: 'registry.test/web@sha256:' + '1'.repeat(64) },
              portMappings: [{ containerPort: 8080, hostPort: 0, protocol: 'tcp', name: 'http' }],
            },
      ...(apiShape === '1.5' ? { networks: [{ mode: 'container/bridge' }] } : {}),
      healthChecks: [{ protocol: 'HTTP', path: '/health', portIndex: 0, gracePeriodSeconds: 5, intervalSeconds: 1 }],
    });

    before(async () => {
      emulator = await fastEmulator({ apiShape });
      client = clientFor(emulator.url);
    });
    after(() => emulator?.close());

    test('a first blue, then green on the other port; drained blue tasks killed with scale; blue deleted', async () => {
      const first = await steps.prepareBlueGreen({ ...target(), app: rendered('/production/web'), ports: groupPorts });
      assert.equal(first.old, null);
      assert.equal(first.next.appId, '/production/web-blue');
      assert.equal(first.next.app.instances, 2, 'nothing serves yet: all instances at once');
      const blue = await marathon.deployToMarathon({ ...target(), pipelineId: 'p1', app: first.next.app });
      await marathon.awaitHealthy({ ...target(), ...blue, appId: first.next.appId, timeoutSeconds: 20 });
      const blueView = viewApp(await client.getApp('/production/web-blue'));
      assert.equal(blueView.ports[0]?.servicePort, 10080, 'the first colour holds the group port');
      assert.equal(blueView.labels.HAPROXY_0_PORT, '10080');

      const second = await steps.prepareBlueGreen({
        ...target(),
        app: rendered('/production/web'),
        ports: groupPorts,
        liveAppId: '/production/web-blue',
      });
      assert.equal(second.old?.appId, '/production/web-blue');
      assert.equal(second.old?.colour, 'blue');
      assert.equal(second.next.colour, 'green');
      assert.equal(second.next.app.instances, 1, 'beside a serving colour: one instance first');
      const green = await marathon.deployToMarathon({ ...target(), pipelineId: 'p2', app: second.next.app });
      await marathon.awaitHealthy({ ...target(), ...green, appId: second.next.appId, timeoutSeconds: 20 });
      assert.equal(viewApp(await client.getApp('/production/web-green')).ports[0]?.servicePort, 10081);
      assert.deepEqual(
        (await client.listApps('HAPROXY_DEPLOYMENT_GROUP==production_web')).map((a) => viewApp(a).id).sort(),
        ['/production/web-blue', '/production/web-green'],
      );

      const killed = await steps.killDrainedTasks({
        ...target(),
        oldAppId: '/production/web-blue',
        newAppId: '/production/web-green',
      });
      assert.equal(killed.killed.length, 1, 'one healthy green task: one blue task drained and killed');
      assert.equal(killed.oldInstances, 1);
      await until('blue to run one task', 10_000, async () => {
        const v = viewApp(await client.getApp('/production/web-blue'));
        return v.instances === 1 && v.tasks.length === 1 && !v.tasks.some((t) => t.id === killed.killed[0])
          ? true
          : undefined;
      });
      const scaled = await steps.scaleMarathonApp({ ...target(), appId: '/production/web-green', instances: 2 });
      await marathon.awaitHealthy({ ...target(), appId: '/production/web-green', ...scaled, timeoutSeconds: 20 });
      assert.equal(
        (
          await steps.killDrainedTasks({
            ...target(),
            oldAppId: '/production/web-blue',
            newAppId: '/production/web-green',
          })
        ).oldInstances,
        0,
      );

      assert.deepEqual(await steps.deleteMarathonApp({ ...target(), appId: '/production/web-blue' }), {
        deleted: true,
      });
      assert.equal(await client.getApp('/production/web-blue'), null);
      assert.deepEqual(
        await steps.deleteMarathonApp({ ...target(), appId: '/production/web-blue' }),
        { deleted: false },
        'a retried delete is harmless',
      );
    });
  });
}

test('the service port lands where each API shape keeps it', () => {
  const legacy = withServicePort({ container: { docker: { portMappings: [{ containerPort: 80 }] } } }, 10080);
  assert.deepEqual(legacy.container, { docker: { portMappings: [{ containerPort: 80, servicePort: 10080 }] } });
  const bridge = withServicePort({ container: { portMappings: [{ containerPort: 80 }] } }, 10081);
  assert.deepEqual(bridge.container, { portMappings: [{ containerPort: 80, servicePort: 10081 }] });
  assert.deepEqual(withServicePort({ portDefinitions: [{ port: 0, name: 'http' }] }, 10080).portDefinitions, [
    { port: 10080, name: 'http' },
  ]);
});

test('the lane knows the live colour: status and rollback name it', () => {
  const lane = new Lane({ service: 'web', environment: 'production' }, () => new Date('2026-12-01T00:00:00Z'));
  const req = {
    pipelineId: 'p1',
    order: 1,
    commit: 'a'.repeat(40),
    image: 'r/web@sha256:' + '1'.repeat(64),
    marathonUrl: 'http://m',
    app: { id: '/production/web' },
    healthTimeoutSeconds: 60,
    forceOverForeignDeployment: false,
  };
  lane.startDeploy(req);
  lane.deployed(req, 'v1', { appId: '/production/web-green', colour: 'green' });
  assert.deepEqual(lane.state.current?.live, { appId: '/production/web-green', colour: 'green' });
  const plan = lane.rollbackPlan({ requestId: 'r', requestedBy: 'ops', reason: 'x' });
  assert.match('error' in plan ? plan.error : '', /is blue\/green: the colour that ran before was deleted/);
  const named = lane.rollbackPlan({ requestId: 'r', requestedBy: 'ops', reason: 'x', toVersion: 'v0' });
  assert.equal(
    'target' in named ? named.target.appId : '',
    '/production/web-green',
    'a named version rolls the live colour back',
  );
});
