// Driving whole pipelines on the real stack (test/helpers/stack.ts) the way people do — start one,
// follow its `status` query, approve production through the validated Update — and reading the
// Marathon emulator's request log back, so the durability proofs and the chaos run can count
// deploys. Every wait is bounded and says what it waited for.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { RequestRecord } from '../../dev/marathon-emulator';
import type { Stack } from '../helpers/stack';
import { until } from '../helpers/wait';
import type { PipelineStatus } from '../../common/contract';
import { sendDecision, startPipeline } from '../../client/pipelines';
import { queryStatus, waitForStatus } from '../helpers/status';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts the pipeline of (service, commit) as `slipway run` would; fails if it already existed. */
export async function runPipeline(client: Client, service: string, commit: string): Promise<string> {
  const started = await startPipeline(client, {
    service,
    commit,
    ref: 'refs/heads/main',
    trigger: { kind: 'manual', user: 'e2e' },
    author: { name: 'Carol', email: 'carol@example.com' },
  });
  if (started.deduplicated) throw new Error(`a pipeline for ${service}@${commit} already existed`);
  return started.workflowId;
}

/** Shared with the webhook world's tests: see test/helpers/status.ts. */
export { queryStatus, waitForStatus };

export const productionWaits = (s: PipelineStatus) =>
  s.environments.some((e) => e.name === 'production' && e.state === 'waiting-approval');

export type ApprovalResult = { accepted: true; attempts: number } | { accepted: false; reason: string };

/**
 * Approves production through the validated Update, retrying while workers or the server are away
 * (an Update needs a worker to accept it). A refusal after an earlier attempt may mean that
 * attempt got through unseen: the pipeline's own decision record settles it.
 */
export async function approveProduction(
  client: Client,
  workflowId: string,
  timeoutMs: number,
  approver = 'alice',
): Promise<ApprovalResult> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (let attempt = 1; Date.now() < deadline; attempt++) {
    try {
      const outcome = await client.connection.withDeadline(Date.now() + 20_000, () =>
        sendDecision(client, workflowId, 'approve', { environment: 'production', approver, comment: 'chaos' }),
      );
      if (outcome.ok) return { accepted: true, attempts: attempt };
      const status = await queryStatus(client, workflowId, 10_000);
      if (status?.decisions.some((d) => d.kind === 'approve' && d.environment === 'production' && d.accepted))
        return { accepted: true, attempts: attempt };
      return { accepted: false, reason: outcome.reason };
    } catch (err) {
      lastError = (err as Error).message;
    }
    await sleep(1000); // paces the retries while the server or the workers are away
  }
  return { accepted: false, reason: `no answer within ${timeoutMs / 1000} s: ${lastError}` };
}

/** The pipeline's final status: its result when it completed, else its last answer to `status`. */
export async function finalStatus(client: Client, workflowId: string): Promise<PipelineStatus> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    return (await handle.result()) as PipelineStatus;
  } catch (err) {
    const status = await queryStatus(client, workflowId, 30_000);
    if (status) return status;
    throw err;
  }
}

/** Marathon app writes that deployed `image` for `pipelineId` (accepted PUT/POST on /v2/apps). */
export function deployingWrites(requests: RequestRecord[], pipelineId: string, image: string): RequestRecord[] {
  return requests.filter(
    (r) =>
      (r.method === 'PUT' || r.method === 'POST') &&
      r.path.startsWith('/v2/apps') &&
      r.status >= 200 &&
      r.status < 300 &&
      r.image === image &&
      r.pipelineId === pipelineId,
  );
}

/** For each environment of the pipeline: how many accepted app writes deployed its image there. */
export function deploysPerEnvironment(requests: RequestRecord[], status: PipelineStatus): Record<string, number> {
  const image = status.image ?? status.build.digestRef;
  if (!image) throw new Error(`${status.workflowId} has no image: it never finished its build`);
  const writes = deployingWrites(requests, status.workflowId, image);
  return Object.fromEntries(
    status.environments.map((e) => [e.name, writes.filter((w) => w.appId === absolute(e.appId)).length]),
  );
}

const absolute = (appId: string) => '/' + appId.replace(/^\/+/, '');

/** Attempt numbers of each completed (or failed) activity of `type` in a workflow's history. */
export async function activityAttempts(handle: WorkflowHandle, type: string): Promise<number[]> {
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, string>();
  const attempts: number[] = [];
  for (const event of history.events ?? []) {
    const id = String(event.eventId);
    if (event.activityTaskScheduledEventAttributes?.activityType?.name)
      scheduled.set(id, event.activityTaskScheduledEventAttributes.activityType.name);
    const started = event.activityTaskStartedEventAttributes;
    if (started && scheduled.get(String(started.scheduledEventId)) === type) attempts.push(started.attempt ?? 1);
  }
  return attempts;
}

