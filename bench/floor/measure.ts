// The floors of the Temporal server under the benchmarks, measured with bare workflows
// (workflows.ts) on an in-process worker: per step (read with the same history arithmetic as
// Slipway's pipelines) and for N workflows released at once from a gate.
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { ServiceAttribute } from '../../common/search-attributes';
import { readTimeline, stepOverheads } from '../history';
import { until } from '../../test/helpers/wait';
import { inParallel } from '../stats';

async function withFloorWorker<T>(address: string, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const connection = await NativeConnection.connect({ address });
  const taskQueue = `bench-floor-${Date.now()}`;
  try {
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowsPath: require.resolve('./workflows'),
      activities: { noop: async () => undefined },
      maxConcurrentWorkflowTaskExecutions: 100,
      maxConcurrentActivityTaskExecutions: 200,
    });
    return await worker.runUntil(() => fn(taskQueue));
  } finally {
    await connection.close();
  }
}

export function measureFloor(client: Client, address: string, runs = 5, steps = 20): Promise<number[]> {
  return withFloorWorker(address, async (taskQueue) => {
    const perStep: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const workflowId = `${taskQueue}-${i}`;
      await client.workflow.execute('floorChain', { taskQueue, workflowId, args: [steps] });
      if (i > 0) perStep.push(...stepOverheads(await readTimeline(client, workflowId))); // run 0 warms up
    }
    return perStep;
  });
}

/** Whether visibility counted `target` for `query` in time; a shortfall is reported, not thrown. */
export async function waitForCount(
  client: Client,
  what: string,
  query: string,
  target: number,
  timeoutMs: number,
): Promise<boolean> {
  let n = 0;
  try {
    return await until(
      () => `${what}: ${n} of ${target}`,
      timeoutMs,
      async () => {
        n = (await client.workflow.count(query)).count;
        return n >= target ? true : undefined;
      },
      { intervalMs: 250 },
    );
  } catch (err) {
    console.log(`[bench] ${(err as Error).message}`);
    return false;
  }
}

/**
 * `count` bare workflows brought to a gate, then all released by Signal (100 in flight): the time
 * from the first Signal until visibility counts all completed (NaN if not within the timeout).
 */
export function measureGateFloor(client: Client, address: string, count: number, runId: string): Promise<number> {
  return withFloorWorker(address, async (taskQueue) => {
    const tag = `floor-gate-${runId}`;
    const handles = await inParallel(
      Array.from({ length: count }, (_, i) => i),
      50,
      (i) =>
        client.workflow.start('floorGate', {
          taskQueue,
          workflowId: `${tag}-${i}`,
          args: [2],
          typedSearchAttributes: [{ key: ServiceAttribute, value: tag }],
        }),
    );
    const ofThisRun = `WorkflowType = 'floorGate' AND SlipwayService = '${tag}'`;
    await waitForCount(
      client,
      'the gated workflows to wait',
      `${ofThisRun} AND SlipwayState = 'waiting-approval'`,
      count,
      10 * 60_000,
    );
    const released = Date.now();
    await inParallel(handles, 100, (h) => h.signal('openGate'));
    const done = await waitForCount(
      client,
      'the gated workflows to finish',
      `${ofThisRun} AND ExecutionStatus = 'Completed'`,
      count,
      10 * 60_000,
    );
    return done ? Date.now() - released : NaN;
  });
}
