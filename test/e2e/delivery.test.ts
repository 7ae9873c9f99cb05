// End to end on the real stack: a GitLab-format push webhook for examples/hello-node → build on the
// build worker (Docker engine) → push to the registry → test → integration → approval through the
// HTTP API → production on the Marathon emulator (containers mode), with deploy and build workers
// as separate processes. Test and integration run on an emulator in Marathon 1.5's shape,
// production on one in Marathon 1.4's: the delivery speaks each environment's shape. Then: the same digest everywhere (app definitions and registry), the
// production task answers with the new version, GitLab got the statuses, and no configured secret
// is anywhere in the workflow histories or the worker logs.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { logDir } from '../../common/paths';
import type { PipelineStatus } from '../../common/contract';
import { laneWorkflowId } from '../../common/contract';
import { startWebhookServer, type WebhookServer } from '../../client/webhook';
import { startFakeGitlab, type FakeGitlab } from '../gitlab/fake-gitlab';
import { fixture } from '../webhook/helpers';
import { registryAddress } from '../helpers/env';
import { historiesText } from '../helpers/history';
import { startStack, type Stack } from '../helpers/stack';
import { until } from '../helpers/wait';

const secrets = {
  MARATHON_USERNAME: 'slipway',
  MARATHON_PASSWORD: `marathon-pw-${randomUUID()}`,
  SLIPWAY_REGISTRY_USERNAME: 'pusher',
  SLIPWAY_REGISTRY_PASSWORD: `registry-pw-${randomUUID()}`,
  GITLAB_TOKEN: `glpat-${randomUUID()}`,
  SLIPWAY_APPROVAL_KEY: `approval-key-${randomUUID()}`,
};
const webhookToken = `hook-${randomUUID()}`;
const aliceToken = `alice-${randomUUID()}`;
const secretValues = [secrets.MARATHON_PASSWORD, secrets.SLIPWAY_REGISTRY_PASSWORD, secrets.GITLAB_TOKEN];
const allSecrets = [...secretValues, secrets.SLIPWAY_APPROVAL_KEY, webhookToken, aliceToken];

let stack: Stack;
let gitlab: FakeGitlab;
let webhook: WebhookServer;
let commit: string;
let workflowId: string;
let finalStatus: PipelineStatus;

async function json<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
}

const pipelineStatus = async () => (await json<PipelineStatus>(`${webhook.url}/pipelines/${workflowId}`)).body;

before(async () => {
  stack = await startStack({
    marathonMode: 'containers',
    example: 'hello-node',
    extraEnv: secrets,
    marathon14For: ['production'],
  });
  // The fake GitLab knows the project the stack's config names for this service.
  gitlab = await startFakeGitlab({
    token: secrets.GITLAB_TOKEN,
    projects: { [`e2e/${stack.service}`]: { id: 4242, refs: ['main'] } },
  });
  stack.workerEnv.GITLAB_URL = gitlab.url;
  stack.startWorker('deploy');
  stack.startWorker('build');
  webhook = await startWebhookServer({
    port: 0,
    client: stack.client,
    token: webhookToken,
    configDir: stack.configDir,
    env: {
      ...process.env,
      SLIPWAY_APPROVAL_KEY: secrets.SLIPWAY_APPROVAL_KEY,
      SLIPWAY_APPROVER_TOKEN_ALICE: aliceToken,
    },
  });
});

after(async () => {
  await webhook?.close();
  await stack?.stop();
  await gitlab?.close();
});

test('a push webhook delivers hello-node through test and integration to the production gate', async () => {
  commit = stack.commit('hello-node 2.0.0', (dir) => {
    const file = path.join(dir, 'src', 'server.js');
    writeFileSync(file, readFileSync(file, 'utf8').replace("VERSION = '1.0.0'", "VERSION = '2.0.0'"));
  });
  const push = fixture('push-hook.json') as Record<string, unknown> & { project: Record<string, unknown> };
  const hook = {
    ...push,
    ref: 'refs/heads/main',
    after: commit,
    checkout_sha: commit,
    project: { ...push.project, path_with_namespace: `e2e/${stack.service}`, id: 4242 },
  };
  const wrongToken = await fetch(`${webhook.url}/webhooks/gitlab`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': 'nope' },
    body: JSON.stringify(hook),
  });
  assert.equal(wrongToken.status, 401, 'a delivery with a wrong token is refused');

  const started = await json<{ workflowId: string; deduplicated: boolean }>(`${webhook.url}/webhooks/gitlab`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': webhookToken },
    body: JSON.stringify(hook),
  });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  workflowId = started.body.workflowId;
  assert.equal(workflowId, `pipeline/${stack.service}/${commit}`);

  const waiting = await until('production to wait for approval', 240_000, async () => {
    const s = await pipelineStatus();
    if (s.state === 'failed') throw new Error(`pipeline failed: ${s.error}`);
    const production = s.environments.find((e) => e.name === 'production');
    return production?.state === 'waiting-approval' ? s : undefined;
  });
  assert.match(waiting.image ?? '', new RegExp(`^${registryAddress()}/${stack.service}@sha256:[0-9a-f]{64}$`));
  assert.deepEqual(
    waiting.environments.map((e) => e.state),
    ['healthy', 'healthy', 'waiting-approval'],
  );
});

