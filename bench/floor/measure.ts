// Per-step floor of the Temporal server under the benchmarks: a bare workflow of no-op activities
// on an in-process worker, read with the same history arithmetic as Slipway's pipelines.
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { readTimeline, stepOverheads } from '../history';

export async function measureFloor(client: Client, address: string, runs = 5, steps = 20): Promise<number[]> {
  const connection = await NativeConnection.connect({ address });
  const taskQueue = `bench-floor-${Date.now()}`;
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowsPath: require.resolve('./workflows'),
    activities: { noop: async () => undefined },
  });
  const perStep: number[] = [];
  try {
    await worker.runUntil(async () => {
      for (let i = 0; i <= runs; i++) {
        const workflowId = `${taskQueue}-${i}`;
        await client.workflow.execute('floorChain', { taskQueue, workflowId, args: [steps] });
        if (i > 0) perStep.push(...stepOverheads(await readTimeline(client, workflowId))); // run 0 warms up
      }
    });
  } finally {
    await connection.close();
  }
  return perStep;
}
