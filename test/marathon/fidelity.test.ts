// Smaller things a real Marathon does: an identical PUT keeps the service ports and restarts
// nothing; a deployment revert (DELETE without force) answers with Marathon-Deployment-Id;
// 1.4+ (to 1.10) event names; and Slipway reads tasks that come without `state`.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { viewApp } from '../../activities/marathon-app';
import type { MarathonEmulator } from '../../dev/marathon-emulator';
import { activitiesFor, fastEmulator, bridgeApp, digest, getJson, inActivity } from './helpers';
import { until } from '../helpers/wait';

let emu: MarathonEmulator;
before(async () => {
  emu = await fastEmulator();
});
after(() => emu?.close());

type App = {
  app: {
    tasks: { id: string }[];
    container: { portMappings: { servicePort: number }[] };
    versionInfo: { lastConfigChangeAt: string };
  };
};
const put = (id: string, body: unknown) =>
  fetch(`${emu.url}/v2/apps${id}?partialUpdate=false`, { method: 'PUT', body: JSON.stringify(body) });
const deployed = (id: string) =>
  until(`${id} deployed`, 5000, async () => {
    const deps = (await getJson(`${emu.url}/v2/deployments`)) as { affectedApps: string[] }[];
    const app = (await getJson(`${emu.url}/v2/apps${id}`)) as App;
    return !deps.some((d) => d.affectedApps.includes(id)) && app.app.tasks.length > 0 ? app : undefined;
  });

test('an identical PUT keeps the service ports and restarts nothing', async () => {
  const body = bridgeApp('/test/same', digest(1));
  await put('/test/same', body);
  const first = await deployed('/test/same');
  const again = await put('/test/same', body);
  assert.equal(again.status, 200);
  assert.ok(again.headers.get('marathon-deployment-id'));
  const second = await deployed('/test/same');
  assert.equal(second.app.container.portMappings[0]!.servicePort, first.app.container.portMappings[0]!.servicePort);
  assert.equal(second.app.versionInfo.lastConfigChangeAt, first.app.versionInfo.lastConfigChangeAt);
  assert.deepEqual(
    second.app.tasks.map((t) => t.id),
    first.app.tasks.map((t) => t.id),
  );
});

test('DELETE /v2/deployments/{id} (revert) answers with Marathon-Deployment-Id, like every deployment', async () => {
  await put('/test/revert', bridgeApp('/test/revert', digest(1)));
  await deployed('/test/revert');
  const stuck = await put('/test/revert', {
    ...bridgeApp('/test/revert', digest(2)),
    env: { SLIPWAY_SIMULATE_UNHEALTHY: '1' },
  });
  const { deploymentId } = (await stuck.json()) as { deploymentId: string };
  const reverted = await fetch(`${emu.url}/v2/deployments/${deploymentId}`, { method: 'DELETE' });
  assert.equal(reverted.status, 200);
  const body = (await reverted.json()) as { deploymentId: string; version: string };
  assert.ok(body.deploymentId);
  assert.equal(reverted.headers.get('marathon-deployment-id'), body.deploymentId);
});

test('events carry the 1.4+ names: instance_changed_event and unhealthy_instance_kill_event, never unhealthy_task_kill_event', async () => {
  const controller = new AbortController();
  const seen: string[] = [];
  const stream = await fetch(
    `${emu.url}/v2/events?event_type=instance_changed_event&event_type=unhealthy_instance_kill_event&event_type=unhealthy_task_kill_event`,
    { headers: { Accept: 'text/event-stream' }, signal: controller.signal },
  );
  const reading = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream.body as AsyncIterable<Uint8Array>)
        for (const m of decoder.decode(chunk).matchAll(/^event: (\S+)\ndata: (.*)$/gm))
          seen.push(`${m[1]} ${(JSON.parse(m[2]!) as { condition?: string }).condition ?? ''}`.trim());
    } catch {
      /* aborted */
    }
  })();
  const app = bridgeApp('/test/killed', digest(3), { env: { SLIPWAY_SIMULATE_UNHEALTHY: '1' } });
  (app.healthChecks as Record<string, unknown>[])[0]!.gracePeriodSeconds = 0;
  (app.healthChecks as Record<string, unknown>[])[0]!.maxConsecutiveFailures = 1;
  await put('/test/killed', app);
  await until('an unhealthy kill', 5000, async () => seen.includes('unhealthy_instance_kill_event') || undefined);
  controller.abort();
  await reading;
  assert.ok(seen.includes('instance_changed_event Running'), seen.join(', '));
  assert.ok(!seen.includes('unhealthy_task_kill_event'));
});

test('tasks without `state` are read from startedAt, and a deploy with them gets healthy', async () => {
  const tasks = [
    {
      id: 'web.1',
      version: '2019-06-11T12:30:00.500Z',
      startedAt: '2019-06-11T12:30:05.000Z',
      host: 'a',
      ports: [1],
      healthCheckResults: [{ alive: true }],
    },
    { id: 'web.2', version: '2019-06-11T12:30:00.500Z', stagedAt: '2019-06-11T12:30:04.000Z', host: 'b', ports: [2] },
  ];
  const view = viewApp({ app: { id: '/test/web', instances: 2, healthChecks: [{}], tasks } });
  assert.deepEqual(
    view.tasks.map((t) => t.state),
    ['TASK_RUNNING', 'TASK_STAGING'],
  );
  // Against a server that never sends `state`, the wait ends once both tasks have started.
  let started = 1;
  const server = http.createServer((req, res) => {
    const body = req.url?.startsWith('/v2/deployments')
      ? []
      : req.url?.startsWith('/v2/queue')
        ? { queue: [] }
        : {
            app: {
              id: '/test/web',
              instances: 2,
              version: '2019-06-11T12:30:00.500Z',
              healthChecks: [{ protocol: 'HTTP' }],
              deployments: [],
              tasks: tasks.map((t, i) =>
                i < started
                  ? { ...t, startedAt: '2019-06-11T12:30:05.000Z', healthCheckResults: [{ alive: true }] }
                  : t,
              ),
            },
          };
    started = 2;
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { result } = await inActivity(activitiesFor({ pollIntervalMs: 20 }).awaitHealthy, [
      {
        marathonUrl: url,
        environment: 'test',
        appId: '/test/web',
        version: '2019-06-11T12:30:00.500Z',
        deploymentId: null,
        timeoutSeconds: 5,
      },
    ]);
    assert.equal(result.healthy, 2);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});
