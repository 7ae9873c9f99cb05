// DC/OS auth against the emulator's auth mode: a service account logs in with an RS256 login
// token, the authentication token is shared and renewed before it expires and again after a 401;
// a refused login is non-retryable and names the variables, never the key. And the two kinds of
// 403: Marathon's max_running_deployments limit is retried with its own message, a permission 403 is not.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MarathonBusyError, MarathonClient } from '../../activities/marathon-client';
import { startMarathonEmulator, type MarathonEmulator } from '../../dev/marathon-emulator';
import { activitiesFor, bridgeApp, digest, fastEmulator, inActivity } from './helpers';

const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privatePem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const ttlSeconds = 600;

let emu: MarathonEmulator;
let dir: string;
let keyFile: string;
before(async () => {
  emu = await fastEmulator({
    auth: { serviceAccounts: { 'slipway-deployer': publicPem }, tokenTtlSeconds: ttlSeconds },
  });
  dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-auth-'));
  keyFile = path.join(dir, 'deployer.pem');
  writeFileSync(keyFile, privatePem, { mode: 0o600 });
});
after(async () => {
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

const calls = (since: number) =>
  emu
    .requests()
    .slice(since)
    .map((r) => `${r.method} ${r.path} ${r.status}`);

test('a service account logs in once, its token is shared, renewed after a 401 and before expiry', async (t) => {
  const env = {
    MARATHON_TEST_SERVICE_ACCOUNT_UID: 'slipway-deployer',
    MARATHON_TEST_SERVICE_ACCOUNT_KEY_FILE: keyFile,
  };
  const anonymous = new MarathonClient({ baseUrl: emu.url, environment: 'test' });
  await assert.rejects(
    anonymous.ping(),
    (err: unknown) => err instanceof ApplicationFailure && err.type === 'Unauthorized',
  );

  let mark = emu.requests().length;
  await MarathonClient.fromEnv(emu.url, 'test', env).ping();
  await MarathonClient.fromEnv(emu.url, 'test', env).getApp('/test/none');
  assert.deepEqual(calls(mark), ['POST /acs/api/v1/auth/login 200', 'GET /ping 200', 'GET /v2/apps/test/none 404']);

  // A token refused before its time (revoked): one 401, a new login, the same call again.
  await fetch(`${emu.url}/_emulator/auth/revoke`, { method: 'POST' });
  mark = emu.requests().length;
  await MarathonClient.fromEnv(emu.url, 'test', env).ping();
  assert.deepEqual(calls(mark), ['GET /ping 401', 'POST /acs/api/v1/auth/login 200', 'GET /ping 200']);

  // Near the end of the token's life the next call logs in first: no request is sent with a token about to expire.
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  t.mock.timers.tick((ttlSeconds - 30) * 1000);
  mark = emu.requests().length;
  await MarathonClient.fromEnv(emu.url, 'test', env).ping();
  assert.deepEqual(calls(mark), ['POST /acs/api/v1/auth/login 200', 'GET /ping 200']);
  t.mock.timers.reset();
});

test('a refused login is non-retryable Unauthorized naming the variables, never the key or a token', async () => {
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const wrongPem = other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const client = MarathonClient.fromEnv(emu.url, 'production', {
    MARATHON_SERVICE_ACCOUNT_UID: 'slipway-deployer',
    MARATHON_SERVICE_ACCOUNT_KEY: wrongPem,
  });
  await assert.rejects(client.ping(), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure && err.nonRetryable && err.type === 'Unauthorized');
    assert.match(
      err.message,
      /DC\/OS refused the login of service account "slipway-deployer" at .*\/acs\/api\/v1\/auth\/login \(401: login token signature does not match.*\); check MARATHON_SERVICE_ACCOUNT_UID\/MARATHON_SERVICE_ACCOUNT_KEY_FILE/,
    );
    assert.ok(!err.message.includes('PRIVATE KEY'));
    return true;
  });
  const broken = MarathonClient.fromEnv(emu.url, 'production', {
    MARATHON_SERVICE_ACCOUNT_UID: 'slipway-deployer',
    MARATHON_SERVICE_ACCOUNT_KEY: 'not a key',
  });
  await assert.rejects(
    broken.ping(),
    /the private key of DC\/OS service account "slipway-deployer" is not a PEM private key/,
  );
});

test('403 from max_running_deployments is retried with its own message; a permission 403 is not', async () => {
  const limited = await startMarathonEmulator({ mode: 'simulated', tickMs: 20, maxRunningDeployments: 1 });
  try {
    const client = new MarathonClient({ baseUrl: limited.url, environment: 'test' });
    // A deployment that never finishes holds the only slot.
    await client.putApp({ ...bridgeApp('/test/stuck', digest(1)), env: { SLIPWAY_SIMULATE_UNHEALTHY: '1' } });
    await assert.rejects(client.putApp(bridgeApp('/test/next', digest(2))), (err: unknown) => {
      assert.ok(err instanceof MarathonBusyError, String(err));
      assert.match(err.message, /its limit of 1 running deployments \(max_running_deployments\) is reached; retrying/);
      return true;
    });
    // The deploy activity lets it through as a retryable failure (Temporal retries it with backoff).
    await assert.rejects(
      inActivity(activitiesFor().deployToMarathon, [
        {
          marathonUrl: limited.url,
          environment: 'test',
          pipelineId: 'pipeline/x/1',
          app: bridgeApp('/test/next', digest(2)),
        },
      ]),
      (err: unknown) => err instanceof MarathonBusyError,
    );
  } finally {
    await limited.close();
  }
  // The permission 403 (Marathon's documented body) stays non-retryable Unauthorized.
  const server = http.createServer((_req, res) =>
    res
      .writeHead(403, { 'Content-Type': 'application/json' })
      .end('{"message":"Not Authorized to perform this action!"}'),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await assert.rejects(
      new MarathonClient({ baseUrl: url, environment: 'test' }).putApp(bridgeApp('/test/next', digest(2))),
      (err: unknown) => err instanceof ApplicationFailure && err.type === 'Unauthorized' && err.nonRetryable,
    );
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});
