// GitLab reporting on whole pipelines: a Push Hook starts the real deliveryPipeline (outside world
// faked, GitLab reporting real against ./fake-gitlab.ts); GitLab then holds one commit status
// that went running -> success with a link to the Temporal UI, and one deployment per
// environment that went running -> success — what its Environments page shows.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createGitlabActivities } from '../../activities/gitlab';
import { startWebhookServer, type WebhookServer } from '../../client/webhook';
import { deliver, fixture, writeTestConfig, type TestConfig } from '../webhook/helpers';
import { randomSha, startWorld, waitForStatus, type World } from '../webhook/world';
import { startFakeGitlab, type FakeGitlab } from './fake-gitlab';

const gitlabToken = `glpat-${randomUUID()}`;
const hookToken = `hook-${randomUUID()}`;
let gitlab: FakeGitlab;
let world: World;
let server: WebhookServer;
let config: TestConfig;

before(async () => {
  gitlab = await startFakeGitlab({ token: gitlabToken, projects: { 'mike/diaspora': { id: 15, refs: ['master'] } } });
  process.env.SLIPWAY_TEMPORAL_UI_URL = 'http://ui.test:8233';
  config = writeTestConfig();
  world = await startWorld({ activities: createGitlabActivities({ baseUrl: gitlab.url, token: gitlabToken }) });
  server = await startWebhookServer({ port: 0, client: world.client, token: hookToken, configDir: config.dir });
});

after(async () => {
  delete process.env.SLIPWAY_TEMPORAL_UI_URL;
  await server?.close();
  await world?.stop([config.pushService]);
  await gitlab?.close();
});

test('a delivered pipeline reports its commit status and one deployment per environment to GitLab', async () => {
  const sha = randomSha();
  const res = await deliver(
    server.url,
    { ...fixture('push-hook.json'), after: sha, checkout_sha: sha },
    { 'X-Gitlab-Token': hookToken },
  );
  assert.equal(res.status, 202);
  const id = String(res.body.workflowId);
  await waitForStatus(world.client, id, (s) => s.state === 'waiting-approval', 'production to wait');
  const approve = await world.client.workflow.getHandle(id).executeUpdate('approvePromotion', {
    args: [{ environment: 'production', approver: 'alice' }],
  });
  assert.ok(approve);
  // The result, not the status query: "succeeded" is visible before the final commit status is sent.
  const done = (await world.client.workflow.getHandle(id).result()) as { state: string };
  assert.equal(done.state, 'succeeded');

  const statuses = gitlab.statuses.filter((s) => s.sha === sha);
  assert.equal(statuses.length, 1, 'one commit status, moved through its states');
  assert.equal(statuses[0]!.status, 'success');
  assert.equal(statuses[0]!.name, 'slipway');
  assert.equal(statuses[0]!.ref, 'master');
  assert.equal(statuses[0]!.target_url, `http://ui.test:8233/namespaces/default/workflows/${encodeURIComponent(id)}`);
  const posted = gitlab.requests
    .filter((r) => r.method === 'POST' && r.path.endsWith(`/statuses/${sha}`))
    .map((r) => (r.body as { state: string }).state);
  assert.deepEqual(posted, ['pending', 'running', 'success']);

  const deployments = gitlab.deployments.filter((d) => d.sha === sha);
  assert.deepEqual(
    deployments.map((d) => [d.environment, d.status, d.ref, d.tag]),
    [
      ['test', 'success', 'master', false],
      ['integration', 'success', 'master', false],
      ['production', 'success', 'master', false],
    ],
  );
  const history = JSON.stringify(await world.client.workflow.getHandle(id).fetchHistory());
  assert.ok(!history.includes(gitlabToken), 'the GitLab token never enters history');
});
