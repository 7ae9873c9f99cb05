// Attack: an operator with Temporal UI access, or a change's own author, tries to approve what
// they may not. With `requireVerified`, only decisions verified through the authenticated HTTP API
// count; `required: 2` needs two distinct approvers; an author recognised by stable identity (the
// pusher's GitLab user ID) cannot approve; a signed decision copied out of one run's history into a
// rerun of the same pipeline is refused, and so is an expired one. Real Temporal dev server, the
// real webhook/API server; build and Marathon faked at the activity boundary.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { signDecision, verifyDecisionAttestation } from '../../activities/attestation';
import { startWebhookServer, type WebhookServer } from '../../client/webhook';
import { approveSignal, approveUpdate, statusQuery } from '../../common/contract';
import { projectRoot } from '../../common/paths';
import { waitForStatus } from '../helpers/status';
import { writeTestConfig, type TestConfig } from '../webhook/helpers';
import { startWorld, type World } from '../webhook/world';
import { deliveryPipeline } from '../../workflows';
import { startPipeline } from './helpers';

let world: World;
let server: WebhookServer;
let config: TestConfig;
const services: string[] = [];

before(async () => {
  world = await startWorld({
    environments: [
      { name: 'test' },
      {
        name: 'production',
        approval: {
          approvers: ['alice', 'bob', 'carol'],
          timeoutSeconds: 3600,
          required: 2,
          requireVerified: true,
          approverIdentities: { alice: { gitlabUserIds: [41], gitlabUsernames: ['alice'] } },
        },
      },
    ],
  });
  config = writeTestConfig({
    approverTokens: { alice: `alice-${randomUUID()}`, bob: `bob-${randomUUID()}`, carol: `carol-${randomUUID()}` },
  });
  server = await startWebhookServer({ port: 0, client: world.client, token: 'unused', configDir: config.dir });
});
after(async () => {
  await server?.close();
  await world?.stop(services);
});

const service = () => {
  const name = `atk-appr-${randomUUID().slice(0, 8)}`;
  services.push(name);
  return name;
};
const waiting = (s: { state: string }) => s.state === 'waiting-approval';

