// Counting what was started, through Temporal visibility, without sleeping and hoping it caught up.
//
// Visibility is written moments after a start, from a queue that the dev server (one history
// shard) works through in the order the starts happened. So once the execution started last is
// listed, every execution started before it is listed too, and a count read then is final. A test
// that proves "nothing else was started" therefore ends with one start it knows is the last and
// lists once that one shows. (The server may write a few queued records in parallel; at worst
// that hides an extra start from one run of a test — a missed failure, never a false one.)
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { until } from './wait';

/** Executions `query` lists, read once `latest` (the execution started last) is among them. */
export async function listedOnceVisible(
  client: Client,
  query: string,
  latest: { workflowId: string; runId?: string },
  timeoutMs = 10_000,
): Promise<WorkflowExecutionInfo[]> {
  const isLatest = (e: WorkflowExecutionInfo) =>
    e.workflowId === latest.workflowId && (!latest.runId || e.runId === latest.runId);
  return await until(
    `${latest.workflowId} ${latest.runId ?? ''} to show in visibility for ${query}`,
    timeoutMs,
    async () => {
      const listed: WorkflowExecutionInfo[] = [];
      for await (const e of client.workflow.list({ query })) listed.push(e);
      return listed.some(isLatest) ? listed : undefined;
    },
  );
}

/**
 * Run IDs of one workflow ID in visibility. Temporal's describe names the latest run at once (it
 * is read from the workflow's own state, not from visibility); any other run of the ID started
 * before it, so the list is read once that latest run shows.
 */
export async function runsOf(client: Client, workflowId: string): Promise<string[]> {
  const { runId } = await client.workflow.getHandle(workflowId).describe();
  const listed = await listedOnceVisible(client, `WorkflowId = '${workflowId}'`, { workflowId, runId });
  return listed.map((e) => e.runId);
}
