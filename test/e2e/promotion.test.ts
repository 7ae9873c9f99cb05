// End to end on the real stack: promotion without a build. A push delivers hello-node (real Docker
// build, pushed to the real registry) to test and integration and is rejected at the production
// gate; then `slipway promote` — the CLI as a user runs it, through the HTTP API with an approver
// token — takes that commit to production: the digest is found from the build pipeline and
// checked in the registry on a build worker, the production gate is passed by alice, no build step
// runs (none in the promotion's history), the same digest runs in production, and GitLab got the
// production deployment under the build's project and ref.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { PipelineStatus } from '../../common/contract';
import { projectRoot } from '../../common/paths';
import { startPipeline } from '../../client/pipelines';
import { startWebhookServer, type WebhookServer } from '../../client/webhook';
import { startFakeGitlab, type FakeGitlab } from '../gitlab/fake-gitlab';
import { registryAddress } from '../helpers/env';
import { verifyPromotionImage } from '../../activities/promotion-registry';
import { startStack, type Stack } from '../helpers/stack';
import { waitForStatus } from '../helpers/status';

const execFileAsync = promisify(execFile);
const gitlabToken = `glpat-${randomUUID()}`;
const aliceToken = `alice-${randomUUID()}`;
/** Workers check the API's signed decisions with the same key. */
const approvalKey = `approval-key-${randomUUID()}`;
let stack: Stack;
let gitlab: FakeGitlab;
let webhook: WebhookServer;
let built: PipelineStatus;

before(async () => {
  stack = await startStack({
    marathonMode: 'simulated',
    example: 'hello-node',
    extraEnv: { GITLAB_TOKEN: gitlabToken, SLIPWAY_APPROVAL_KEY: approvalKey },
  });
  gitlab = await startFakeGitlab({
    token: gitlabToken,
    projects: { [`e2e/${stack.service}`]: { id: 77, refs: ['main'] } },
  });
  // One worker process for both roles: the build worker's steps are what must not run again.
  stack.startWorker('deploy,build', { GITLAB_URL: gitlab.url });
  webhook = await startWebhookServer({
    port: 0,
    client: stack.client,
    configDir: stack.configDir,
    token: `hook-${randomUUID()}`,
    env: { ...process.env, SLIPWAY_APPROVAL_KEY: approvalKey, SLIPWAY_APPROVER_TOKEN_ALICE: aliceToken },
  });
});

after(async () => {
  await webhook?.close();
  await stack?.stop();
  await gitlab?.close();
});

