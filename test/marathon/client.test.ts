// The Marathon client on its own: 1.4 vs 1.5 response shapes from documented fixtures, pre-flight
// validation, credentials from the environment, redirects, and the error mapping that decides
// retryability — against tiny local HTTP servers answering Marathon's documented bodies.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { validateMarathonApp, viewApp } from '../../activities/marathon-app';
import {
  MarathonClient,
  MarathonLockedError,
  MarathonUnavailableError,
  marathonCredentialsFromEnv,
} from '../../activities/marathon-client';
import { freePort } from '../../dev/process';
import { bridgeApp, digest, fixture } from './helpers';

type Answer = { status: number; body?: unknown; headers?: Record<string, string> };

async function serve(
  answer: (req: http.IncomingMessage) => Answer,
): Promise<{ url: string; seen: http.IncomingMessage[]; close: () => Promise<void> }> {
  const seen: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req);
    req.resume();
    const a = answer(req);
    res.writeHead(a.status, { 'Content-Type': 'application/json', ...a.headers });
    res.end(a.body === undefined ? undefined : JSON.stringify(a.body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

test('reads the Marathon 1.4 app shape (container.docker.network, docker.portMappings, ports)', () => {
  const app = viewApp(fixture('app-1.4.json'));
  assert.equal(app.id, '/test/legacy-web');
  assert.equal(app.network, 'bridge');
  assert.deepEqual(app.ports, [
    { containerPort: 8080, hostPort: 0, servicePort: 10101, name: 'http', protocol: 'tcp' },
  ]);
  assert.match(app.image ?? '', /@sha256:1{64}$/);
  assert.equal(app.instances, 2);
  assert.equal(app.healthCheckCount, 1);
  assert.equal(app.tasks.length, 2);
  assert.deepEqual(
    app.tasks.map((t) => t.healthCheckResults[0]?.alive),
    [true, false],
  );
  assert.equal(app.labels.SLIPWAY_PIPELINE_ID, 'pipeline/legacy-web/abc123');
  assert.match(app.lastTaskFailure ?? '', /TASK_FAILED: Container exited with status 137/);
});

test('reads the Marathon 1.5 app shape (networks, container.portMappings) into the same view', () => {
  const app = viewApp(fixture('app-1.5.json'));
  assert.equal(app.network, 'bridge');
  assert.deepEqual(app.ports, [
    { containerPort: 8080, hostPort: 0, servicePort: 10002, name: 'http', protocol: 'tcp' },
  ]);
  assert.deepEqual(app.deploymentIds, ['5ed4c0c5-9ff8-4a6f-a0cd-f57f59a34b43']);
  assert.equal(app.lastConfigChangeAt, '2019-06-11T12:30:00.500Z');
  // Counters mix versions; the per-task view does not: one task still runs the older version.
  assert.equal(app.tasksHealthy, 3);
  assert.equal(app.tasks.filter((t) => t.version === app.version).length, 2);

  const host = viewApp(fixture('app-1.5-host.json'));
  assert.equal(host.network, 'host');
  assert.deepEqual(
    host.ports.map((p) => [p.name, p.servicePort]),
    [
      ['http', 10010],
      ['admin', 10011],
    ],
  );
  assert.equal(host.healthCheckCount, 0);
  assert.deepEqual(host.tasks[0]?.ports, [31201, 31202]);
});

test('validates an outgoing definition before sending it, naming field, value and expectation', () => {
  assert.deepEqual(validateMarathonApp(bridgeApp('/test/hello', digest(1))), []);
  const host: Record<string, unknown> = {
    ...bridgeApp('/test/hello', digest(1)),
    networks: [{ mode: 'host' }],
    portDefinitions: [{ port: 0, name: 'http' }],
  };
  delete (host.container as Record<string, unknown>).portMappings;
  assert.deepEqual(validateMarathonApp(host), []);

  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...bridgeApp('/Test/Hello_x', digest(1)) }, /id "\/Test\/Hello_x" has invalid segment\(s\) "Test", "Hello_x"/],
    [{ id: '/test/x', instances: 1 }, /no cmd, args or container/],
    [{ ...bridgeApp('/test/x', digest(1)), cpus: -1 }, /cpus is -1: expected 0 or more/],
    [{ ...bridgeApp('/test/x', digest(1)), instances: 1.5 }, /instances is 1.5: expected an integer/],
    [
      { ...bridgeApp('/test/x', digest(1)), upgradeStrategy: { minimumHealthCapacity: 1.5 } },
      /upgradeStrategy.minimumHealthCapacity is 1.5: expected a number between 0 and 1/,
    ],
    [{ ...bridgeApp('/test/x', digest(1)), networks: [{ mode: 'host' }] }, /portMappings are set with host networking/],
    [
      { ...bridgeApp('/test/x', digest(1)), portDefinitions: [{ port: 0 }] },
      /portDefinitions are set with bridge networking/,
    ],
    [
      { ...bridgeApp('/test/x', digest(1)), healthChecks: [{ protocol: 'HTTP', portIndex: 2 }] },
      /healthChecks\[0\].portIndex is 2: the app has 1 port\(s\)/,
    ],
    [
      { ...bridgeApp('/test/x', digest(1)), container: { type: 'DOCKER', docker: { image: 'x', network: 'BRIDGE' } } },
      /container.docker.network and networks are both set/,
    ],
    [
      { ...bridgeApp('/test/x', ''), labels: { a: 1 } },
      /container.docker.image is "".*; labels.a is 1: expected a string/,
    ],
  ];
  for (const [app, expected] of cases) assert.match(validateMarathonApp(app).join('; '), expected, JSON.stringify(app));
});

