// `slipway up --temporal postgres` as a user runs it: the stack on the production Temporal server
// with its own PostgreSQL in the state folder. The demo pipeline goes in through the webhook, is
// found by a visibility query on a Slipway search attribute (SQL visibility), and SIGTERM stops
// the server and PostgreSQL cleanly. Part of `npm run test:cluster`; the state folder is a fresh
// one that borrows the server binaries already built for this checkout (no second build).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { projectRoot } from '../../common/paths';
import { freePort, isPortOpen } from '../../dev/process';
import { parseTemporalKind } from '../../dev/temporal-kind';
import { ensureTemporalServerBinaries, temporalServerDir } from '../../dev/temporal-server-build';
import { registryAddress } from '../helpers/env';
import { until } from '../helpers/wait';

const kind = parseTemporalKind(process.env.SLIPWAY_TEST_TEMPORAL, 'SLIPWAY_TEST_TEMPORAL');

test(
  'up --temporal postgres runs the demo pipeline on PostgreSQL and SIGTERM stops the server and the database',
  { timeout: 300_000, skip: kind !== 'postgres' && 'runs in npm run test:cluster (SLIPWAY_TEST_TEMPORAL=postgres)' },
  async (t) => {
    await ensureTemporalServerBinaries();
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-up-postgres-'));
    t.after(() => rmSync(stateDir, { recursive: true, force: true }));
    chmodSync(stateDir, 0o755); // PostgreSQL's own account must reach temporal-cluster/pgdata inside
    mkdirSync(path.join(stateDir, 'tools'));
    symlinkSync(temporalServerDir(), path.join(stateDir, 'tools', path.basename(temporalServerDir())));

    const env = {
      TEMPORAL_PORT: String(await freePort()),
      SLIPWAY_MARATHON_PORT: String(await freePort()),
      SLIPWAY_WEBHOOK_PORT: String(await freePort()),
    };
    const clean = { ...process.env };
    for (const name of ['TEMPORAL_ADDRESS', 'MARATHON_URL', 'SLIPWAY_CONFIG_DIR']) delete clean[name];
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(projectRoot, 'client', 'cli.ts'), 'up', '--temporal', 'postgres'],
      {
        env: {
          ...clean,
          ...env,
          SLIPWAY_STATE_DIR: stateDir,
          SLIPWAY_REGISTRY: registryAddress(),
          SLIPWAY_MARATHON_MODE: 'simulated',
          SLIPWAY_LOG_LEVEL: 'warn',
        },
        cwd: projectRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    for (const stream of [child.stdout, child.stderr]) stream.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    t.after(() => void (child.exitCode === null && child.kill('SIGKILL')));

    const demoId = await until(
      'the demo pipeline of up --temporal postgres',
      180_000,
      () => {
        if (child.exitCode !== null) throw new Error(`up exited (${child.exitCode}):\n${output}`);
        return /Pipeline +(pipeline\/hello-node\/[0-9a-f]{40})/.exec(output)?.[1];
      },
      { failFast: true },
    );
    const endpoints = JSON.parse(readFileSync(path.join(stateDir, 'endpoints.json'), 'utf8')) as {
      temporalAddress: string;
      temporalUi?: string;
    };
    assert.equal(endpoints.temporalAddress, `127.0.0.1:${env.TEMPORAL_PORT}`);
    assert.equal(endpoints.temporalUi, undefined, 'the production server has no built-in Web UI');
    assert.ok(
      existsSync(path.join(stateDir, 'temporal-cluster', 'pgdata', 'PG_VERSION')),
      'PostgreSQL in the state folder',
    );

    const connection = await Connection.connect({ address: endpoints.temporalAddress });
    try {
      const client = new Client({ connection });
      const found = await until('the demo pipeline in SQL visibility by SlipwayService', 60_000, async () => {
        const page = client.workflow.list({ query: `SlipwayService = 'hello-node'` });
        for await (const wf of page) if (wf.workflowId === demoId) return wf;
        return undefined;
      });
      assert.equal(found.type, 'deliveryPipeline');
    } finally {
      await connection.close();
    }

    const pidFile = path.join(stateDir, 'temporal-cluster', 'pgdata', 'postmaster.pid');
    assert.ok(existsSync(pidFile), 'PostgreSQL runs');
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
    assert.ok(!existsSync(pidFile), 'PostgreSQL shut down cleanly (it removes postmaster.pid)');
    assert.ok(!(await isPortOpen(Number(env.TEMPORAL_PORT))), 'the Temporal server is gone');
  },
);
