// The verification activities (activities/verify.ts) against the Marathon emulator in simulated
// mode and the Prometheus stand-in: what the soak sees of a healthy version (and of a lost task's
// replacement, a leader change, a foreign deploy), smoke checks sent to the task's host and port as
// Marathon lists them, and metric thresholds over Prometheus' documented answers, errors included.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MarathonClient } from '../../activities/marathon-client';
import { createVerifyActivities } from '../../activities/verify';
import { prometheusQuery } from '../../activities/prometheus-query';
import type { MetricCheck } from '../../common/contract';
import { freePort } from '../../common/free-port';
import { startPrometheusStandIn, type PrometheusStandIn } from '../../dev/prometheus-stand-in';
import type { MarathonEmulator } from '../../dev/marathon-emulator';
import { activitiesFor, bridgeApp, digest, fastEmulator, inActivity } from './helpers';
import { until } from '../helpers/wait';

let emu: MarathonEmulator;
let prometheus: PrometheusStandIn;
let taskPort: number;
const verify = () =>
  createVerifyActivities({
    clientFor: (url, environment) => new MarathonClient({ baseUrl: url, environment }),
    prometheusUrlFor: (environment) => (environment === 'test' ? prometheus.url : undefined),
    env: {},
  });

before(async () => {
  taskPort = await freePort();
  // An agent on the loopback address with one host port, where the smoke checks reach a real
  // server; the other apps go to a roomy agent that nothing listens on.
  const agent = { cpus: 8, mem: 8192, disk: 8192, attributes: {} };
  emu = await fastEmulator({
    agents: [
      { id: 'a1', hostname: '127.0.0.1', ports: [[taskPort, taskPort]], ...agent },
      { id: 'a2', hostname: 'agent-2.emulator.invalid', ports: [[20000, 20100]], ...agent },
    ],
  });
  prometheus = await startPrometheusStandIn();
});
after(async () => {
  await emu.close();
  await prometheus.close();
});

async function deployHealthy(appId: string, n: number, extra: Record<string, unknown> = {}) {
  const a = activitiesFor({ pollIntervalMs: 20 });
  const app = bridgeApp(appId, digest(n), { constraints: [['hostname', 'UNLIKE', '127\\.0\\.0\\.1']], ...extra });
  const { result: deployed } = await inActivity(a.deployToMarathon, [
    { marathonUrl: emu.url, environment: 'test', pipelineId: `pipe-${n}`, app },
  ]);
  await inActivity(a.awaitHealthy, [
    { ...deployed, marathonUrl: emu.url, environment: 'test', appId, timeoutSeconds: 10 },
  ]);
  return { marathonUrl: emu.url, environment: 'test', appId, version: deployed.version };
}

const admin = (path: string, body: unknown) =>
  fetch(`${emu.url}/_emulator/${path}`, { method: 'POST', body: JSON.stringify(body) });

describe('observeDeployment and smoke checks against the emulator', { timeout: 60_000 }, () => {
  test('a healthy version: its task, healthy; a lost task shows up as a new task id with the failure', async () => {
    const target = await deployHealthy('/verify/soak', 1);
    const first = (await inActivity(verify().observeDeployment, [target])).result;
    assert.equal(first.instances, 1);
    assert.equal(first.tasks.length, 1);
    assert.equal(first.tasks[0]?.healthy, true);
    assert.equal(first.changedTo, undefined);

    const lost = (await (await admin('tasks/lose', { appId: '/verify/soak', state: 'TASK_LOST' })).json()) as {
      tasks: string[];
    };
    assert.deepEqual(lost.tasks, [first.tasks[0]?.id]);
    const replaced = await until('the replacement task', 10_000, async () => {
      const now = (await inActivity(verify().observeDeployment, [target])).result;
      return now.tasks.length === 1 && now.tasks[0]?.id !== first.tasks[0]?.id ? now : undefined;
    });
    assert.match(replaced.lastTaskFailure ?? '', /TASK_LOST: Agent lost/);
  });

  test('a leader change leaves health unknown (null), not failed; a newer deploy is reported as a change', async () => {
    const target = await deployHealthy('/verify/leader', 2);
    await admin('leader-change', { unknownForMs: 5000 });
    const during = (await inActivity(verify().observeDeployment, [target])).result;
    assert.deepEqual(
      during.tasks.map((t) => t.healthy),
      [null],
    );
    const newer = await deployHealthy('/verify/leader', 3);
    const after = (await inActivity(verify().observeDeployment, [target])).result;
    assert.equal(after.changedTo, newer.version);
  });

  test('smoke checks go to the task at the host and port Marathon lists; status and body are checked', async () => {
    const target = await deployHealthy('/verify/smoke', 4, { constraints: [['hostname', 'CLUSTER', '127.0.0.1']] });
    const [task] = await new MarathonClient({ baseUrl: emu.url }).listTasks('/verify/smoke');
    assert.deepEqual([task?.host, task?.ports], ['127.0.0.1', [taskPort]]);
    const seen: string[] = [];
    let status = 200;
    const server = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(status).end(req.url === '/version' ? `{"version":"${digest(4)}"}` : 'ok');
    });
    await new Promise<void>((r) => server.listen(taskPort, '127.0.0.1', r));
    try {
      const checks = [
        { path: '/health', status: 200, timeoutSeconds: 2 },
        { path: '/version', status: 200, body: '"version":".*@sha256:4{64}"', timeoutSeconds: 2 },
      ];
      const ok = await inActivity(verify().runSmokeChecks, [{ ...target, checks }]);
      assert.deepEqual(ok.result, { checked: 2 });
      assert.deepEqual(seen, ['/health', '/version']);

      const wrongBody = [{ path: '/version', status: 200, body: 'sha256:5{64}', timeoutSeconds: 2 }];
      await assert.rejects(inActivity(verify().runSmokeChecks, [{ ...target, checks: wrongBody }]), (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.type, 'SmokeCheckFailed');
        assert.equal(err.nonRetryable, false, 'retried by the activity policy');
        assert.match(err.message, /smoke GET \/version on 127\.0\.0\.1:\d+ returned a body that does not match/);
        return true;
      });
      status = 500;
      await assert.rejects(
        inActivity(verify().runSmokeChecks, [{ ...target, checks: checks.slice(0, 1) }]),
        new RegExp(`^ApplicationFailure: smoke GET /health on 127\\.0\\.0\\.1:${taskPort} returned 500, expected 200$`),
      );
    } finally {
      server.close();
    }
    await assert.rejects(
      inActivity(verify().runSmokeChecks, [
        { ...target, checks: [{ path: '/health', status: 200, timeoutSeconds: 1 }] },
      ]),
      /smoke GET \/health on 127\.0\.0\.1:\d+ failed: ECONNREFUSED/,
    );
    await assert.rejects(
      inActivity(verify().runSmokeChecks, [{ ...target, appId: '/verify/none', checks: [] }]),
      /no running task of \/verify\/none version/,
    );
  });
});

