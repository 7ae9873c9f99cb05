// Replays committed histories (test/histories/*.json) against today's workflow code: a change that
// would break pipelines already running in production fails here, in CI, not in a worker.
// Each generation of workflow code adds its own (`SLIPWAY_RECORD_HISTORIES=vN npm test --
// test/workflows/pipeline`); older generations stay, so the branches that workflows started on
// older code take stay proven. docs/versioning.md lists the generations and the patches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { quietTemporalRuntime } from '../helpers/runtime';

quietTemporalRuntime();

test('committed workflow histories replay without nondeterminism', async () => {
  const dir = path.join(__dirname, '..', 'histories');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 10, `expected committed histories in ${dir}, found ${files.length}`);
  const histories = files.map((f) => {
    const saved = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { workflowId: string; history: unknown };
    return { workflowId: saved.workflowId, history: historyFromJSON(saved.history) };
  });
  const results = Worker.runReplayHistories({ workflowsPath: require.resolve('../../workflows') }, histories);
  let replayed = 0;
  for await (const result of results) {
    assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
    replayed++;
  }
  assert.equal(replayed, files.length);
});
