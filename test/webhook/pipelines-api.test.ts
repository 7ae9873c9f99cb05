// The status and approval API on whole pipelines: GitLab push -> real deliveryPipeline (real
// Temporal dev server, outside world faked) -> GET /pipelines/<id> -> authenticated approval or
// rejection over HTTP, refusals with the workflow's reason, and no secret in any history.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startWebhookServer, type WebhookServer } from '../../client/webhook';
import type { PipelineStatus } from '../../common/contract';
import { until } from '../helpers/wait';
import { deliver, fixture, writeTestConfig, type TestConfig } from './helpers';
import { randomSha, startWorld, waitForStatus, type World } from './world';

const hookToken = `hook-${randomUUID()}`;
const bobEnvToken = `bob-env-${randomUUID()}`;
let world: World;
let server: WebhookServer;
let config: TestConfig;
const workflowIds: string[] = [];

before(async () => {
  config = writeTestConfig();
  world = await startWorld();
  server = await startWebhookServer({
    port: 0,
    client: world.client,
    token: hookToken,
    configDir: config.dir,
    env: { ...process.env, SLIPWAY_APPROVER_TOKEN_BOB: bobEnvToken },
  });
});

after(async () => {
  await server?.close();
  await world?.stop([config.pushService, config.tagService]);
});

async function push(): Promise<string> {
  const sha = randomSha();
  const res = await deliver(
    server.url,
    { ...fixture('push-hook.json'), after: sha, checkout_sha: sha },
    { 'X-Gitlab-Token': hookToken },
  );
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const id = String(res.body.workflowId);
  workflowIds.push(id);
  return id;
}

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function decide(
  workflowId: string,
  action: 'approvals' | 'rejections',
  body: Record<string, unknown>,
  bearer?: string,
  encode = true,
): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${server.url}/pipelines/${encode ? encodeURIComponent(workflowId) : workflowId}/${action}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, ms: performance.now() - started };
}

const waiting = (s: PipelineStatus) => s.state === 'waiting-approval';

describe('status API', () => {
  test('GET /pipelines/<id> answers the status, with the ID raw or URL-encoded; unknown IDs are 404', async () => {
    const id = await push();
    await waitForStatus(world.client, id, waiting, 'production to wait for approval');
    const raw = await get(`/pipelines/${id}`);
    const encoded = await get(`/pipelines/${encodeURIComponent(id)}`);
    assert.equal(raw.status, 200);
    assert.equal(raw.body.workflowId, id);
    assert.equal(raw.body.state, 'waiting-approval');
    assert.equal(raw.body.service, config.pushService);
    assert.deepEqual(
      (raw.body.environments as { name: string; state: string }[]).map((e) => [e.name, e.state]),
      [
        ['test', 'healthy'],
        ['integration', 'healthy'],
        ['production', 'waiting-approval'],
      ],
    );
    assert.deepEqual(encoded.body, raw.body);
    const missing = await get(`/pipelines/${encodeURIComponent(`pipeline/${config.pushService}/${'0'.repeat(40)}`)}`);
    assert.equal(missing.status, 404);
    assert.match(String(missing.body.error), /no pipeline/);
  });

  test('GET /pipelines?service=&state= lists through visibility; bad filters are 400', async () => {
    const id = workflowIds[0]!;
    // Visibility shows the waiting state moments after the workflow set it.
    let list: { pipelines: { workflowId: string; state: string }[] } = { pipelines: [] };
    const mine = await until(
      () => `${id} in the list of waiting pipelines; last list ${JSON.stringify(list)}`,
      10_000,
      async () => {
        list = (await get(`/pipelines?service=${config.pushService}&state=waiting-approval`)).body as typeof list;
        return list.pipelines.find((p) => p.workflowId === id);
      },
      { intervalMs: 100 },
    );
    assert.equal(mine.state, 'waiting-approval');
    assert.ok(list.pipelines.every((p) => p.state === 'waiting-approval'));
    const none = await get(`/pipelines?service=${config.pushService}&state=failed`);
    assert.deepEqual(none.body, { pipelines: [] });
    const bad = await get(`/pipelines?service=${encodeURIComponent("x' OR 1=1")}`);
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.error), /SlipwayService filter/);
  });
});

