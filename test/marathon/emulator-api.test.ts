// The Marathon emulator (simulated mode) answers with Marathon's documented status codes, headers
// and body shapes (fixtures in test/fixtures/marathon, sources in its README): create, update,
// lock, validation, unknown apps and versions, deployments (revert / force cancel), restart,
// delete, events, the 1.4 response shape, fault injection and the admin request log.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startMarathonEmulator, type MarathonEmulator } from '../../dev/marathon-emulator';
import { bridgeApp, digest, fixture, getJson, legacyBridgeApp, shapeMismatches } from './helpers';
import { until } from '../helpers/wait';

let emu: MarathonEmulator;
const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${emu.url}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
};
const waitFor = (what: string, probe: () => Promise<boolean>, timeoutMs = 5000) =>
  until(what, timeoutMs, async () => ((await probe()) ? true : undefined), { intervalMs: 50 });
const deploymentsOf = async (appId: string) =>
  ((await getJson(`${emu.url}/v2/deployments`)) as { id: string; affectedApps: string[] }[]).filter((d) =>
    d.affectedApps.includes(appId),
  );

before(async () => {
  emu = await startMarathonEmulator({
    mode: 'simulated',
    simulatedHealthyAfterMs: 100,
    simulatedLaunchMs: 10,
    timeScale: 0.05,
    tickMs: 20,
  });
});
after(() => emu.close());

test('POST /v2/apps: 201, Location, Marathon-Deployment-Id, the app as body; a second POST is 409 without `deployments`', async () => {
  const created = await call('POST', '/v2/apps', { ...bridgeApp('test/posted', digest(1)), instances: 2 });
  assert.equal(created.status, 201);
  assert.equal(created.headers.get('location'), '/v2/apps/test/posted');
  const deploymentId = created.headers.get('marathon-deployment-id');
  assert.ok(deploymentId);
  assert.equal(created.json?.id, '/test/posted', 'relative ids come back absolute');
  assert.deepEqual(created.json?.deployments, [{ id: deploymentId }]);
  assert.deepEqual(shapeMismatches(fixture<{ apps: unknown[] }>('app-list.json').apps[0], created.json), []);

  const again = await call('POST', '/v2/apps', bridgeApp('/test/posted', digest(1)));
  assert.equal(again.status, 409);
  assert.deepEqual(again.json, { message: 'An app with id [/test/posted] already exists.' });
});

test('PUT creates (201) then updates (200) with {version, deploymentId}; a locked app answers the documented 409', async () => {
  const first = await call('PUT', '/v2/apps/test/put?partialUpdate=false', bridgeApp('/test/put', digest(1)));
  assert.equal(first.status, 201);
  assert.deepEqual(shapeMismatches(fixture('deployment-result.json'), first.json), []);
  assert.equal(first.headers.get('marathon-deployment-id'), first.json?.deploymentId);

  const whileLocked = await call('PUT', '/v2/apps/test/put', bridgeApp('/test/put', digest(2)));
  assert.equal(whileLocked.status, 409);
  assert.deepEqual(shapeMismatches(fixture('locked-409.json'), whileLocked.json), []);
  assert.equal(whileLocked.json?.message, fixture<{ message: string }>('locked-409.json').message);
  assert.deepEqual(whileLocked.json?.deployments, [{ id: first.json?.deploymentId }]);

  const deployments = (await getJson(`${emu.url}/v2/deployments`)) as unknown[];
  assert.deepEqual(
    shapeMismatches(
      fixture<unknown[]>('deployments.json')[0],
      deployments.find((d) => (d as { id: string }).id === first.json?.deploymentId),
    ),
    [],
  );

  await waitFor('first deployment to finish', async () => (await deploymentsOf('/test/put')).length === 0);
  const app = (await call('GET', '/v2/apps/test/put')).json!;
  assert.deepEqual(shapeMismatches(fixture('app-1.5.json'), app), []);

  const update = await call('PUT', '/v2/apps/test/put', {
    container: { type: 'DOCKER', docker: { image: digest(2) }, portMappings: [{ containerPort: 8080 }] },
  });
  assert.equal(update.status, 200);
  assert.equal(update.headers.get('location'), null);
  const versions = (await call('GET', '/v2/apps/test/put/versions')).json as { versions: string[] };
  assert.equal(versions.versions.length, 2);
  assert.equal(versions.versions[0], update.json?.version, 'newest first');
  const old = (await call('GET', `/v2/apps/test/put/versions/${versions.versions[1]}`)).json as {
    container: { docker: { image: string } };
  };
  assert.equal(old.container.docker.image, digest(1));
  // partialUpdate (the default) kept the health checks the update omitted.
  const current = (await call('GET', '/v2/apps/test/put')).json as {
    app: { healthChecks: unknown[]; container: { docker: { image: string } } };
  };
  assert.equal(current.app.healthChecks.length, 1);
  assert.equal(current.app.container.docker.image, digest(2));
});

