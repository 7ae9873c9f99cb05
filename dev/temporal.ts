// The Temporal dev server of the local stack (`temporal server start-dev`): Web UI on, a persistent
// SQLite file in the state folder, Slipway's search attributes registered at start.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { logDir, stateDir, toolsBinDir } from '../common/paths';
import { slipwaySearchAttributes } from '../common/search-attributes';
import { isPortOpen, startProcess, waitUntil, type ManagedProcess } from './process';

function onPath(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The `temporal` CLI: TEMPORAL_CLI_PATH, then the one dev/setup.sh installed, then PATH. */
export function findTemporalCli(): string {
  const explicit = process.env.TEMPORAL_CLI_PATH;
  if (explicit && !existsSync(explicit)) {
    throw new Error(`TEMPORAL_CLI_PATH=${explicit} does not exist: point it at a temporal CLI binary or unset it`);
  }
  const candidates = [process.env.TEMPORAL_CLI_PATH, path.join(toolsBinDir, 'temporal'), onPath('temporal')];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found)
    throw new Error('no temporal CLI found: run `bash dev/setup.sh`, put `temporal` on PATH, or set TEMPORAL_CLI_PATH');
  return found;
}

/** The time-skipping test server used by workflow tests. */
export function findTemporalTestServer(): string {
  const candidates = [
    process.env.TEMPORAL_TEST_SERVER_PATH,
    path.join(toolsBinDir, 'temporal-test-server'),
    onPath('temporal-test-server'),
  ];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found)
    throw new Error(
      'no temporal-test-server found: run `bash dev/setup.sh --for-tests` or set TEMPORAL_TEST_SERVER_PATH',
    );
  return found;
}

/**
 * Dynamic config Slipway runs Temporal with, on the dev server and the PostgreSQL-backed one
 * alike: Updates on (approvals are validated Updates), no worker heartbeat RPCs, and one
 * partition per task queue (with few pollers, a task on a partition nobody polls waits to be
 * forwarded, which adds to every step).
 */
export const slipwayDynamicConfig: Record<string, boolean | number> = {
  'frontend.enableUpdateWorkflowExecution': true,
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted': true,
  'frontend.workerHeartbeatsEnabled': false,
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
};

export interface DevServerOptions {
  port: number;
  uiPort: number;
  /** SQLite file; undefined = in-memory (tests). */
  dbFile?: string;
  name?: string;
  onSpawn?: (pid: number) => void;
}

export interface DevServer {
  address: string;
  uiUrl: string;
  process: ManagedProcess;
}

export async function startTemporalDevServer(opts: DevServerOptions): Promise<DevServer> {
  const cli = findTemporalCli();
  for (const port of [opts.port, opts.uiPort]) {
    if (await isPortOpen(port)) {
      throw new Error(
        `port ${port} is already in use; stop what listens there or choose other ports (TEMPORAL_PORT / TEMPORAL_UI_PORT)`,
      );
    }
  }
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--ui-port',
    String(opts.uiPort),
  ];
  args.push('--log-format', 'json', '--log-level', 'warn');
  for (const [key, value] of Object.entries(slipwayDynamicConfig))
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  if (opts.dbFile)
    args.push(
      '--db-filename',
      opts.dbFile,
      '--sqlite-pragma',
      'journal_mode=wal',
      '--sqlite-pragma',
      'synchronous=normal',
    );
  for (const key of slipwaySearchAttributes) args.push('--search-attribute', `${key.name}=Keyword`);
  const proc = startProcess({
    name: opts.name ?? 'temporal',
    command: cli,
    args,
    logDir,
    cwd: stateDir,
    onSpawn: opts.onSpawn,
  });
  try {
    await waitUntil(`the Temporal dev server (${cli})`, () => isPortOpen(opts.port), {
      timeoutMs: 30_000,
      process: proc,
    });
    await waitUntil('the Temporal Web UI', () => isPortOpen(opts.uiPort), { timeoutMs: 30_000, process: proc });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { address: `127.0.0.1:${opts.port}`, uiUrl: `http://127.0.0.1:${opts.uiPort}`, process: proc };
}