async function approveViaApi(workflowId: string, approver: string) {
  const res = await fetch(`${server.url}/pipelines/${encodeURIComponent(workflowId)}/approvals`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${config.tokens[approver]}` },
    body: JSON.stringify({ environment: 'production' }),
  });
  return { status: res.status, body: (await res.json()) as { decision?: { attestation?: string }; error?: string } };
}

async function refusedUpdate(workflowId: string, request: Record<string, unknown>): Promise<string> {
  const err = await world.client.workflow
    .getHandle(workflowId)
    .executeUpdate(approveUpdate, { args: [request as never] })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  assert.ok(err instanceof WorkflowUpdateFailedError, `expected a refusal, got ${String(err)}`);
  return String((err.cause as Error)?.message);
}

describe('approvals that must not count', { timeout: 120_000 }, () => {
  test('requireVerified: a Temporal UI update or signal is refused with how to approve; two verified approvals promote', async () => {
    const pipeline = await startPipeline(world.client, service());
    await waitForStatus(world.client, pipeline.workflowId, waiting, 'the production gate');
    const refusal = await refusedUpdate(pipeline.workflowId, { environment: 'production', approver: 'alice' });
    assert.match(refusal, /production takes only verified decisions: approve through Slipway's HTTP API/);
    await pipeline.signal(approveSignal, { environment: 'production', approver: 'bob' });
    const recorded = await waitForStatus(
      world.client,
      pipeline.workflowId,
      (s) => s.decisions.length === 1,
      'the signal',
    );
    assert.equal(recorded.decisions[0]?.accepted, false);
    assert.match(recorded.decisions[0]?.refusal ?? '', /takes only verified decisions/);

    assert.equal((await approveViaApi(pipeline.workflowId, 'alice')).status, 200);
    assert.equal((await pipeline.query(statusQuery)).state, 'waiting-approval', 'one of two approvals');
    const again = await approveViaApi(pipeline.workflowId, 'alice');
    assert.equal(again.status, 409);
    assert.match(again.body.error ?? '', /alice already approved production; 1 more approval/);
    assert.equal((await approveViaApi(pipeline.workflowId, 'bob')).status, 200);
    const done = await pipeline.result();
    assert.equal(done.state, 'succeeded');
    assert.deepEqual(done.environments.at(-1)?.approval?.approvedBy, ['alice', 'bob']);
  });

  test("the change's pusher, known by GitLab user ID, cannot approve it, even through the API", async () => {
    const pipeline = await startPipeline(world.client, service(), { changedBy: { gitlabUserIds: [41] } });
    await waitForStatus(world.client, pipeline.workflowId, waiting, 'the production gate');
    const res = await approveViaApi(pipeline.workflowId, 'alice');
    assert.equal(res.status, 409);
    assert.match(res.body.error ?? '', /alice is an author of this change \(gitlab user 41\)/);
    await pipeline.terminate('test over');
  });

  test('slipway approve --token decides through the API, verified; without a token it is refused with the how-to', async () => {
    const pipeline = await startPipeline(world.client, service());
    await waitForStatus(world.client, pipeline.workflowId, waiting, 'the production gate');
    const cli = (...args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = execFile(
          process.execPath,
          [
            '--import',
            'tsx',
            path.join(projectRoot, 'client', 'cli.ts'),
            'approve',
            pipeline.workflowId,
            '--env',
            'production',
            ...args,
          ],
          { env: { ...process.env, SLIPWAY_TOKEN: '' } },
          (_err, stdout, stderr) => resolve({ code: child.exitCode, out: stdout + stderr }),
        );
      });
    const selfDeclared = await cli('--as', 'alice');
    assert.equal(selfDeclared.code, 1, selfDeclared.out);
    assert.match(selfDeclared.out, /approve refused: production takes only verified decisions/);

    const alice = await cli('--token', config.tokens.alice!, '--api', server.url);
    assert.equal(alice.code, 0, alice.out);
    assert.match(alice.out, new RegExp(`approved: production of ${pipeline.workflowId} by alice \\(verified\\)`));
    const bob = await cli('--token', config.tokens.bob!, '--api', server.url, '--comment', 'second pair of eyes');
    assert.equal(bob.code, 0, bob.out);
    const done = await pipeline.result();
    assert.equal(done.state, 'succeeded');
    assert.deepEqual(
      done.decisions.filter((d) => d.accepted).map((d) => [d.approver, d.channel, d.verified]),
      [
        ['alice', 'api', true],
        ['bob', 'api', true],
      ],
    );
  });

  test('a signed decision copied from one run into a rerun of the same pipeline is refused', async () => {
    const svc = service();
    const first = await startPipeline(world.client, svc);
    await waitForStatus(world.client, first.workflowId, waiting, 'the first run at the gate');
    assert.equal((await approveViaApi(first.workflowId, 'carol')).status, 200);
    // The signed decision as anyone with UI access can read it: the Update's input in the history.
    const accepted = (await first.fetchHistory()).events?.find((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
    const data =
      accepted?.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args?.payloads?.[0]?.data;
    const copied = JSON.parse(Buffer.from(data ?? []).toString('utf8')) as { attestation?: string; approver?: string };
    assert.match(copied.attestation ?? '', /^v2\./);
    assert.equal(copied.approver, 'carol');

    await first.terminate('rerun');
    const commit = first.workflowId.split('/')[2] as string;
    const rerun = await world.client.workflow.start(deliveryPipeline, {
      taskQueue: 'slipway',
      workflowId: first.workflowId,
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      args: [{ service: svc, commit, trigger: { kind: 'manual', user: 'test' } }],
    });
    await waitForStatus(world.client, rerun.workflowId, waiting, 'the rerun at the gate');
    const refusal = await refusedUpdate(rerun.workflowId, copied);
    assert.match(refusal, /attestation does not match this decision/);
    await rerun.terminate('test over');
  });
});

test('an expired or misbound signature does not verify', async () => {
  const env = { SLIPWAY_APPROVAL_KEY: 'k' };
  const claim = {
    workflowId: 'pipeline/a/b',
    runId: 'run-1',
    kind: 'approve' as const,
    environment: 'production',
    approver: 'alice',
  };
  const saved = process.env.SLIPWAY_APPROVAL_KEY;
  process.env.SLIPWAY_APPROVAL_KEY = 'k';
  try {
    assert.equal(await verifyDecisionAttestation({ ...claim, attestation: signDecision(claim, env) }), true);
    const expired = signDecision(claim, env, Date.now() - 11 * 60_000);
    assert.equal(await verifyDecisionAttestation({ ...claim, attestation: expired }), false, 'expired');
    const fresh = signDecision(claim, env);
    assert.equal(
      await verifyDecisionAttestation({ ...claim, runId: 'run-2', attestation: fresh }),
      false,
      'another run',
    );
    assert.equal(
      await verifyDecisionAttestation({ ...claim, approver: 'bob', attestation: fresh }),
      false,
      'another approver',
    );
  } finally {
    process.env.SLIPWAY_APPROVAL_KEY = saved;
  }
});