test('invalid definitions: 422 {message, details:[{path, errors}]}; unparseable bytes 400 with details as a string', async () => {
  const bad = await call('PUT', '/v2/apps/test/bad', {
    ...bridgeApp('/test/bad', digest(1)),
    upgradeStrategy: { minimumHealthCapacity: 1.2 },
  });
  assert.equal(bad.status, 422);
  assert.deepEqual(bad.json, fixture('invalid-422.json'));

  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ id: '/test/bad', instances: 1 }, '/', /must either contain one of 'cmd' or 'args', and\/or a 'container'/],
    [
      { ...bridgeApp('/test/bad', digest(1)), networks: [{ mode: 'host' }] },
      '/container/portMappings',
      /portMappings are not allowed with host-networking/,
    ],
    [
      { ...bridgeApp('/test/bad', digest(1)), healthChecks: [{ portIndex: 4 }] },
      '/healthChecks(0)',
      /Health check port indices must address an element/,
    ],
    [
      { ...bridgeApp('/test/bad', digest(1)), constraints: [['hostname', 'SOMETIMES']] },
      '/constraints(0)',
      /Constraint operator must be one of/,
    ],
  ];
  for (const [app, path, error] of cases) {
    const res = await call('PUT', `/v2/apps/test/bad?partialUpdate=false`, app);
    assert.equal(res.status, 422, JSON.stringify(app));
    const detail = (res.json?.details as { path: string; errors: string[] }[]).find((d) => d.path === path);
    assert.match(detail?.errors.join() ?? `(no detail at ${path}: ${res.text})`, error);
  }
  const badId = await call('POST', '/v2/apps', bridgeApp('/test/Bad_Name', digest(1)));
  assert.equal(badId.status, 422);
  assert.match(JSON.stringify(badId.json?.details), /"path":"\/id","errors":\["must fully match regular expression/);
  const typeError = await call('PUT', '/v2/apps/test/bad', { id: 5 });
  assert.equal(typeError.status, 422);
  assert.deepEqual(typeError.json, {
    message: 'Invalid JSON',
    details: [{ path: '/id', errors: ['error.expected.jsstring'] }],
  });
  const garbage = await call('PUT', '/v2/apps/test/bad', '{"id": ');
  assert.equal(garbage.status, 400);
  assert.equal(garbage.json?.message, 'Invalid JSON');
  assert.equal(typeof garbage.json?.details, 'string');
  assert.equal((await call('GET', '/v2/apps/test/bad')).status, 404, 'nothing was stored');
});

test('unknown apps and versions: 404 with the documented message', async () => {
  const missing = await call('GET', '/v2/apps/test/nope');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json, fixture('app-not-found-404.json'));
  await call('PUT', '/v2/apps/test/versions-app', bridgeApp('/test/versions-app', digest(1)));
  const version = await call('GET', '/v2/apps/test/versions-app/versions/2001-01-01T00:00:00.000Z');
  assert.equal(version.status, 404);
  assert.equal(version.json?.message, "App '/test/versions-app' does not exist in version 2001-01-01T00:00:00.000Z");
  const rollback = await call('PUT', '/v2/apps/test/versions-app?force=true', { version: '2001-01-01T00:00:00.000Z' });
  assert.equal(rollback.status, 404);
  const mixed = await call('PUT', '/v2/apps/test/versions-app?force=true', {
    version: '2001-01-01T00:00:00.000Z',
    instances: 3,
  });
  assert.equal(mixed.status, 422);
  assert.match(mixed.text, /The 'version' field may only be combined with the 'id' field/);
  assert.equal(
    (await call('DELETE', '/v2/deployments/no-such-plan')).json?.message,
    'DeploymentPlan no-such-plan does not exist',
  );
});

