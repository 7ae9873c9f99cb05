// Marathon 1.4 and 1.5+ spoken to in their own shapes: the version from /v2/info (cached per
// environment), the default template rendered per shape, a custom template with fields the target
// ignores refused before any PUT, and the emulator in 1.4 shape dropping the 1.5-only fields
// exactly as Marathon 1.4 does.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { loadDeployConfig } from '../../common/config';
import { MarathonClient } from '../../activities/marathon-client';
import { renderMarathonAppFromConfig } from '../../activities/plan';
import {
  fieldsIgnoredBy,
  forgetMarathonVersions,
  marathonVersionOf,
  parseMarathonVersion,
} from '../../activities/marathon-version';
import type { MarathonEmulator } from '../../dev/marathon-emulator';
import {
  activitiesFor,
  adminRequests,
  bridgeApp,
  digest,
  fastEmulator,
  getJson,
  inActivity,
  legacyBridgeApp,
} from './helpers';

const v14 = parseMarathonVersion('1.4.12')!;
const v15 = parseMarathonVersion('1.5.0')!;

let legacy: MarathonEmulator;
let modern: MarathonEmulator;
before(async () => {
  legacy = await fastEmulator({ apiShape: '1.4' });
  modern = await fastEmulator({ apiShape: '1.5' });
});
after(async () => {
  await legacy?.close();
  await modern?.close();
});

test('versions: 1.0-1.4 speak the legacy shape, 1.5 and later (1.10 too) the networks shape', () => {
  assert.deepEqual(parseMarathonVersion('1.4.12'), { version: '1.4.12', shape: '1.4' });
  assert.deepEqual(parseMarathonVersion('v1.3.6'), { version: '1.3.6', shape: '1.4' });
  assert.equal(parseMarathonVersion('1.5')?.shape, '1.5');
  assert.equal(parseMarathonVersion('1.10.26')?.shape, '1.5', '1.10 is not 1.1');
  assert.equal(parseMarathonVersion('latest'), undefined);

  assert.deepEqual(fieldsIgnoredBy(legacyBridgeApp('/t/a', digest(1)), v14), []);
  assert.deepEqual(fieldsIgnoredBy(bridgeApp('/t/a', digest(1)), v15), []);
  assert.deepEqual(fieldsIgnoredBy(legacyBridgeApp('/t/a', digest(1)), v15), [], '1.5+ still reads the old fields');
  const problems = fieldsIgnoredBy(bridgeApp('/t/a', digest(1)), v14).join('; ');
  assert.match(
    problems,
    /networks is a Marathon 1\.5\+ field that Marathon 1\.4\.12 ignores .*use container\.docker\.network/,
  );
  assert.match(problems, /container\.portMappings is a Marathon 1\.5\+ field .*use container\.docker\.portMappings/);
});

