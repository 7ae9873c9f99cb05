// What operators watch, on the real stack: deploy and build workers as separate processes serve
// /healthz and Prometheus /metrics (the Temporal SDK's runtime metrics and Slipway's own), the
// webhook server too; a delivery moves the numbers it should (builds, deploys and their durations,
// approvals waiting, deliveries completed); and the workers' log lines about a pipeline's
// activities carry its workflow and run IDs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { freePort } from '../../common/free-port';
import { logDir } from '../../common/paths';
import { startWebhookServer, type WebhookServer } from '../../client/webhook';
import { approveAndFinish, productionWaits, runPipeline, waitForStatus } from '../chaos/driver';
import { scrape, type Samples } from '../helpers/prometheus';
import { startStack, type Stack } from '../helpers/stack';
import { until } from '../helpers/wait';

let stack: Stack;
let webhook: WebhookServer;
let deployWorker: string;
let buildWorker: string;
let workflowId: string;
let before_: { deploy: Samples; build: Samples; webhook: Samples };

before(async () => {
  stack = await startStack({ marathonMode: 'simulated', example: 'hello-node' });
  const [deployPort, buildPort] = [await freePort(), await freePort()];
  deployWorker = `http://127.0.0.1:${deployPort}`;
  buildWorker = `http://127.0.0.1:${buildPort}`;
  stack.startWorker('deploy', { SLIPWAY_METRICS_PORT: String(deployPort) });
  // At info, where a build's start is logged (the harness runs everything else at warn).
  stack.startWorker('build', { SLIPWAY_METRICS_PORT: String(buildPort), SLIPWAY_LOG_LEVEL: 'info' });
  webhook = await startWebhookServer({ port: 0, client: stack.client, token: 'unused', configDir: stack.configDir });
});

after(async () => {
  await webhook?.close();
  await stack?.stop();
});

test('workers and the webhook server answer /healthz once they run', async () => {
  for (const url of [deployWorker, buildWorker]) {
    const health = await until(`${url}/healthz to answer 200`, 60_000, async () => {
      const res = await fetch(`${url}/healthz`);
      return res.status === 200 ? ((await res.json()) as { status: string; workers: { state: string }[] }) : undefined;
    });
    assert.equal(health.status, 'ok');
    assert.ok(health.workers.length > 0 && health.workers.every((w) => w.state === 'RUNNING'), JSON.stringify(health));
  }
  assert.equal((await fetch(`${webhook.url}/healthz`)).status, 200);
});

test('/metrics carries the Temporal SDK runtime metrics and Slipway own', async () => {
  before_ = {
    deploy: await scrape(`${deployWorker}/metrics`),
    build: await scrape(`${buildWorker}/metrics`),
    webhook: await scrape(`${webhook.url}/metrics`),
  };
  for (const name of ['temporal_request', 'temporal_worker_start'])
    assert.ok(before_.deploy.has(name), `the deploy worker exports the SDK metric ${name}`);
  for (const family of ['slipway_deploys_total', 'slipway_rollbacks_total', 'slipway_build_duration_seconds'])
    assert.ok(before_.deploy.families.has(family), `the deploy worker declares ${family}`);
  assert.ok(before_.webhook.has('slipway_approvals_waiting'), 'the webhook server exports approvals waiting');
  assert.ok(before_.webhook.has('process_resident_memory_bytes'), 'and its process metrics');
});

test('a delivery moves approvals waiting, deploys, build and deploy durations, and deliveries', async () => {
  const waitingBefore = before_.webhook.value('slipway_approvals_waiting');
  const completedBefore = before_.webhook.value('slipway_deliveries{status="Completed"}');
  workflowId = await runPipeline(stack.client, stack.service, stack.commit('observability'));
  await waitForStatus(stack.client, workflowId, productionWaits, 'production to wait for approval', 240_000);
  await until('slipway_approvals_waiting to count the pipeline', 30_000, async () =>
    (await scrape(`${deployWorker}/metrics`)).value('slipway_approvals_waiting') === waitingBefore + 1
      ? true
      : undefined,
  );

  await approveAndFinish(stack, workflowId);
  const deploy = await scrape(`${deployWorker}/metrics`);
  for (const environment of ['test', 'integration', 'production']) {
    const labels = `{environment="${environment}",outcome="success"}`;
    for (const name of [`slipway_deploys_total${labels}`, `slipway_deploy_duration_seconds_count${labels}`])
      assert.equal(deploy.value(name) - before_.deploy.value(name), 1, name);
    assert.ok(deploy.value(`slipway_deploy_duration_seconds_sum${labels}`) > 0);
  }
  const build = await scrape(`${buildWorker}/metrics`);
  const builds = 'slipway_build_duration_seconds_count{outcome="success"}';
  assert.equal(build.value(builds) - before_.build.value(builds), 1, builds);
  assert.ok(build.value('temporal_activity_execution_latency_count') > 0, 'the SDK timed the build activities');

  // Cluster-wide gauges: pipelines of earlier test files on this server may still end meanwhile,
  // so the delivery counts as "at least one more completed, this one no longer waiting".
  await until('the webhook server to count the completed delivery and no waiting approval', 30_000, async () => {
    const now = await scrape(`${webhook.url}/metrics`);
    return now.value('slipway_deliveries{status="Completed"}') >= completedBefore + 1 &&
      now.value('slipway_approvals_waiting') <= waitingBefore
      ? true
      : undefined;
  });
});

test("the workers' log lines about the pipeline carry its workflow and run IDs", async () => {
  const runId = (await stack.client.workflow.getHandle(workflowId).describe()).runId;
  await stack.killWorkers('SIGTERM');
  const suffix = stack.service.slice('hello-node-'.length);
  const lines = readFileSync(path.join(logDir, `e2e-worker-${suffix}-build.log`), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const buildStarted = lines.find((l) => l.msg === 'build started' && l.workflowId === workflowId);
  assert.ok(buildStarted, 'the build worker logged the build with the workflow ID');
  assert.equal(buildStarted.runId, runId);
  assert.equal(buildStarted.activityType, 'buildImage');
});