test('credentials come from the environment, per environment first; a token is sent DC/OS style', async () => {
  assert.deepEqual(
    marathonCredentialsFromEnv('production-eu', {
      MARATHON_TOKEN: 'general',
      MARATHON_PRODUCTION_EU_USERNAME: 'ops',
      MARATHON_PRODUCTION_EU_PASSWORD: 'pw',
    }),
    {
      credentials: { kind: 'basic', username: 'ops', password: 'pw' },
      hint: 'MARATHON_PRODUCTION_EU_USERNAME/MARATHON_PRODUCTION_EU_PASSWORD',
    },
  );
  assert.equal(marathonCredentialsFromEnv('test', { MARATHON_TOKEN: 'general' }).credentials?.kind, 'token');
  assert.equal(
    marathonCredentialsFromEnv('test', {}).hint,
    'MARATHON_TEST_SERVICE_ACCOUNT_UID/MARATHON_TEST_SERVICE_ACCOUNT_KEY_FILE, MARATHON_TEST_TOKEN or MARATHON_TEST_USERNAME/MARATHON_TEST_PASSWORD',
  );

  const server = await serve(() => ({ status: 200, body: fixture('app-1.5.json') }));
  try {
    await MarathonClient.fromEnv(server.url, 'test', { MARATHON_TEST_TOKEN: 's3cret-token' }).getApp(
      '/test/hello-node',
    );
    await MarathonClient.fromEnv(server.url, 'test', { MARATHON_USERNAME: 'u', MARATHON_PASSWORD: 'p' }).getApp(
      'test/hello-node',
    );
    assert.equal(server.seen[0]?.headers.authorization, 'token=s3cret-token');
    assert.equal(server.seen[1]?.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
    assert.equal(server.seen[1]?.url, '/v2/apps/test/hello-node?embed=app.tasks&embed=app.readiness');
  } finally {
    await server.close();
  }
});

test('401/403 are non-retryable Unauthorized naming the variable, never the secret', async () => {
  const server = await serve((req) =>
    req.url?.startsWith('/v2/info')
      ? { status: 403, body: { message: 'Not Authorized to perform this action!' } }
      : { status: 401, body: { message: 'Invalid username or password.' } },
  );
  try {
    const client = MarathonClient.fromEnv(server.url, 'production', {
      MARATHON_PRODUCTION_PASSWORD: 'hunter2',
      MARATHON_PRODUCTION_USERNAME: 'ops',
    });
    for (const call of [() => client.getApp('/production/x'), () => client.info()]) {
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.type, 'Unauthorized');
        assert.equal(err.nonRetryable, true);
        assert.match(
          err.message,
          /set MARATHON_PRODUCTION_USERNAME\/MARATHON_PRODUCTION_PASSWORD in the worker's environment/,
        );
        assert.doesNotMatch(err.message + JSON.stringify(err.details), /hunter2/);
        return true;
      });
    }
  } finally {
    await server.close();
  }
});