test('an unhealthy new version never finishes its deployment; DELETE /v2/deployments reverts, ?force=true only cancels (202)', async () => {
  await call('PUT', '/v2/apps/test/stuck', bridgeApp('/test/stuck', digest(1)));
  await waitFor('v1 deployed', async () => (await deploymentsOf('/test/stuck')).length === 0);
  const v1 = ((await call('GET', '/v2/apps/test/stuck')).json as { app: { version: string } }).app.version;

  const bad = await call('PUT', '/v2/apps/test/stuck', {
    ...bridgeApp('/test/stuck', digest(2)),
    env: { SLIPWAY_SIMULATE_UNHEALTHY: '1' },
  });
  // Once a new task has failed its health checks (and been killed), the deployment is still there.
  await waitFor('a new task killed as unhealthy', async () => {
    const app = (await call('GET', '/v2/apps/test/stuck')).json as { app: { lastTaskFailure?: { message: string } } };
    return /unhealthy/.test(app.app.lastTaskFailure?.message ?? '');
  });
  assert.equal((await deploymentsOf('/test/stuck')).length, 1, 'still deploying');
  const during = (await call('GET', '/v2/apps/test/stuck')).json as {
    app: { tasks: { version: string; state: string }[]; lastTaskFailure?: { message: string } };
  };
  assert.ok(
    during.app.tasks.some((t) => t.version === v1 && t.state === 'TASK_RUNNING'),
    'the old task keeps running (minimumHealthCapacity 1)',
  );
  assert.match(during.app.lastTaskFailure?.message ?? '', /unhealthy/, 'unhealthy new tasks are killed and relaunched');

  const revert = await call('DELETE', `/v2/deployments/${bad.json?.deploymentId}`);
  assert.equal(revert.status, 200);
  assert.deepEqual(shapeMismatches(fixture('deployment-result.json'), revert.json), []);
  await waitFor('revert finished', async () => (await deploymentsOf('/test/stuck')).length === 0);
  const reverted = (await call('GET', '/v2/apps/test/stuck')).json as {
    app: { container: { docker: { image: string } }; tasksHealthy: number };
  };
  assert.equal(reverted.app.container.docker.image, digest(1));

  const again = await call('PUT', '/v2/apps/test/stuck', {
    ...bridgeApp('/test/stuck', digest(3)),
    env: { SLIPWAY_SIMULATE_UNHEALTHY: '1' },
  });
  const cancel = await call('DELETE', `/v2/deployments/${again.json?.deploymentId}?force=true`);
  assert.equal(cancel.status, 202);
  assert.equal(cancel.text, '');
  assert.equal((await deploymentsOf('/test/stuck')).length, 0);
  const after = (await call('GET', '/v2/apps/test/stuck')).json as {
    app: { container: { docker: { image: string } } };
  };
  assert.equal(after.app.container.docker.image, digest(3), 'force cancel does not roll back');
});

test('restart replaces tasks; DELETE app stops them (force defaults to true); 1.4 shape and events are served', async () => {
  const events: string[] = [];
  const controller = new AbortController();
  const noAccept = await call('GET', '/v2/events');
  assert.equal(noAccept.status, 405);
  const stream = await fetch(`${emu.url}/v2/events?event_type=deployment_success&event_type=status_update_event`, {
    headers: { Accept: 'text/event-stream' },
    signal: controller.signal,
  });
  assert.equal(stream.headers.get('content-type'), 'text/event-stream');
  const reading = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream.body as AsyncIterable<Uint8Array>)
        events.push(...[...decoder.decode(chunk).matchAll(/^event: (\S+)$/gm)].map((m) => m[1]!));
    } catch {
      /* aborted */
    }
  })();

  const created = await call('PUT', '/v2/apps/test/life', bridgeApp('/test/life', digest(1)));
  await waitFor('deployed', async () => (await deploymentsOf('/test/life')).length === 0);
  const before = (await call('GET', '/v2/apps/test/life')).json as { app: { tasks: { id: string }[] } };
  const restart = await call('POST', '/v2/apps/test/life/restart');
  assert.equal(restart.status, 200);
  assert.ok(restart.json?.deploymentId);
  await waitFor('restarted', async () => (await deploymentsOf('/test/life')).length === 0);
  const restarted = (await call('GET', '/v2/apps/test/life')).json as { app: { tasks: { id: string }[] } };
  assert.notEqual(restarted.app.tasks[0]?.id, before.app.tasks[0]?.id);

  const locked = await call('PUT', '/v2/apps/test/life', {
    ...bridgeApp('/test/life', digest(2)),
    env: { SLIPWAY_SIMULATE_UNHEALTHY: '1' },
  });
  assert.equal(locked.status, 200);
  assert.equal((await call('DELETE', '/v2/apps/test/life?force=false')).status, 409);
  const deleted = await call('DELETE', '/v2/apps/test/life');
  assert.equal(deleted.status, 200);
  await waitFor('app gone', async () => (await call('GET', '/v2/apps/test/life')).status === 404);

  assert.ok(events.includes('deployment_success'), `events: ${events.join(',')}`);
  assert.ok(events.includes('status_update_event'));
  assert.ok(!events.includes('api_post_event'), 'event_type filters apply');
  controller.abort();
  await reading;
  assert.ok(created.json?.deploymentId);

  const legacy = await startMarathonEmulator({
    mode: 'simulated',
    apiShape: '1.4',
    simulatedHealthyAfterMs: 0,
    tickMs: 20,
  });
  try {
    await fetch(`${legacy.url}/v2/apps/test/old`, {
      method: 'PUT',
      body: JSON.stringify(legacyBridgeApp('/test/old', digest(1))),
    });
    const old = (await getJson(`${legacy.url}/v2/apps/test/old`)) as { app: Record<string, unknown> };
    assert.deepEqual(
      shapeMismatches(fixture<{ app: Record<string, unknown> }>('app-1.4.json').app.container, old.app.container),
      [],
    );
    assert.equal('networks' in old.app, false);
    assert.ok(Array.isArray(old.app.ports));
    assert.deepEqual(shapeMismatches(fixture('info.json'), await getJson(`${legacy.url}/v2/info`)), []);
  } finally {
    await legacy.close();
  }
});