/** Pending activities of a running workflow (from describe), e.g. to see that a build runs. */
export async function pendingActivities(
  handle: WorkflowHandle,
): Promise<{ type: string; state: string; attempt: number; heartbeats: boolean }[]> {
  const d = await handle.describe();
  return (d.raw.pendingActivities ?? []).map((a) => ({
    type: a.activityType?.name ?? '',
    state: temporal.api.enums.v1.PendingActivityState[a.state ?? 0] ?? String(a.state),
    attempt: a.attempt ?? 1,
    heartbeats: !!a.lastHeartbeatTime,
  }));
}

/**
 * Waits until Temporal has given up on the running attempt of an activity of `type` (its
 * heartbeat or start-to-close timeout fired) and scheduled the next one: attempt 2 or later.
 */
export async function waitForRetry(
  handle: WorkflowHandle,
  type: string,
  what: string,
  timeoutMs: number,
): Promise<void> {
  await until(what, timeoutMs, async () =>
    (await pendingActivities(handle)).some((a) => a.type === type && a.attempt > 1) ? true : undefined,
  );
}

/** Stops the stack after terminating what its services left running (lanes live on otherwise). */
export async function stopStack(stack: Stack): Promise<void> {
  const services = stack.services.map((s) => `SlipwayService = '${s}' OR WorkflowId STARTS_WITH 'lane/${s}/'`);
  try {
    for await (const info of stack.client.workflow.list({
      query: `(${services.join(' OR ')}) AND ExecutionStatus = 'Running'`,
    })) {
      await stack.client.workflow
        .getHandle(info.workflowId)
        .terminate('test over')
        .catch(() => undefined);
    }
  } catch {
    // Best effort: the server may already be gone.
  }
  await stack.stop();
}

/**
 * Commits hello-node answering /health with 503 for its first 12 s (inside the stack's 15 s grace
 * period): a health wait long enough to interrupt. The marker makes the image new to the cache.
 */
export function commitSlowToBecomeHealthy(stack: Stack): string {
  return stack.commit('slow to become healthy', (dir) => {
    const file = path.join(dir, 'src', 'server.js');
    const source = readFileSync(file, 'utf8').replace(
      "if (path === '/health') return send(res, 200, { status: 'ok' });",
      "if (path === '/health') return Date.now() - startedAt < 12000 ? send(res, 503, { status: 'starting' }) : send(res, 200, { status: 'ok' });",
    );
    assert.match(source, /status: 'starting'/, 'the example server changed: update this test edit');
    writeFileSync(file, `${source}// ${randomUUID()}\n`);
  });
}

/** Returns once test's deploy is in Marathon and the lane's awaitHealthy polls the emulator. */
export async function waitUntilHealthWaitRuns(stack: Stack, workflowId: string): Promise<void> {
  const deploying = await waitForStatus(
    stack.client,
    workflowId,
    (s) => s.environments.some((e) => e.name === 'test' && e.state === 'deploying' && !!e.deploymentId),
    'test to be deploying with a Marathon deployment id',
    240_000,
  );
  const putAt = await until('the deploying PUT of test in the request log', 30_000, () =>
    stack.emulator
      .requests()
      .find((r) => r.method === 'PUT' && r.pipelineId === workflowId && r.image === deploying.image && r.status < 300),
  );
  // awaitHealthy polls /v2/deployments; seeing that after our PUT means the wait is running.
  await until('awaitHealthy polling the emulator', 30_000, () =>
    stack.emulator.requests().some((r) => r.path === '/v2/deployments' && r.method === 'GET' && r.time > putAt.time)
      ? true
      : undefined,
  );
}

/** The pipeline succeeded, and test, integration and production all ended healthy. */
export function assertDeliveredEverywhere(status: PipelineStatus): void {
  assert.equal(status.state, 'succeeded', JSON.stringify(status));
  assert.deepEqual(
    status.environments.map((e) => [e.name, e.state]),
    [
      ['test', 'healthy'],
      ['integration', 'healthy'],
      ['production', 'healthy'],
    ],
  );
}

/**
 * Approves production once it waits, and checks the end: the pipeline succeeded, every
 * environment is healthy, and each got exactly one deploying PUT for the pipeline's image.
 */
export async function approveAndFinish(stack: Stack, workflowId: string): Promise<PipelineStatus> {
  await waitForStatus(stack.client, workflowId, productionWaits, 'production to wait for approval', 300_000);
  const approval = await approveProduction(stack.client, workflowId, 60_000);
  assert.equal(approval.accepted, true, JSON.stringify(approval));
  const status = await finalStatus(stack.client, workflowId);
  assertDeliveredEverywhere(status);
  assert.deepEqual(deploysPerEnvironment(stack.emulator.requests(), status), {
    test: 1,
    integration: 1,
    production: 1,
  });
  return status;
}