test('alice approves production through the HTTP API and the pipeline completes', async () => {
  const approvalUrl = `${webhook.url}/pipelines/${workflowId}/approvals`;
  const anonymous = await json<unknown>(approvalUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ environment: 'production' }),
  });
  assert.equal(anonymous.status, 401);

  const approved = await json<{ accepted?: boolean; approver?: string }>(approvalUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${aliceToken}` },
    body: JSON.stringify({ environment: 'production', comment: 'e2e looks good' }),
  });
  assert.equal(approved.status, 200, JSON.stringify(approved.body));

  finalStatus = (await stack.client.workflow.getHandle(workflowId).result()) as PipelineStatus;
  assert.equal(finalStatus.state, 'succeeded', finalStatus.error);
  assert.deepEqual(
    finalStatus.environments.map((e) => e.state),
    ['healthy', 'healthy', 'healthy'],
  );
  const decision = finalStatus.decisions.find((d) => d.environment === 'production' && d.accepted);
  assert.equal(decision?.approver, 'alice');
  assert.equal(decision?.verified, true, 'an approval through the API carries a verified attestation');
});

test('the same digest runs in all three environments and is the one in the registry', async () => {
  const digestRef = finalStatus.image!;
  for (const environment of ['test', 'integration', 'production']) {
    const { body } = await json<{
      app: { container: { docker: { image: string; network?: string } }; networks?: unknown; tasksHealthy: number };
    }>(`${stack.emulatorFor(environment).url}/v2/apps/${environment}/${stack.service}`);
    assert.equal(body.app.container.docker.image, digestRef, `${environment} runs ${body.app.container.docker.image}`);
    if (environment === 'production') assert.equal(body.app.container.docker.network, 'BRIDGE', 'Marathon 1.4 shape');
    else assert.deepEqual(body.app.networks, [{ mode: 'container/bridge' }], 'Marathon 1.5 shape');
    assert.ok(body.app.tasksHealthy >= 1, `${environment} has healthy tasks`);
  }
  // The commit tag it was pushed under, and each environment's tag (config imageTag), name the same digest.
  for (const tag of [commit.slice(0, 12), 'test', 'integration', 'production']) {
    const manifest = await fetch(`http://${registryAddress()}/v2/${stack.service}/manifests/${tag}`, {
      headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    assert.equal(manifest.status, 200, `tag ${tag}`);
    assert.equal(
      `${registryAddress()}/${stack.service}@${manifest.headers.get('docker-content-digest')}`,
      digestRef,
      `tag ${tag}`,
    );
  }
  assert.deepEqual(
    finalStatus.environments.map((e) => e.imageTag),
    ['test', 'integration', 'production'],
  );

  // Exactly one deploying PUT per environment for this image.
  const puts = [...new Set(['test', 'production'].map((e) => stack.emulatorFor(e)))]
    .flatMap((e) => e.requests())
    .filter((r) => r.method === 'PUT' && /^\/v2\/apps\//.test(r.path) && JSON.stringify(r).includes(digestRef));
  for (const environment of ['test', 'integration', 'production']) {
    assert.equal(
      puts.filter((r) => r.path.startsWith(`/v2/apps/${environment}/`)).length,
      1,
      `one deploy to ${environment}`,
    );
  }
});

test('the production task answers with the new version', async () => {
  const { body } = await json<{
    app: { tasks: { host: string; ports: number[]; version: string }[]; version: string };
  }>(`${stack.emulatorFor('production').url}/v2/apps/production/${stack.service}?embed=app.tasks`);
  assert.equal(body.app.tasks.length, 2, 'production runs two instances');
  for (const task of body.app.tasks) {
    const answer = await json<{ version: string; commit: string }>(`http://${task.host}:${task.ports[0]}/version`);
    assert.deepEqual(answer.body, { service: 'hello-node', version: '2.0.0', commit });
  }
});

test('GitLab got the commit status and one deployment per environment', async () => {
  const statuses = gitlab.statuses.filter((s) => s.sha === commit).map((s) => s.status);
  assert.equal(statuses.at(-1), 'success', `statuses ${statuses.join(' → ')}`);
  const deployments = gitlab.deployments.filter((d) => d.sha === commit);
  assert.deepEqual(deployments.map((d) => `${d.environment}:${d.status}`).sort(), [
    'integration:success',
    'production:success',
    'test:success',
  ]);
});

test('no configured secret is in any workflow history or worker log', async () => {
  const ids = [workflowId, ...['test', 'integration', 'production'].map((e) => laneWorkflowId(stack.service, e))];
  const { text, events } = await historiesText(stack.client, ids);
  assert.ok(events > 50, `read ${events} history events`);
  assert.ok(text.includes(commit), 'the histories were decoded (the commit is in them)');
  for (const secret of allSecrets)
    assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 12)}…) is in a history`);

  await stack.killWorkers('SIGTERM');
  const suffix = stack.service.slice('hello-node-'.length);
  const logs = readdirSync(logDir).filter((f) => f.startsWith(`e2e-worker-${suffix}-`));
  assert.equal(logs.length, 2, `worker logs ${logs.join(', ')}`);
  for (const log of logs) {
    const file = path.join(logDir, log);
    assert.ok(existsSync(file));
    const content = readFileSync(file, 'utf8');
    for (const secret of secretValues) assert.ok(!content.includes(secret), `a secret is in ${log}`);
  }
});