describe('evaluateMetric against the Prometheus stand-in', { timeout: 30_000 }, () => {
  const check = (query: string, bounds: Partial<MetricCheck>): MetricCheck => ({ query, noData: 'fail', ...bounds });
  const evaluate = async (c: MetricCheck, environment = 'test') =>
    (await inActivity(verify().evaluateMetric, [{ environment, check: c }])).result;

  test('vector and scalar answers against max and min; the worst series counts', async () => {
    prometheus.answer('errors', {
      vector: [
        { metric: { instance: 'a' }, value: '0.01' },
        { metric: { instance: 'b' }, value: '0.2' },
      ],
    });
    assert.deepEqual(await evaluate(check('errors', { max: 0.5 })), { value: 0.2, series: 2 });
    assert.deepEqual(await evaluate(check('errors', { max: 0.05 })), {
      value: 0.2,
      series: 2,
      breach: 'metric `errors` is 0.2, above max 0.05',
    });
    prometheus.answer('scalar(up)', { scalar: 3 });
    assert.equal((await evaluate(check('scalar(up)', { min: 2 }))).breach, undefined);
    assert.equal((await evaluate(check('scalar(up)', { min: 4 }))).breach, 'metric `scalar(up)` is 3, below min 4');
    assert.ok(prometheus.queries.includes('scalar(up)'), 'the query was sent as is');
  });

  test('no data (no series, or NaN) fails unless noData: pass', async () => {
    prometheus.answer('nan', { vector: [{ value: 'NaN' }] });
    assert.equal(
      (await evaluate(check('absent', { max: 1 }))).breach,
      'metric `absent` returned no data (noData: fail)',
    );
    assert.equal((await evaluate(check('nan', { max: 1 }))).breach, 'metric `nan` returned no data (noData: fail)');
    assert.deepEqual(await evaluate(check('absent', { max: 1, noData: 'pass' })), { value: null, series: 0 });
  });

  test("Prometheus' error answers: a bad query is not retried, a timeout or outage is", async () => {
    prometheus.answer('rate(x', { error: 'bad_data', message: '1:7: parse error: unclosed left parenthesis' });
    prometheus.answer('heavy', { error: 'timeout', message: 'query timed out in expression evaluation' });
    prometheus.answer('range', { matrix: true });
    await assert.rejects(evaluate(check('rate(x', { max: 1 })), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure && err.nonRetryable);
      assert.match(
        err.message,
        /answered 400 \(bad_data: 1:7: parse error: unclosed left parenthesis\): fix the query/,
      );
      return true;
    });
    await assert.rejects(evaluate(check('heavy', { max: 1 })), (err: unknown) => {
      assert.ok(!(err instanceof ApplicationFailure && err.nonRetryable), 'retryable');
      assert.match(String(err), /answered 503 \(timeout: query timed out in expression evaluation\)/);
      return true;
    });
    await assert.rejects(evaluate(check('range', { max: 1 })), /resultType "matrix": expected an instant "vector"/);
    await assert.rejects(
      evaluate(check('errors', { max: 1 }), 'production'),
      /no Prometheus for environment production: set verify\.prometheus/,
    );
    await assert.rejects(prometheusQuery(`${prometheus.url}/nothing`, 'up'), /answered 404.*not Prometheus' query API/);
    const closed = `http://127.0.0.1:${await freePort()}`;
    await assert.rejects(prometheusQuery(closed, 'up'), /unreachable: ECONNREFUSED/);
  });
});
