// Every way `slipway up` can end leaves no server behind: SIGINT, SIGHUP (terminal closed), a
// closed stdout/stderr with and without a signal (`npm start 2>&1 | tee log`, then Ctrl-C kills
// tee as well), an uncaught error. SIGTERM is covered in up.test.ts. What no handler sees (SIGKILL)
// is cleaned up by the next `up` from the recorded PIDs. Each run: own state folder, free ports,
// the Temporal dev server as the child process that must not survive.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../common/paths';
import { isPortOpen } from '../../dev/process';
import { until } from '../helpers/wait';
import { descendants, running, startUp, upPorts, type StartUpOptions, type UpRun } from '../helpers/up-process';

interface ReadyUp {
  run: UpRun;
  ports: Record<string, string>;
  /** The processes `up` started, seen while it was up. */
  tree: number[];
}

async function startReadyUp(env: NodeJS.ProcessEnv = {}, opts: StartUpOptions = {}): Promise<ReadyUp> {
  const ports = await upPorts();
  const run = startUp({ ...ports, SLIPWAY_DEMO: '0', ...env }, opts);
  await until(
    'slipway up to be ready',
    120_000,
    () => {
      if (run.child.exitCode !== null) throw new Error(`up exited (${run.child.exitCode}):\n${run.output()}`);
      return run.output().includes('Slipway is up.') ? true : undefined;
    },
    { failFast: true },
  );
  const tree = descendants(run.child.pid!);
  assert.ok(tree.some(running), `up runs the Temporal dev server as a child (${tree.join(', ')})`);
  return { run, ports, tree };
}

async function assertNothingLeft({ run, ports, tree }: ReadyUp): Promise<void> {
  await until('every process up started to end', 20_000, () => (tree.some(running) ? undefined : true));
  for (const port of Object.values(ports))
    await until(`port ${port} to be free`, 10_000, async () => ((await isPortOpen(Number(port))) ? undefined : true));
  for (const file of ['up.pid', 'up-processes.json', 'endpoints.json'])
    assert.ok(!existsSync(path.join(run.stateDir, file)), `${file} is removed`);
}

async function ends(up: ReadyUp, expectedCode: number): Promise<void> {
  try {
    assert.equal(await up.run.exited, expectedCode, up.run.output());
    await assertNothingLeft(up);
  } finally {
    if (up.run.child.exitCode === null) up.run.child.kill('SIGKILL');
  }
}

for (const signal of ['SIGINT', 'SIGHUP'] as const) {
  test(`${signal} stops everything up started`, async () => {
    const up = await startReadyUp();
    up.run.child.kill(signal);
    await ends(up, 0);
  });
}

/** What `| tee` does to `up` when Ctrl-C ends tee: nobody reads stdout or stderr any more. */
function closeOutput(run: UpRun): void {
  run.child.stdout!.destroy();
  run.child.stderr!.destroy();
}

test('Ctrl-C under `| tee` (output closed, then SIGINT, logging at info) stops everything', async () => {
  const up = await startReadyUp({ SLIPWAY_LOG_LEVEL: 'info' });
  closeOutput(up.run);
  up.run.child.kill('SIGINT');
  await ends(up, 0);
});

test('a closed stdout/stderr alone ends up at its next write, and it stops everything', async () => {
  const up = await startReadyUp({ SLIPWAY_LOG_LEVEL: 'info' });
  closeOutput(up.run);
  // A delivery for a project nobody configured: answered 200 and logged ("delivery ignored").
  const endpoints = JSON.parse(readFileSync(path.join(up.run.stateDir, 'endpoints.json'), 'utf8')) as {
    webhook: string;
  };
  const res = await fetch(endpoints.webhook, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-Gitlab-Event': 'Push Hook',
      'X-Gitlab-Token': readFileSync(path.join(up.run.stateDir, 'webhook-token'), 'utf8').trim(),
    },
    body: readFileSync(path.join(projectRoot, 'test', 'fixtures', 'gitlab', 'push-hook.json')),
  });
  assert.ok(res.status < 300, `the delivery was answered (${res.status})`);
  await ends(up, 1);
});

test('an uncaught error stops everything and exits non-zero', async () => {
  const fixture = path.join(projectRoot, 'test', 'fixtures', 'up', 'throw-on-trigger.mjs');
  const up = await startReadyUp({}, { nodeArgs: ['--import', fixture] });
  writeFileSync(path.join(up.run.stateDir, 'throw-now'), '');
  await until('up to end', 30_000, () => (up.run.child.exitCode !== null ? true : undefined));
  assert.match(up.run.output(), /an uncaught error planted by the exit-path test/);
  await ends(up, 1);
});

test('after SIGKILL of up, the next up stops the servers it left (recorded PIDs) and starts on the same ports', async () => {
  const first = await startReadyUp();
  first.run.child.kill('SIGKILL');
  await first.run.exited;
  const left = first.tree.filter(running);
  assert.ok(left.length > 0, 'SIGKILL left the Temporal dev server running (what this test is about)');
  assert.ok(await isPortOpen(Number(first.ports.TEMPORAL_PORT)), 'the leftover still holds the Temporal port');

  const second = startUp({ ...first.ports, SLIPWAY_DEMO: '0' }, { stateDir: first.run.stateDir });
  try {
    await until(
      'the second up to be ready',
      120_000,
      () => {
        if (second.child.exitCode !== null)
          throw new Error(`up exited (${second.child.exitCode}):\n${second.output()}`);
        return second.output().includes('Slipway is up.') ? true : undefined;
      },
      { failFast: true },
    );
    assert.match(
      second.output(),
      new RegExp(`stopped the Temporal dev server \\(pid ${left[0]}\\) that an earlier slipway up left running`),
    );
    assert.ok(!left.some(running), 'the leftovers are gone');
    const tree = descendants(second.child.pid!);
    second.child.kill('SIGTERM');
    await ends({ run: second, ports: first.ports, tree }, 0);
  } finally {
    if (second.child.exitCode === null) second.child.kill('SIGKILL');
  }
});
