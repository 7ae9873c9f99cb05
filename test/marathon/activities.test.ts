// The deploy activities against the Marathon emulator in simulated mode, run in a mock activity
// context: deploy, upgrade, idempotent retries, unchanged definitions, an unhealthy upgrade that
// hits our timeout and is rolled back, resuming a wait from heartbeat details, cancellation,
// 409 locks (adopt, wait, give up, force), 422, and 503s retried.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MarathonClient, MarathonUnavailableError } from '../../activities/marathon-client';
import { createMarathonActivities, type HealthProgress } from '../../activities/marathon';
import { startMarathonEmulator, type MarathonEmulator } from '../../dev/marathon-emulator';
import { activitiesFor, adminRequests, bridgeApp, digest, inActivity, readApp, setFaults } from './helpers';

let emu: MarathonEmulator;
const acts = () => activitiesFor({ pollIntervalMs: 50 });
const unhealthy = (app: Record<string, unknown>) => ({ ...app, env: { SLIPWAY_SIMULATE_UNHEALTHY: '1' } });
const successfulPuts = async (pipelineId: string) =>
  (await adminRequests(emu.url)).filter((r) => r.method === 'PUT' && r.pipelineId === pipelineId && r.status < 300)
    .length;

before(async () => {
  emu = await startMarathonEmulator({
    mode: 'simulated',
    simulatedHealthyAfterMs: 150,
    simulatedLaunchMs: 10,
    timeScale: 0.05,
    tickMs: 20,
  });
});
after(() => emu.close());

async function deployHealthy(appId: string, image: string, pipelineId: string, extra: Record<string, unknown> = {}) {
  const a = acts();
  const { result: deployed } = await inActivity(a.deployToMarathon, [
    { marathonUrl: emu.url, environment: 'test', pipelineId, app: bridgeApp(appId, image, extra) },
  ]);
  const { result: healthy, heartbeats } = await inActivity(a.awaitHealthy, [
    {
      marathonUrl: emu.url,
      environment: 'test',
      appId,
      version: deployed.version,
      deploymentId: deployed.deploymentId,
      timeoutSeconds: 10,
    },
  ]);
  return { deployed, healthy, heartbeats };
}

test('deploys a new app, then upgrades it; previous version and image are reported; labels name the pipeline', async () => {
  const first = await deployHealthy('/test/hello', digest(1), 'pipe-1', { instances: 2 });
  assert.equal(first.deployed.previousVersion, null);
  assert.equal(first.deployed.unchanged, false);
  assert.ok(first.deployed.deploymentId);
  assert.deepEqual([first.healthy.healthy, first.healthy.instances, first.healthy.running], [2, 2, 2]);
  const hb = first.heartbeats.at(-1) as { startedAt: number; healthy: number; instances: number } | undefined;
  assert.ok(hb === undefined || (typeof hb.startedAt === 'number' && typeof hb.healthy === 'number'));

  const second = await deployHealthy('/test/hello', digest(2), 'pipe-2', { instances: 2 });
  assert.equal(second.deployed.previousVersion, first.deployed.version);
  assert.equal(second.deployed.previousImage, digest(1));
  const read = await readApp(emu.url, '/test/hello');
  assert.equal(read?.image, digest(2));
  assert.equal(read?.version, second.deployed.version);
  assert.equal(read?.labels.SLIPWAY_PIPELINE_ID, 'pipe-2');
  assert.equal(read?.labels.SLIPWAY_ENVIRONMENT, 'test');
  assert.equal(await readApp(emu.url, '/test/never'), null);
});

test('a retried deploy (same pipeline, same image) never PUTs twice; the same image from another pipeline is "unchanged"', async () => {
  const input = {
    marathonUrl: emu.url,
    environment: 'test',
    pipelineId: 'pipe-retry',
    app: bridgeApp('/test/retry', digest(3)),
  };
  await deployHealthy('/test/retry', digest(2), 'pipe-before');
  const { result: first } = await inActivity(acts().deployToMarathon, [input]);
  const { result: again } = await inActivity(acts().deployToMarathon, [input]);
  assert.equal(again.version, first.version);
  assert.equal(again.deploymentId, first.deploymentId, 'adopts the in-flight deployment');
  assert.equal(again.previousVersion, first.previousVersion, 'still knows what ran before');
  assert.equal(again.previousImage, digest(2));
  assert.equal(await successfulPuts('pipe-retry'), 1);

  await inActivity(acts().awaitHealthy, [
    {
      marathonUrl: emu.url,
      environment: 'test',
      appId: '/test/retry',
      version: first.version,
      deploymentId: first.deploymentId,
      timeoutSeconds: 10,
    },
  ]);
  const { result: same } = await inActivity(acts().deployToMarathon, [{ ...input, pipelineId: 'pipe-rerun' }]);
  assert.equal(same.unchanged, true);
  assert.equal(same.deploymentId, null);
  assert.equal(same.version, first.version);
  assert.equal(await successfulPuts('pipe-rerun'), 0);
  const { result: ok } = await inActivity(acts().awaitHealthy, [
    {
      marathonUrl: emu.url,
      environment: 'test',
      appId: '/test/retry',
      version: same.version,
      deploymentId: null,
      timeoutSeconds: 5,
    },
  ]);
  assert.equal(ok.healthy, 1);
});

