// Durability proof on real parts: the Temporal server itself goes away in the middle of a pipeline
// (stopped while `test` waits for health) and comes back on the same ports with the same data —
// the dev server's SQLite file, or under SLIPWAY_TEST_TEMPORAL=postgres the production server's
// process on the PostgreSQL that stays up. Workers and clients reconnect by themselves and the
// pipeline completes, with exactly one deploying PUT per environment in the emulator's request log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../dev/process';
import { parseTemporalKind, startTemporal } from '../../dev/temporal-kind';
import { startStack } from '../helpers/stack';
import { quietTemporalRuntime } from '../helpers/runtime';
import {
  approveAndFinish,
  commitSlowToBecomeHealthy,
  runPipeline,
  sleep,
  stopStack,
  waitUntilHealthWaitRuns,
} from '../chaos/driver';

quietTemporalRuntime();

test(
  'a pipeline survives a restart of the Temporal server during the health wait of test',
  { timeout: 420_000 },
  async (t) => {
    const kind = parseTemporalKind(process.env.SLIPWAY_TEST_TEMPORAL, 'SLIPWAY_TEST_TEMPORAL');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-temporal-restart-'));
    const server = await startTemporal(kind, {
      port: await freePort(),
      uiPort: await freePort(),
      // The postgres kind keeps its cluster in a temporary folder of its own (removed by stop()).
      dataPath: kind === 'dev' ? path.join(dir, 'temporal.db') : undefined,
      name: 'temporal-restart',
    });
    t.after(async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    const stack = await startStack({
      marathonMode: 'containers',
      example: 'hello-node',
      healthTimeout: '240s',
      temporalAddress: server.address,
    });
    t.after(() => stopStack(stack));
    const workers = [stack.startWorker('deploy'), stack.startWorker('build')];
    const commit = commitSlowToBecomeHealthy(stack);
    const started = Date.now();
    const id = await runPipeline(stack.client, stack.service, commit);
    await waitUntilHealthWaitRuns(stack, id);

    const stoppedAt = Date.now();
    await server.stopServer();
    await sleep(10_000); // longer than one poll retry, so the workers see the outage
    await server.startServer();
    const downMs = Date.now() - stoppedAt;

    await approveAndFinish(stack, id);
    // The workers that were running before the restart did the work: none died or was restarted.
    assert.deepEqual(
      workers.map((w) => w.exitCode ?? w.signalCode),
      [null, null],
    );
    console.log(
      `[temporal-restart] ${kind} server down ${(downMs / 1000).toFixed(1)} s (stopped ${Math.round((stoppedAt - started) / 1000)} s in), pipeline done after ${Math.round((Date.now() - started) / 1000)} s`,
    );
  },
);