test('the version is asked once per Marathon and environment, and asked again after a failure', async () => {
  forgetMarathonVersions();
  const seen: string[] = [];
  let fail = true;
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    if (fail) res.writeHead(503).end('{"message":"Could not determine the current leader"}');
    else res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"version":"1.4.7"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await assert.rejects(marathonVersionOf(new MarathonClient({ baseUrl: url, environment: 'test' })), /503/);
    fail = false;
    const client = new MarathonClient({ baseUrl: url, environment: 'test' });
    assert.deepEqual(await marathonVersionOf(client), { version: '1.4.7', shape: '1.4' });
    await marathonVersionOf(new MarathonClient({ baseUrl: url, environment: 'test' }));
    await marathonVersionOf(new MarathonClient({ baseUrl: url, environment: 'integration' }));
    assert.deepEqual(seen, ['/v2/info', '/v2/info', '/v2/info'], 'failed ask, test once, integration once');
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('the emulator in 1.4 shape drops networks and container.portMappings as Marathon 1.4 does', async () => {
  assert.equal(((await getJson(`${legacy.url}/v2/info`)) as { version: string }).version, '1.4.12');
  const put = (id: string, body: unknown) =>
    fetch(`${legacy.url}/v2/apps${id}`, { method: 'PUT', body: JSON.stringify(body) });
  assert.equal((await put('/test/modern-body', bridgeApp('/test/modern-body', digest(1)))).status, 201);
  assert.equal((await put('/test/legacy-body', legacyBridgeApp('/test/legacy-body', digest(1)))).status, 201);
  type Legacy = { app: { container: { docker: { network: string; portMappings?: unknown[] } }; ports: number[] } };
  const dropped = (await getJson(`${legacy.url}/v2/apps/test/modern-body`)) as Legacy;
  assert.equal(dropped.app.container.docker.network, 'HOST', 'a 1.5 bridge body runs as HOST on 1.4');
  assert.equal(dropped.app.container.docker.portMappings, undefined, 'and without port mappings');
  assert.equal(dropped.app.ports.length, 1, 'one host port of the default port definition');
  const kept = (await getJson(`${legacy.url}/v2/apps/test/legacy-body`)) as Legacy;
  assert.equal(kept.app.container.docker.network, 'BRIDGE');
  assert.equal(kept.app.container.docker.portMappings?.length, 1);
  // A partial update (the default) with a new container replaces its network as 1.4 does.
  const updated = await fetch(`${legacy.url}/v2/apps/test/legacy-body?force=true`, {
    method: 'PUT',
    body: JSON.stringify(legacyBridgeApp('/test/legacy-body', digest(2))),
  });
  assert.equal(updated.status, 200, await updated.clone().text());

  // JSON type errors: 400 on 1.4, 422 on 1.5+.
  const typeError = { ...legacyBridgeApp('/test/typed', digest(1)), instances: 'two' };
  assert.equal((await put('/test/typed', typeError)).status, 400);
  const modernTyped = await fetch(`${modern.url}/v2/apps/test/typed`, {
    method: 'PUT',
    body: JSON.stringify({ ...bridgeApp('/test/typed', digest(1)), instances: 'two' }),
  });
  assert.equal(modernTyped.status, 422);
});

test('deploy refuses a 1.5-shaped definition for Marathon 1.4 before any PUT, and deploys the 1.4 shape', async () => {
  const activities = activitiesFor();
  const deploy = (app: Record<string, unknown>) =>
    inActivity(activities.deployToMarathon, [
      { marathonUrl: legacy.url, environment: 'test', pipelineId: 'pipeline/shape/1', app },
    ]);
  await assert.rejects(deploy(bridgeApp('/test/shape', digest(2))), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure && err.nonRetryable && err.type === 'MarathonRejected');
    assert.match(err.message, /not sent to .* \(Marathon 1\.4\.12\): networks is a Marathon 1\.5\+ field/);
    return true;
  });
  const sent = (await adminRequests(legacy.url)).filter((r) => r.path === '/v2/apps/test/shape');
  assert.deepEqual(
    sent.map((r) => r.method),
    [],
    'nothing was sent for the refused definition',
  );

  const { result } = await deploy(legacyBridgeApp('/test/shape', digest(2)));
  const healthy = await inActivity(activities.awaitHealthy, [
    { ...result, marathonUrl: legacy.url, environment: 'test', timeoutSeconds: 20 },
  ]);
  assert.equal(healthy.result.healthy, 1);
});

test('the default template renders each shape; a custom template with 1.5 fields for 1.4 is an error naming them', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-shapes-'));
  try {
    mkdirSync(path.join(dir, 'services'));
    mkdirSync(path.join(dir, 'environments', 'production'), { recursive: true });
    writeFileSync(
      path.join(dir, 'slipway.yaml'),
      'environments:\n  - name: test\n    marathon: http://127.0.0.1:1\n  - name: production\n    marathon: http://127.0.0.1:1\n',
    );
    writeFileSync(path.join(dir, 'services', 'web.yaml'), 'name: web\ntype: node\nrepository: /tmp/web\n');
    const custom = path.join(dir, 'environments', 'production', 'web.json.hbs');
    writeFileSync(
      custom,
      '{"id": "{{id}}", "container": {"type": "DOCKER", "docker": {"image": "{{image}}"}, "portMappings": [{"containerPort": {{port}} }]}, "networks": [{"mode": "container/bridge"}]}',
    );
    const config = loadDeployConfig(dir);
    const input = { service: 'web', image: digest(3), pipelineId: 'pipeline/web/1', commit: 'abc1234' };
    const modernApp = renderMarathonAppFromConfig(config, { ...input, environment: 'test', target: v15 });
    assert.deepEqual(modernApp.networks, [{ mode: 'container/bridge' }]);
    assert.equal((modernApp.container as { portMappings: unknown[] }).portMappings.length, 1);

    const legacyApp = renderMarathonAppFromConfig(config, { ...input, environment: 'test', target: v14 });
    assert.equal(legacyApp.networks, undefined);
    const container = legacyApp.container as { portMappings?: unknown; docker: Record<string, unknown> };
    assert.equal(container.portMappings, undefined);
    assert.equal(container.docker.network, 'BRIDGE');
    assert.deepEqual(container.docker.portMappings, [
      { containerPort: 8080, hostPort: 0, protocol: 'tcp', name: 'http' },
    ]);

    assert.ok(renderMarathonAppFromConfig(config, { ...input, environment: 'production', target: v15 }));
    assert.throws(
      () => renderMarathonAppFromConfig(config, { ...input, environment: 'production', target: v14 }),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure && err.type === 'TemplateError');
        assert.ok(err.message.startsWith(custom), err.message);
        assert.match(
          err.message,
          /\(Marathon 1\.4\.12\): networks is a Marathon 1\.5\+ field.*container\.portMappings/,
        );
        return true;
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
