// Everything a workflow's history holds, as text: every run of each workflow ID (lanes continue as
// new), every string and every payload decoded. Used to prove that no secret ever reached Temporal.
import type { Client } from '@temporalio/client';

function collect(value: unknown, out: string[]): void {
  if (value === null || value === undefined) return;
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) {
    out.push(Buffer.from(value).toString('utf8'));
    out.push(Buffer.from(value).toString('base64'));
  } else if (Array.isArray(value)) for (const v of value) collect(v, out);
  else if (typeof value === 'object') for (const v of Object.values(value)) collect(v, out);
}

/** All text of all runs of the given workflow IDs, with the number of events read. */
export async function historiesText(client: Client, workflowIds: string[]): Promise<{ text: string; events: number }> {
  const out: string[] = [];
  let events = 0;
  for (const workflowId of workflowIds) {
    for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      const history = await client.workflow.getHandle(workflowId, execution.runId).fetchHistory();
      events += history.events?.length ?? 0;
      collect(history.events, out);
    }
  }
  return { text: out.join('\n'), events };
}
