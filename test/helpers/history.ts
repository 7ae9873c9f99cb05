// Everything a workflow's history holds, as text: every run of each workflow ID (lanes continue as
// new), every string and every payload decoded. Used to prove that no secret ever reached Temporal.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { projectRoot } from '../../common/paths';

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

/**
 * `SLIPWAY_RECORD_HISTORIES=v4 npm test -- test/workflows/pipeline` records this file's scenarios
 * as test/histories/v4-*.json for replay.test.ts. Recorded histories are never overwritten: each
 * generation of workflow code adds its own (docs/versioning.md).
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  const generation = process.env.SLIPWAY_RECORD_HISTORIES;
  if (!generation) return;
  // A feature branch records its own generation (v6-verify) so parallel branches never collide.
  if (!/^v\d+(-[a-z]+)?$/.test(generation))
    throw new Error(`SLIPWAY_RECORD_HISTORIES=${generation}: expected a generation like v4 or v6-verify`);
  const dir = path.join(projectRoot, 'test', 'histories');
  const file = path.join(dir, `${generation}-${name}.json`);
  if (existsSync(file))
    throw new Error(`${file} exists: recorded histories are kept as they are; record a new generation`);
  mkdirSync(dir, { recursive: true });
  // Workflow code reads its own ID, so the replay needs the original one beside the history.
  const history = JSON.parse(historyToJSON(await handle.fetchHistory())) as unknown;
  writeFileSync(file, JSON.stringify({ workflowId: handle.workflowId, history }, null, 1) + '\n');
}
