// Freeze windows on Temporal's time-skipping test server (the outside world faked as in
// pipeline.test.ts; the freeze check is the real one over windows the test sets as the worker's
// config): a pipeline reaching a frozen environment waits "frozen" on a durable timer and goes on
// by itself when the window ends; a window added while it waits holds it again; an approver's
// override with a reason lets it through, anyone else's is refused and recorded; a history
// recorded while frozen replays; no freeze config, no new step in history.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { until } from '../helpers/wait';
import { startTimeSkippingWorld, waitForPipeline, type TimeSkippingWorld } from './time-skipping-world';
import { recordHistory } from './record-history';
import {
  approveUpdate,
  overrideFreezeSignal,
  overrideFreezeUpdate,
  pipelineWorkflowId,
  type PipelineStatus,
} from '../../common/contract';
import type { FreezeWindowConfig } from '../../common/freeze-windows';
import { deliveryPipeline } from '../../workflows';

/** Its client never skips time by itself (see time-skipping-world.ts): time moves only through env.sleep. */
let ts: TimeSkippingWorld;
const freezeWindows: FreezeWindowConfig[] = [];
before(async () => void (ts = await startTimeSkippingWorld({ freezeWindows, healthDelayMs: 20 })));
after(() => ts?.stop());

const commit = () => randomUUID().replace(/-/g, '').slice(0, 40).padEnd(40, 'a');

async function start(service: string): Promise<WorkflowHandle> {
  const sha = commit();
  return ts.client.workflow.start(deliveryPipeline, {
    taskQueue: 'slipway',
    workflowId: pipelineWorkflowId(service, sha),
    args: [
      {
        service,
        commit: sha,
        ref: 'refs/heads/main',
        trigger: { kind: 'gitlab-push', project: `group/${service}`, user: 'carol' },
        author: { username: 'carol' },
      },
    ],
  });
}

const waitFor = waitForPipeline;

/** A window that began on the last whole minute of the server's clock and lasts `hours`. */
async function windowFromNow(hours: number, reason: string): Promise<FreezeWindowConfig & { end: number }> {
  const now = await serverNow();
  const start = new Date(Math.floor(now / 60_000) * 60_000);
  const cron = `${start.getUTCMinutes()} ${start.getUTCHours()} ${start.getUTCDate()} ${start.getUTCMonth() + 1} *`;
  return {
    cron,
    duration: `${hours}h`,
    timezone: 'UTC',
    environments: ['production'],
    reason,
    end: start.getTime() + hours * 3600_000,
  };
}

/** The test server's clock (it runs ahead of the wall clock once time was skipped). */
async function serverNow(): Promise<number> {
  const { time } = await (
    ts.env.connection.testService as NonNullable<typeof ts.env.connection.testService>
  ).getCurrentTime({});
  return Number(time?.seconds ?? 0) * 1000 + Math.floor((time?.nanos ?? 0) / 1e6);
}

/** The history with every payload decoded, to look for steps and patch markers by name. */
async function historyText(handle: WorkflowHandle): Promise<string> {
  const history = await handle.fetchHistory();
  const decode = (key: string, v: unknown) =>
    v instanceof Uint8Array
      ? Buffer.from(v).toString('utf8')
      : key === 'data' && typeof v === 'string'
        ? Buffer.from(v, 'base64').toString('utf8')
        : v;
  return JSON.stringify(history, decode);
}

const frozenAt = (s: PipelineStatus) => s.environments.find((e) => e.name === 'production')?.state === 'frozen';
const productionOf = (s: PipelineStatus) => s.environments.find((e) => e.name === 'production');
const freezeStatuses = (sha: string) =>
  ts.world.commitStatuses.filter((c) => c.sha === sha && c.name === 'slipway freeze: production');