test('an unhealthy upgrade hits our timeout (non-retryable HealthTimeout with progress) and is rolled back while the old tasks keep running', async () => {
  const good = await deployHealthy('/test/rollback', digest(4), 'pipe-good');
  const { result: bad } = await inActivity(acts().deployToMarathon, [
    {
      marathonUrl: emu.url,
      environment: 'test',
      pipelineId: 'pipe-bad',
      app: unhealthy(bridgeApp('/test/rollback', digest(5))),
    },
  ]);
  assert.equal(bad.previousVersion, good.deployed.version);

  /** The health wait for the bad version, its heartbeats collected in `into`. */
  const awaitBad = (timeoutSeconds: number, into: unknown[]) =>
    inActivity(
      acts().awaitHealthy,
      [
        {
          marathonUrl: emu.url,
          environment: 'test',
          appId: '/test/rollback',
          version: bad.version,
          deploymentId: bad.deploymentId,
          timeoutSeconds,
        },
      ],
      { onEnv: (env) => env.on('heartbeat', (d: unknown) => into.push(d)) },
    );
  const started = Date.now();
  const heartbeats: unknown[] = [];
  await assert.rejects(awaitBad(1.5, heartbeats), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'HealthTimeout');
    assert.equal(err.nonRetryable, true);
    assert.match(
      err.message,
      /\/test\/rollback version \S+ in test not healthy within 1.5 s \(healthy 0\/1, .*deployment \S+ still in progress/,
    );
    return true;
  });
  // It gives up near its 1.5 s timeout, not at some later poll (generous: a loaded machine is slow).
  assert.ok(Date.now() - started < 10_000);
  assert.ok(heartbeats.length > 3);
  // Progress only; between the kills of the unhealthy task Marathon's queue tells why nothing runs.
  const last = heartbeats.at(-1) as Record<string, unknown>;
  assert.deepEqual(
    Object.keys(last)
      .filter((k) => k !== 'waitingReason')
      .sort(),
    ['healthy', 'instances', 'running', 'startedAt'],
  );
  // Marathon's launch backoff begins once the unhealthy task was killed: within the 1.5 s above
  // on a quiet machine, later on a loaded one. A longer wait watches for it, so the proof does not
  // depend on how fast this machine is.
  if (!heartbeats.some(reportsBackoff)) {
    const later: unknown[] = [];
    await assert.rejects(
      awaitBad(15, later),
      (err: unknown) => err instanceof ApplicationFailure && err.type === 'HealthTimeout',
    );
    heartbeats.push(...later);
  }
  assert.ok(heartbeats.some(reportsBackoff), 'the launch backoff is reported while the unhealthy task is relaunched');

  // Marathon keeps the stuck deployment (and the old task) forever; the rollback forces past it.
  const app = (await new MarathonClient({ baseUrl: emu.url }).getApp('/test/rollback'))!;
  assert.equal((app.deployments as unknown[]).length, 1);
  const { result: rolled } = await inActivity(acts().rollbackMarathonApp, [
    {
      marathonUrl: emu.url,
      environment: 'test',
      appId: '/test/rollback',
      toVersion: bad.previousVersion!,
      timeoutSeconds: 10,
      reason: 'health timeout',
    },
  ]);
  const now = await readApp(emu.url, '/test/rollback');
  assert.equal(now?.image, digest(4));
  assert.equal(now?.version, rolled.version);
  assert.equal(now?.labels.SLIPWAY_PIPELINE_ID, 'pipe-good', 'the old definition, labels included');
  const rollbackPuts = (await adminRequests(emu.url)).filter(
    (r) => r.method === 'PUT' && r.appId === '/test/rollback' && r.path.endsWith('/test/rollback'),
  );
  assert.ok(
    rollbackPuts.some((r) => r.status === 200 && r.pipelineId === undefined),
    'rollback is PUT {"version"}',
  );

  // Retrying the rollback does not restart the app again.
  const { result: again } = await inActivity(acts().rollbackMarathonApp, [
    {
      marathonUrl: emu.url,
      environment: 'test',
      appId: '/test/rollback',
      toVersion: bad.previousVersion!,
      timeoutSeconds: 10,
      reason: 'health timeout',
    },
  ]);
  assert.equal(again.version, rolled.version);
});

