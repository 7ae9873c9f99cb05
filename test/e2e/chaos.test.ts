// The short chaos run in `npm test`: three pipelines (own services, so each must succeed) on the
// real stack while the build worker and then the deploy worker are SIGKILLed and restarted. No
// duplicate deployment, no lost approval, every pipeline completes. `npm run chaos` runs the
// long version (test/chaos/run.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quietTemporalRuntime } from '../helpers/runtime';
import { chaosProblems, formatChaosReport, runChaos } from '../chaos/chaos';

quietTemporalRuntime();

test('three pipelines survive SIGKILLs of the build and deploy workers', { timeout: 420_000 }, async () => {
  const seed = Number(process.env.SLIPWAY_CHAOS_SEED ?? 7);
  const report = await runChaos({
    pipelines: 3,
    seed,
    maxKills: 3,
    firstKills: ['build', 'deploy', 'deploy'],
    killEveryMs: [4_000, 12_000],
    downMs: [500, 3_000],
    startEveryMs: [500, 2_000],
    timeoutMs: 360_000,
  });
  console.log(formatChaosReport(report));
  assert.ok(report.kills.length >= 2, `at least two kills happened while pipelines ran: ${report.kills.length}`);
  assert.deepEqual(chaosProblems(report), []);
  assert.equal(report.completed, 3);
});
