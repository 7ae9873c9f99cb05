// A worker stopped while a pipeline waits out a freeze window, on the harness's real Temporal dev
// server (the time-skipping server cannot move a stopped worker's workflows to a new one): the
// frozen wait is a durable timer, so a new worker picks the pipeline up from its history and it
// goes on by itself when the window ends — with nobody sending anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { pipelineWorkflowId, type PipelineStatus } from '../../common/contract';
import type { FreezeWindowConfig } from '../../common/freeze-windows';
import { deliveryPipeline } from '../../workflows';
import { randomSha, startWorld, waitForStatus } from '../webhook/world';

test('a pipeline frozen when its worker stops goes on under a new worker when the window ends', async () => {
  // A window that began on the last whole minute and ends 40 s from now: time enough to reach
  // production on a busy machine.
  const start = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  const end = Date.now() + 40_000;
  const cron = `${start.getUTCMinutes()} ${start.getUTCHours()} ${start.getUTCDate()} ${start.getUTCMonth() + 1} *`;
  const windows: FreezeWindowConfig[] = [
    { cron, duration: `${Math.ceil((end - start.getTime()) / 1000)}s`, timezone: 'UTC', reason: 'restart drill' },
  ];
  const service = `frozen-${randomUUID().slice(0, 8)}`;
  const sha = randomSha();
  const workflowId = pipelineWorkflowId(service, sha);

  const first = await startWorld({ freezeWindows: windows, environments: [{ name: 'production' }] });
  await first.client.workflow.start(deliveryPipeline, {
    taskQueue: 'slipway',
    workflowId,
    args: [{ service, commit: sha, trigger: { kind: 'manual', user: 'carol' } }],
  });
  const frozen = await waitForStatus(first.client, workflowId, (s) => s.state === 'frozen', 'production to freeze');
  assert.ok(Date.parse(frozen.environments[0]?.freeze?.until ?? '') >= end - 1000);
  await first.stop([]);

  const second = await startWorld({ freezeWindows: windows, environments: [{ name: 'production' }] });
  try {
    const final = (await second.client.workflow.getHandle(workflowId).result()) as PipelineStatus;
    assert.equal(final.state, 'succeeded');
    assert.ok(Date.now() >= end - 1000, 'not before the window ended');
    assert.equal(final.environments[0]?.freeze?.reasons[0], 'restart drill');
    assert.deepEqual(
      second.fake.deploys.map((d) => d.environment),
      ['production'],
      'the new worker deployed it',
    );
  } finally {
    await second.stop([service]);
  }
});