test('a retried awaitHealthy keeps the deadline from its heartbeat; a cancelled one stops at once', async () => {
  await deployHealthy('/test/resume', digest(1), 'pipe-r1');
  const { result: bad } = await inActivity(acts().deployToMarathon, [
    {
      marathonUrl: emu.url,
      environment: 'test',
      pipelineId: 'pipe-r2',
      app: unhealthy(bridgeApp('/test/resume', digest(2))),
    },
  ]);
  const input = {
    marathonUrl: emu.url,
    environment: 'test',
    appId: '/test/resume',
    version: bad.version,
    deploymentId: bad.deploymentId,
    timeoutSeconds: 30,
  };

  const started = Date.now();
  await assert.rejects(
    inActivity(acts().awaitHealthy, [input], {
      heartbeatDetails: { startedAt: Date.now() - 29_500, healthy: 0, instances: 1 },
    }),
    /not healthy within 30 s/,
  );
  assert.ok(Date.now() - started < 3000, 'the resumed attempt did not start a new 30 s wait');

  const cancelStarted = Date.now();
  await assert.rejects(
    inActivity(acts().awaitHealthy, [input], { onEnv: (env) => setTimeout(() => env.cancel('CANCELLED'), 300) }),
    (err: unknown) => err instanceof CancelledFailure,
  );
  assert.ok(Date.now() - cancelStarted < 3000);
});

test('409 locked: waits out a foreign deployment, gives up with ForeignDeployment, or forces when allowed', async () => {
  const client = new MarathonClient({ baseUrl: emu.url });
  await deployHealthy('/test/locked', digest(1), 'pipe-l1');
  await setFaults(emu.url, { stuckDeployments: true });
  try {
    const foreign = await client.putApp({ ...bridgeApp('/test/locked', digest(2)), labels: { owner: 'someone else' } });
    const a = activitiesFor({ pollIntervalMs: 50, foreignLockWaitSeconds: 1 });
    const input = {
      marathonUrl: emu.url,
      environment: 'test',
      pipelineId: 'pipe-l2',
      app: bridgeApp('/test/locked', digest(3)),
    };

    await assert.rejects(inActivity(a.deployToMarathon, [input]), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, 'ForeignDeployment');
      assert.equal(err.nonRetryable, true);
      assert.ok(err.message.includes(foreign.deploymentId!), err.message);
      return true;
    });

    // The foreign deployment finishes while we wait: then ours goes through, normally.
    setTimeout(() => void setFaults(emu.url, { stuckDeployments: false }), 400);
    const waited = activitiesFor({ pollIntervalMs: 50, foreignLockWaitSeconds: 20 });
    const { result } = await inActivity(waited.deployToMarathon, [input]);
    assert.equal(result.previousImage, digest(2));
    const puts = (await adminRequests(emu.url)).filter((r) => r.method === 'PUT' && r.pipelineId === 'pipe-l2');
    assert.deepEqual(
      puts.map((r) => r.status),
      [409, 409, 200],
      'the attempt that gave up, then one while locked and one after: no hammering while waiting',
    );

    // Stuck again: with forcing allowed, ours replaces it after the wait.
    await setFaults(emu.url, { stuckDeployments: true });
    await client.putApp(
      { ...bridgeApp('/test/locked', digest(4)), labels: { owner: 'someone else' } },
      { force: true },
    );
    const { result: forced } = await inActivity(a.deployToMarathon, [
      { ...input, pipelineId: 'pipe-l3', app: bridgeApp('/test/locked', digest(5)), forceOverForeignDeployment: true },
    ]);
    assert.ok(forced.deploymentId);
    const forcedPut = (await adminRequests(emu.url)).filter(
      (r) => r.method === 'PUT' && r.pipelineId === 'pipe-l3' && r.status === 200,
    );
    assert.equal(forcedPut.length, 1);
  } finally {
    await setFaults(emu.url, { stuckDeployments: false });
  }
});