describe('approval API', () => {
  test('refusals come back with the reason; a verified approval promotes to production', async () => {
    const id = workflowIds[0]!;
    const noToken = await decide(id, 'approvals', { environment: 'production' });
    assert.equal(noToken.status, 401);
    const badToken = await decide(id, 'approvals', { environment: 'production' }, 'not-a-token');
    assert.equal(badToken.status, 401);

    const notApprover = await decide(id, 'approvals', { environment: 'production' }, config.tokens.mallory);
    assert.equal(notApprover.status, 409);
    assert.equal(notApprover.body.error, 'mallory may not decide for production: approvers are alice, bob');

    const notWaiting = await decide(id, 'approvals', { environment: 'integration' }, config.tokens.alice);
    assert.equal(notWaiting.status, 409);
    assert.equal(notWaiting.body.error, 'integration is not waiting for approval (it is healthy); production is');

    const impersonation = await decide(
      id,
      'approvals',
      { environment: 'production', approver: 'bob' },
      config.tokens.alice,
    );
    assert.equal(impersonation.status, 403);
    assert.match(String(impersonation.body.error), /belongs to alice, not bob/);

    const ok = await decide(
      id,
      'approvals',
      { environment: 'production', comment: 'ship it' },
      config.tokens.alice,
      false,
    );
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const record = ok.body.decision as Record<string, unknown>;
    assert.equal(record.approver, 'alice');
    assert.equal(record.channel, 'api');
    assert.equal(record.verified, true);
    assert.equal(record.accepted, true);
    console.log(
      `[figure] HTTP approval round trip (token check, attestation, validated Update): ${ok.ms.toFixed(0)} ms`,
    );

    const done = await waitForStatus(world.client, id, (s) => s.state === 'succeeded', 'the pipeline to succeed');
    assert.equal(done.environments.at(-1)?.state, 'healthy');
    const status = await get(`/pipelines/${encodeURIComponent(id)}`);
    assert.equal(status.body.state, 'succeeded');
    const decisions = status.body.decisions as { approver: string; verified: boolean; accepted: boolean }[];
    assert.deepEqual(
      decisions.filter((d) => d.accepted).map((d) => [d.approver, d.verified]),
      [['alice', true]],
    );

    const late = await decide(id, 'approvals', { environment: 'production' }, config.tokens.bob);
    assert.equal(late.status, 409);
    assert.match(String(late.body.error), /ended|not waiting/);
  });

  test('a rejection with a token from SLIPWAY_APPROVER_TOKEN_BOB ends the pipeline "rejected", reason recorded', async () => {
    const id = await push();
    await waitForStatus(world.client, id, waiting, 'production to wait');
    const res = await decide(id, 'rejections', { environment: 'production', reason: 'release freeze' }, bobEnvToken);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal((res.body.decision as { verified: boolean }).verified, true);
    const done = await waitForStatus(world.client, id, (s) => s.state === 'rejected', 'the rejection');
    assert.match(done.error ?? '', /production rejected by bob: release freeze/);
  });

  test('no secret reaches any history: webhook token, approver tokens, approval key', async () => {
    const secrets = [
      hookToken,
      bobEnvToken,
      ...Object.values(config.tokens),
      process.env.SLIPWAY_APPROVAL_KEY as string,
    ];
    for (const id of workflowIds) {
      const history = JSON.stringify(await world.client.workflow.getHandle(id).fetchHistory());
      for (const s of secrets) assert.ok(!history.includes(s), `a secret appears in the history of ${id}`);
    }
  });
});
