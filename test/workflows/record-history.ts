// Records a workflow's history for replay.test.ts when SLIPWAY_RECORD_HISTORIES names a generation
// (docs/versioning.md); a no-op otherwise. Shared by the workflow test files that record scenarios.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { WorkflowHandle } from '@temporalio/client';

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
  const dir = path.join(__dirname, '..', 'histories');
  const file = path.join(dir, `${generation}-${name}.json`);
  if (existsSync(file))
    throw new Error(`${file} exists: recorded histories are kept as they are; record a new generation`);
  mkdirSync(dir, { recursive: true });
  // Workflow code reads its own ID, so the replay needs the original one beside the history.
  const history = JSON.parse(historyToJSON(await handle.fetchHistory())) as unknown;
  writeFileSync(file, JSON.stringify({ workflowId: handle.workflowId, history }, null, 1) + '\n');
}