test('422 from Marathon and an invalid definition are non-retryable MarathonRejected; 503s are retryable and retried safely', async () => {
  const a = acts();
  await assert.rejects(
    inActivity(a.deployToMarathon, [
      {
        marathonUrl: emu.url,
        environment: 'test',
        pipelineId: 'pipe-422',
        app: bridgeApp('/test/rejected', digest(1), { constraints: [['hostname', 'SOMETIMES']] }),
      },
    ]),
    (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure && err.type === 'MarathonRejected' && err.nonRetryable);
      assert.match(
        err.message,
        /\(422\): Object is not valid — \/constraints\(0\): Constraint operator must be one of/,
      );
      assert.equal((err.details?.[0] as { details: { path: string }[] }).details[0]?.path, '/constraints(0)');
      return true;
    },
  );
  await assert.rejects(
    inActivity(a.deployToMarathon, [
      {
        marathonUrl: emu.url,
        environment: 'test',
        pipelineId: 'pipe-invalid',
        app: bridgeApp('/test/rejected', digest(1), { mem: -5 }),
      },
    ]),
    /app definition \/test\/rejected for test is invalid, not sent to .*: mem is -5: expected 0 or more/,
  );
  assert.equal((await adminRequests(emu.url)).filter((r) => r.pipelineId === 'pipe-invalid').length, 0);

  // Temporal retries a plain error: three attempts, the first two meet a 503 (before or after the GET).
  await setFaults(emu.url, { failNextRequests: 2 });
  const input = {
    marathonUrl: emu.url,
    environment: 'test',
    pipelineId: 'pipe-503',
    app: bridgeApp('/test/flaky', digest(1)),
  };
  let attempts = 0;
  let deployed;
  for (;;) {
    attempts++;
    try {
      deployed = (await inActivity(a.deployToMarathon, [input])).result;
      break;
    } catch (err) {
      assert.ok(err instanceof MarathonUnavailableError, String(err));
      assert.ok(!(err instanceof ApplicationFailure));
    }
  }
  assert.equal(attempts, 3);
  assert.equal(await successfulPuts('pipe-503'), 1);

  // A flaky Marathon during the health wait is tolerated; only the deadline decides.
  await setFaults(emu.url, { failureRate: 0.3 });
  try {
    const { result } = await inActivity(a.awaitHealthy, [
      {
        marathonUrl: emu.url,
        environment: 'test',
        appId: '/test/flaky',
        version: deployed.version,
        deploymentId: deployed.deploymentId,
        timeoutSeconds: 20,
      },
    ]);
    assert.equal(result.healthy, 1);
  } finally {
    await setFaults(emu.url, { failureRate: 0 });
  }
});

test('credentials stay out of activity results, heartbeats and errors', async () => {
  const secret = 'tok-very-secret-123';
  const a = createMarathonActivities({
    clientFor: (url, environment) => MarathonClient.fromEnv(url, environment, { MARATHON_TOKEN: secret }),
    pollIntervalMs: 50,
  });
  const heartbeats: unknown[] = [];
  const { result: d } = await inActivity(a.deployToMarathon, [
    { marathonUrl: emu.url, environment: 'test', pipelineId: 'pipe-secret', app: bridgeApp('/test/secret', digest(1)) },
  ]);
  const { result: h } = await inActivity(
    a.awaitHealthy,
    [
      {
        marathonUrl: emu.url,
        environment: 'test',
        appId: '/test/secret',
        version: d.version,
        deploymentId: d.deploymentId,
        timeoutSeconds: 10,
      },
    ],
    {
      onEnv: (env) => env.on('heartbeat', (x: unknown) => heartbeats.push(x)),
    },
  );
  const err = await inActivity(a.deployToMarathon, [
    {
      marathonUrl: emu.url,
      environment: 'test',
      pipelineId: 'x',
      app: bridgeApp('/test/secret', digest(1), { cpus: -1 }),
    },
  ]).catch((e: Error) => e);
  const err2 = await readApp('http://127.0.0.1:1', '/x').catch((e: Error) => e);
  for (const thing of [d, h, heartbeats, String(err), (err as Error).stack, String(err2), (err2 as Error).stack])
    assert.ok(!JSON.stringify(thing ?? '').includes(secret));
});

function reportsBackoff(heartbeat: unknown): boolean {
  return /backoff after failed tasks/.test(String((heartbeat as HealthProgress).waitingReason));
}