describe('freeze windows', { timeout: 90_000 }, () => {
  test('a pipeline reaching a frozen environment waits frozen and goes on by itself when the window ends', async () => {
    const window = await windowFromNow(3, 'release freeze');
    freezeWindows.splice(0, freezeWindows.length, window);
    const handle = await start(`frozen-${randomUUID().slice(0, 8)}`);
    const sha = handle.workflowId.split('/')[2] as string;
    const frozen = await waitFor(handle, frozenAt, 'production to be frozen');
    assert.equal(frozen.state, 'frozen');
    assert.deepEqual(
      frozen.environments.map((e) => e.state),
      ['healthy', 'healthy', 'frozen'],
      'the environments before production were not frozen',
    );
    const freeze = productionOf(frozen)?.freeze;
    assert.equal(freeze?.until, new Date(window.end).toISOString());
    assert.deepEqual(freeze?.reasons, ['release freeze']);
    assert.equal(productionOf(frozen)?.approval?.waitingSince, undefined, 'the approval gate waits for the freeze');
    await until('GitLab to hear of the freeze', 10_000, () => freezeStatuses(sha)[0]);
    assert.equal(freezeStatuses(sha)[0]?.state, 'pending');
    assert.match(
      freezeStatuses(sha)[0]?.description ?? '',
      /^production frozen until \d{4}-\d\d-\d\d \d\d:\d\d UTC \(release freeze\)$/,
    );

    await ts.env.sleep('3h');
    const gate = await waitFor(
      handle,
      (s) => productionOf(s)?.state === 'waiting-approval',
      'the gate after the freeze',
    );
    assert.equal(productionOf(gate)?.freeze?.until, freeze?.until, 'the freeze stays on record');
    await until('GitLab to hear the freeze is over', 10_000, () => freezeStatuses(sha)[1]);
    assert.deepEqual(
      freezeStatuses(sha).map((c) => [c.state, c.description]),
      [
        ['pending', freezeStatuses(sha)[0]?.description],
        ['success', 'freeze over'],
      ],
    );
    await handle.executeUpdate(approveUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
    assert.equal(((await handle.result()) as PipelineStatus).state, 'succeeded');
    const text = await historyText(handle);
    assert.match(text, /freeze-windows/, 'the patch marker');
    assert.equal(
      text.match(/checkFreeze/g)?.length,
      5,
      'checked before test, integration and production, after the timer and after the approval',
    );
    await recordHistory(handle, 'pipeline-freeze-window-ends');
  });

  test('a window added while frozen holds it again; refused overrides are recorded; an approver with a reason lets it through', async () => {
    const first = await windowFromNow(2, 'release freeze');
    freezeWindows.splice(0, freezeWindows.length, first);
    const handle = await start(`frozen-${randomUUID().slice(0, 8)}`);
    await waitFor(handle, frozenAt, 'production to be frozen');
    // The config changes while the pipeline waits: a maintenance window follows the first.
    const endHour = new Date(first.end);
    const second = {
      cron: `${endHour.getUTCMinutes()} ${endHour.getUTCHours()} ${endHour.getUTCDate()} ${endHour.getUTCMonth() + 1} *`,
      duration: '5h',
      timezone: 'UTC',
      reason: 'maintenance',
    };
    freezeWindows.push(second);
    await ts.env.sleep('2h');
    const again = await waitFor(
      handle,
      (s) => productionOf(s)?.freeze?.reasons.includes('maintenance') === true,
      'the re-check to find the second window',
    );
    assert.equal(again.state, 'frozen');
    assert.equal(productionOf(again)?.freeze?.until, new Date(first.end + 5 * 3600_000).toISOString());

    const refused = async (request: { environment: string; approver: string; reason?: string }, pattern: RegExp) => {
      await assert.rejects(handle.executeUpdate(overrideFreezeUpdate, { args: [request as never] }), (err: unknown) => {
        assert.ok(err instanceof WorkflowUpdateFailedError, `expected WorkflowUpdateFailedError, got ${String(err)}`);
        assert.match(String((err.cause as Error)?.message), pattern);
        return true;
      });
    };
    await refused(
      { environment: 'production', approver: 'mallory', reason: 'I want it' },
      /mallory may not decide for production: approvers are alice, bob/,
    );
    await refused(
      { environment: 'production', approver: 'alice' },
      /expected "reason": why production's freeze \(maintenance\) may be broken/,
    );
    await refused(
      { environment: 'test', approver: 'alice', reason: 'x' },
      /test is not frozen \(it is healthy\); production is/,
    );
    await handle.signal(overrideFreezeSignal, { environment: 'production', approver: 'mallory', reason: 'by signal' });
    const recorded = await waitFor(handle, (s) => s.freezeOverrides?.length === 4, 'four refused overrides on record');
    assert.ok(recorded.freezeOverrides?.every((o) => !o.accepted && o.refusal));
    assert.equal(recorded.state, 'frozen');

    const accepted = await handle.executeUpdate(overrideFreezeUpdate, {
      args: [{ environment: 'production', approver: 'bob', reason: 'hotfix for the checkout outage' }],
    });
    assert.equal(accepted.accepted, true);
    const gate = await waitFor(
      handle,
      (s) => productionOf(s)?.state === 'waiting-approval',
      'the gate after the override',
    );
    assert.deepEqual(
      [productionOf(gate)?.freeze?.overriddenBy, productionOf(gate)?.freeze?.overrideReason],
      ['bob', 'hotfix for the checkout outage'],
    );
    // The approval comes during the freeze: the override holds for the rest of this pipeline.
    await handle.executeUpdate(approveUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
    const final = (await handle.result()) as PipelineStatus;
    assert.equal(final.state, 'succeeded');
    assert.equal(ts.world.deploys.filter((d) => d.pipelineId === handle.workflowId).at(-1)?.environment, 'production');
    await recordHistory(handle, 'pipeline-freeze-overridden');
  });

  test('a history recorded while frozen replays (as a new worker replays it after a crash); the pipeline goes on after the window', async () => {
    const window = await windowFromNow(4, 'release freeze');
    freezeWindows.splice(0, freezeWindows.length, window);
    const handle = await start(`frozen-${randomUUID().slice(0, 8)}`);
    await waitFor(handle, frozenAt, 'production to be frozen');
    // The history as it stands while frozen replays through today's code.
    await Worker.runReplayHistory(
      { workflowsPath: require.resolve('../../workflows') },
      await handle.fetchHistory(),
      handle.workflowId,
    );
    await ts.env.sleep('4h');
    await waitFor(handle, (s) => productionOf(s)?.state === 'waiting-approval', 'the gate after the window');
    await handle.executeUpdate(approveUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
    assert.equal(((await handle.result()) as PipelineStatus).state, 'succeeded');
  });

  test('without freeze config a pipeline records no freeze step', async () => {
    freezeWindows.splice(0, freezeWindows.length, await windowFromNow(3, 'release freeze'));
    const handle = await start(`plain-${randomUUID().slice(0, 8)}`);
    const gate = await waitFor(handle, (s) => productionOf(s)?.state === 'waiting-approval', 'the production gate');
    assert.equal(gate.state, 'waiting-approval', 'not frozen: its config (plan) has no freeze');
    await handle.executeUpdate(approveUpdate, { args: [{ environment: 'production', approver: 'alice' }] });
    await handle.result();
    const text = await historyText(handle);
    assert.doesNotMatch(text, /checkFreeze/);
    assert.doesNotMatch(text, /freeze-windows/);
  });
});