test('422 and 400 are non-retryable MarathonRejected with message and details; 409 locked is typed; 5xx and refused connections retry', async () => {
  const answers: Record<string, Answer> = {
    '/v2/apps/test/a': { status: 422, body: fixture('invalid-422.json') },
    '/v2/apps/test/b': { status: 400, body: { message: 'Invalid JSON', details: 'Unexpected end-of-input at line 1' } },
    '/v2/apps/test/c': { status: 409, body: fixture('locked-409.json') },
    '/v2/apps/test/d': { status: 503, body: { message: 'Could not determine the current leader' } },
    '/v2/apps/test/e': { status: 409, body: { message: 'An app with id [/test/e] already exists.' } },
  };
  const server = await serve(
    (req) => answers[(req.url ?? '').split('?')[0]!] ?? { status: 404, body: fixture('app-not-found-404.json') },
  );
  try {
    const client = new MarathonClient({ baseUrl: server.url, environment: 'test' });
    const app = (id: string) => bridgeApp(id, digest(1));
    await assert.rejects(client.putApp(app('/test/a')), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure && err.nonRetryable && err.type === 'MarathonRejected');
      assert.match(
        err.message,
        /rejected PUT app \/test\/a \(422\): Object is not valid — \/upgradeStrategy\/minimumHealthCapacity: is greater than 1/,
      );
      assert.deepEqual((err.details?.[0] as { details: unknown }).details, [
        { path: '/upgradeStrategy/minimumHealthCapacity', errors: ['is greater than 1'] },
      ]);
      return true;
    });
    await assert.rejects(client.putApp(app('/test/b')), /\(400\): Invalid JSON — Unexpected end-of-input/);
    await assert.rejects(
      client.putApp(app('/test/c')),
      (err: unknown) =>
        err instanceof MarathonLockedError && err.deploymentIds[0] === '5ed4c0c5-9ff8-4a6f-a0cd-f57f59a34b43',
    );
    await assert.rejects(
      client.putApp(app('/test/d')),
      (err: unknown) => err instanceof MarathonUnavailableError && /503/.test(err.message),
    );
    await assert.rejects(
      client.putApp(app('/test/e')),
      (err: unknown) => err instanceof ApplicationFailure && /already exists/.test(err.message),
    );
    assert.equal(await client.getApp('/test/unknown'), null);
    assert.equal(
      server.seen.find((r) => r.url?.startsWith('/v2/apps/test/a'))?.url,
      '/v2/apps/test/a?partialUpdate=false',
    );
  } finally {
    await server.close();
  }
  const closed = new MarathonClient({ baseUrl: `http://127.0.0.1:${await freePort()}` });
  await assert.rejects(
    closed.ping(),
    (err: unknown) => err instanceof MarathonUnavailableError && /ECONNREFUSED/.test(err.message),
  );
});

test("follows a non-leader's redirect with the same method, body and credentials", async () => {
  const leader = await serve((req) => ({
    status: 200,
    body: { version: '2019-06-11T12:30:00.500Z', deploymentId: 'dep-1', method: req.method },
  }));
  const follower = await serve((req) => ({ status: 307, headers: { Location: `${leader.url}${req.url}` } }));
  try {
    const client = MarathonClient.fromEnv(follower.url, 'test', { MARATHON_TOKEN: 't' });
    const result = await client.putApp(bridgeApp('/test/a', digest(1)), { force: true });
    assert.deepEqual(result, { deploymentId: 'dep-1', version: '2019-06-11T12:30:00.500Z', created: false });
    assert.equal(leader.seen[0]?.method, 'PUT');
    assert.equal(leader.seen[0]?.url, '/v2/apps/test/a?partialUpdate=false&force=true');
    assert.equal(leader.seen[0]?.headers.authorization, 'token=t');
  } finally {
    await leader.close();
    await follower.close();
  }
});