/** POST to the Slipway API as alice. */
async function asAlice(pathName: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${webhook.url}${pathName}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${aliceToken}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const waitingIn = (envName: string) => (s: PipelineStatus) =>
  s.environments.find((e) => e.name === envName)?.state === 'waiting-approval';

/** The activity types a workflow's history scheduled. */
async function activitiesOf(workflowId: string): Promise<string[]> {
  const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
}

test(
  'a delivery reaches test and integration and is rejected at the production gate',
  { timeout: 300_000 },
  async () => {
    const commit = stack.commit('hello-node 2.1.0');
    const { workflowId } = await startPipeline(stack.client, {
      service: stack.service,
      commit,
      ref: 'refs/heads/main',
      trigger: { kind: 'gitlab-push', project: `e2e/${stack.service}`, user: 'carol' },
    });
    await waitForStatus(stack.client, workflowId, waitingIn('production'), 'the production gate', 240_000);
    const rejected = await asAlice(`/pipelines/${workflowId}/rejections`, {
      environment: 'production',
      reason: 'later',
    });
    assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
    built = (await stack.client.workflow.getHandle(workflowId).result()) as PipelineStatus;
    assert.equal(built.state, 'rejected');
    assert.match(built.image ?? '', new RegExp(`^${registryAddress()}/${stack.service}@sha256:[0-9a-f]{64}$`));
    assert.ok((await activitiesOf(workflowId)).includes('buildImage'), 'the build pipeline built');
  },
);

test(
  'slipway promote takes that build to production: no build, through the gate, same digest',
  { timeout: 180_000 },
  async () => {
    assert.ok(built, 'the delivery ran');
    const anonymous = await fetch(`${webhook.url}/promotions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ service: stack.service, commit: built.commit, to: 'production' }),
    });
    assert.equal(anonymous.status, 401, 'the API starts promotions only for an approver token');
    const shortSha = await asAlice('/promotions', {
      service: stack.service,
      commit: built.commit.slice(0, 8),
      to: 'production',
    });
    assert.equal(shortSha.status, 409);
    assert.match(String(shortSha.body.error), /expected the full commit SHA/);
    // The CLI as a user runs it (a non-zero exit rejects with its output).
    const promote = ['promote', stack.service, '--commit', built.commit, '--to', 'production'];
    const cli = await execFileAsync(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(projectRoot, 'client', 'cli.ts'),
        ...promote,
        '--token',
        aliceToken,
        '--api',
        webhook.url,
        '--json',
      ],
      { env: { ...process.env, SLIPWAY_TOKEN: '' }, cwd: projectRoot },
    );
    const { workflowId } = JSON.parse(cli.stdout) as { workflowId: string };
    assert.match(workflowId, new RegExp(`^promotion/${stack.service}/${built.commit}/production/`));

    const waiting = await waitForStatus(
      stack.client,
      workflowId,
      waitingIn('production'),
      'the promotion at the gate',
      120_000,
    );
    assert.equal(waiting.promotion?.note, `promoted from ${built.workflowId}, no build`);
    assert.equal(waiting.promotion?.requestedBy, 'alice', "the API starts it in the token owner's name");
    assert.deepEqual(waiting.promotion?.alreadyRan, ['test', 'integration']);
    const approved = await asAlice(`/pipelines/${encodeURIComponent(workflowId)}/approvals`, {
      environment: 'production',
    });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    const done = (await stack.client.workflow.getHandle(workflowId).result()) as PipelineStatus;
    assert.equal(done.state, 'succeeded', done.error);
    assert.equal(done.image, built.image);

    const activities = await activitiesOf(workflowId);
    for (const step of ['claimBuildHost', 'checkoutSource', 'buildImage', 'pushImage'])
      assert.ok(!activities.includes(step), `no ${step} in the promotion's history: ${activities.join(', ')}`);
    assert.ok(activities.includes('verifyPromotionImage'), 'the digest was checked in the registry');

    const app = (await (await fetch(`${stack.emulator.url}/v2/apps/production/${stack.service}`)).json()) as {
      app: { container: { docker: { image: string } } };
    };
    assert.equal(app.app.container.docker.image, built.image, 'production runs the digest the build pushed');
    const again = await asAlice(`/pipelines/${encodeURIComponent(workflowId)}/rerun`, {});
    assert.equal(again.status, 409);
    assert.match(String(again.body.error), /is succeeded: only a rejected or approval-expired pipeline is rerun/);
    const deployment = gitlab.deployments.find((d) => d.environment === 'production');
    assert.deepEqual(deployment && { sha: deployment.sha, ref: deployment.ref, status: deployment.status }, {
      sha: built.commit,
      ref: 'main',
      status: 'success',
    });
  },
);

test("the registry's commit tag alone finds the build (its pipeline gone), and a commit never built is refused", async () => {
  assert.ok(built, 'the delivery ran');
  const imageRepository = `${registryAddress()}/${stack.service}`;
  const found = await verifyPromotionImage({ imageRepository, tag: built.commit.slice(0, 12) });
  assert.equal(found.digestRef, built.image);
  assert.ok(found.createdAt && Date.parse(found.createdAt) > Date.parse(built.startedAt) - 3600_000, found.createdAt);
  await assert.rejects(verifyPromotionImage({ imageRepository, tag: 'f'.repeat(12) }), (err: Error) =>
    err.message.includes(`no ${imageRepository}:ffffffffffff in the registry`),
  );
  const foreign = `${registryAddress()}/someone-else@${built.image!.split('@')[1]}`;
  await assert.rejects(verifyPromotionImage({ imageRepository, tag: 'x', digestRef: foreign }), (err: Error) =>
    err.message.includes('is not in ' + imageRepository + ", this service's repository"),
  );
});
