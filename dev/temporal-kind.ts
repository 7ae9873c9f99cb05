// One handle over the two Temporal servers Slipway can run on this machine, so the test harness,
// the benchmarks, a restart test and `slipway up` start either the same way:
//  - `dev`: `temporal server start-dev` (SQLite, Web UI), the default;
//  - `postgres`: the production server on PostgreSQL (temporal-cluster.ts), no Web UI.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTemporalDevServer, type DevServer } from './temporal';
import { startTemporalCluster } from './temporal-cluster';

export const temporalKinds = ['dev', 'postgres'] as const;
export type TemporalKind = (typeof temporalKinds)[number];

/** Validates a kind given by a flag or variable (`where` names it in the error). */
export function parseTemporalKind(value: string | undefined, where: string): TemporalKind {
  if (value === undefined || value === '') return 'dev';
  if ((temporalKinds as readonly string[]).includes(value)) return value as TemporalKind;
  throw new Error(`${where} is '${value}': expected one of ${temporalKinds.join(', ')}`);
}

export interface TemporalServerOptions {
  port: number;
  /** Dev server only: its Web UI port. */
  uiPort?: number;
  /**
   * Where the data lives: the dev server's SQLite file (in-memory when undefined), the postgres
   * cluster's folder (a temporary one, removed by stop(), when undefined).
   */
  dataPath?: string;
  name: string;
  /** Told each server process's PID as it starts (what `slipway up` records to clean up after a crash). */
  onSpawn?: (pid: number) => void;
}

export interface RunningTemporal {
  kind: TemporalKind;
  address: string;
  uiUrl?: string;
  /** PID of the server process now (for its memory); changes after startServer(). */
  serverPid(): number;
  /** Stops the server process only; its data (SQLite file, PostgreSQL) stays. */
  stopServer(): Promise<void>;
  /** Starts the server process again on the same address with the same data. */
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

async function startDev(opts: TemporalServerOptions): Promise<RunningTemporal> {
  const start = () =>
    startTemporalDevServer({
      port: opts.port,
      uiPort: opts.uiPort!,
      dbFile: opts.dataPath,
      name: opts.name,
      onSpawn: opts.onSpawn,
    });
  let server: DevServer | undefined = await start();
  return {
    kind: 'dev',
    address: server.address,
    uiUrl: server.uiUrl,
    serverPid: () => server!.process.child.pid!,
    stopServer: async () => {
      await server?.process.stop();
      server = undefined;
    },
    startServer: async () => {
      server = await start();
    },
    stop: async () => {
      await server?.process.stop();
      server = undefined;
    },
  };
}

async function startPostgresBacked(opts: TemporalServerOptions): Promise<RunningTemporal> {
  const dir = opts.dataPath ?? mkdtempSync(path.join(os.tmpdir(), `slipway-${opts.name}-`));
  const temporary = opts.dataPath === undefined;
  try {
    const cluster = await startTemporalCluster({ dir, port: opts.port, name: opts.name });
    return {
      kind: 'postgres',
      address: cluster.address,
      serverPid: () => cluster.server().child.pid!,
      stopServer: () => cluster.stopServer(),
      startServer: () => cluster.startServer(),
      stop: async () => {
        await cluster.stop();
        if (temporary) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (temporary) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export function startTemporal(kind: TemporalKind, opts: TemporalServerOptions): Promise<RunningTemporal> {
  if (kind === 'dev' && opts.uiPort === undefined) throw new Error('the Temporal dev server needs a uiPort');
  return kind === 'dev' ? startDev(opts) : startPostgresBacked(opts);
}