test('fault injection and the admin request log', async () => {
  await fetch(`${emu.url}/_emulator/faults`, {
    method: 'POST',
    body: JSON.stringify({ failNextRequests: 2, latencyMs: 30 }),
  });
  const started = Date.now();
  assert.equal((await call('GET', '/ping')).status, 503);
  assert.equal((await call('GET', '/ping')).status, 503);
  const ok = await call('GET', '/ping');
  assert.equal(ok.status, 200);
  assert.equal(ok.text, 'pong');
  assert.ok(Date.now() - started >= 90, 'latency added');
  const bad = await fetch(`${emu.url}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ failureRate: 2 }) });
  assert.equal(bad.status, 400);
  await fetch(`${emu.url}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ latencyMs: 0 }) });

  await call('PUT', '/v2/apps/test/logged', {
    ...bridgeApp('/test/logged', digest(7)),
    labels: { SLIPWAY_PIPELINE_ID: 'pipe-7' },
  });
  const log = (await getJson(`${emu.url}/_emulator/requests`)) as {
    requests: { method: string; path: string; status: number; appId?: string; image?: string; pipelineId?: string }[];
  };
  const put = log.requests.filter((r) => r.method === 'PUT' && r.pipelineId === 'pipe-7');
  assert.deepEqual(
    put.map((r) => [r.status, r.appId, r.image]),
    [[201, '/test/logged', digest(7)]],
  );
  assert.deepEqual(
    log.requests.filter((r) => r.path === '/ping').map((r) => r.status),
    [503, 503, 200],
  );
  await fetch(`${emu.url}/_emulator/reset`, { method: 'POST' });
  assert.deepEqual(((await getJson(`${emu.url}/v2/apps`)) as { apps: unknown[] }).apps, []);
});

test('with a state file, apps and versions survive a restart (tasks are relaunched); without one nothing does', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(`${tmpdir()}/slipway-emu-state-`);
  const stateFile = `${dir}/marathon.json`;
  try {
    const first = await startMarathonEmulator({ mode: 'simulated', stateFile, simulatedHealthyAfterMs: 0, tickMs: 20 });
    await fetch(`${first.url}/v2/apps/test/kept`, {
      method: 'PUT',
      body: JSON.stringify(bridgeApp('/test/kept', digest(1))),
    });
    await fetch(`${first.url}/v2/apps/test/kept?force=true`, { method: 'PUT', body: JSON.stringify({ instances: 2 }) });
    await first.close();
    const second = await startMarathonEmulator({
      mode: 'simulated',
      stateFile,
      simulatedHealthyAfterMs: 0,
      tickMs: 20,
    });
    try {
      const versions = (await getJson(`${second.url}/v2/apps/test/kept/versions`)) as { versions: string[] };
      assert.equal(versions.versions.length, 2);
      await waitForUrl(
        `${second.url}/v2/apps/test/kept`,
        (app) => (app as { app: { tasksRunning: number } }).app.tasksRunning === 2,
      );
    } finally {
      await second.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function waitForUrl(url: string, ok: (body: unknown) => boolean): Promise<void> {
  await until(`${url} to answer as expected`, 5000, async () => (ok(await getJson(url)) ? true : undefined), {
    intervalMs: 50,
  });
}
