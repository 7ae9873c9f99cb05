// A production Temporal server on this machine: the real server binary (built once, see
// temporal-server-build.ts) on a private PostgreSQL cluster (postgres.ts), all four services in
// one process, SQL visibility with Slipway's custom search attributes. This is what
// `slipway up --temporal postgres`, `npm run test:cluster` and `npm run bench -- --temporal
// postgres` run; the dev server (temporal.ts) stays the default.
//
// Everything of one cluster lives in one folder: pgdata/ (PostgreSQL), temporal.yaml and
// dynamicconfig.yaml (written on each start, mode 0600: they hold the database password),
// postgres-password. Start-up: PostgreSQL -> databases and schemas (temporal-sql-tool; only
// create + setup on a new cluster, update-schema every time, so a newer server version migrates
// an older folder) -> server -> namespace `default` -> search attributes.
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { Client, Connection, isGrpcServiceError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal as proto } from '@temporalio/proto';
import { logDir } from '../common/paths';
import { slipwaySearchAttributes } from '../common/search-attributes';
import { freePort, isPortOpen, startProcess, waitUntil, type ManagedProcess } from './process';
import { startPostgres, type Postgres } from './postgres';
import { slipwayDynamicConfig } from './temporal';
import { ensureTemporalServerBinaries, type TemporalServerBinaries } from './temporal-server-build';

const run = promisify(execFile);
const namespace = 'default';
const retention = '3 days';
/** Few shards: one machine, one process. Fixed for the life of a cluster folder. */
const numHistoryShards = 4;

export interface TemporalClusterOptions {
  /** The cluster's folder (kept between runs for `slipway up`, a temporary one for tests). */
  dir: string;
  /** Frontend gRPC port (the address clients and workers use). */
  port: number;
  /** Log file prefix (under .slipway/logs). */
  name?: string;
}

export interface TemporalCluster {
  address: string;
  binaries: TemporalServerBinaries;
  postgres: Postgres;
  /** The running server process (a new one after startServer()). */
  server(): ManagedProcess;
  /** Stops only the Temporal server; PostgreSQL and its data stay. */
  stopServer(): Promise<void>;
  /** Starts the server again with the same config, ports and data. */
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

function secretIn(file: string): string {
  if (!existsSync(file)) writeFileSync(file, randomBytes(18).toString('base64url'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

async function setUpSchemas(tool: string, pg: Postgres, log: string): Promise<void> {
  const env = { ...process.env, SQL_PASSWORD: pg.password };
  const base = ['--ep', pg.host, '-p', String(pg.port), '-u', pg.user, '--pl', 'postgres12'];
  const sql = async (db: string, ...args: string[]) => {
    try {
      await run(tool, [...base, '--db', db, ...args], { env });
    } catch (err) {
      const out = (err as { stderr?: string; stdout?: string }).stderr || (err as { stdout?: string }).stdout || '';
      writeFileSync(log, out, { flag: 'a' });
      throw new Error(`temporal-sql-tool ${args[0]} on database ${db} failed; see ${log}`);
    }
  };
  for (const [db, schema] of [
    ['temporal', 'postgresql/v12/temporal'],
    ['temporal_visibility', 'postgresql/v12/visibility'],
  ] as const) {
    if (pg.created) {
      await sql(db, 'create-database');
      await sql(db, 'setup-schema', '-v', '0.0');
    }
    await sql(db, 'update-schema', '--schema-name', schema); // the schemas embedded in the tool
  }
}

interface ServerPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

/**
 * The server's static config, after the server module's config/development-postgres12.yaml:
 * postgres12 plugin for the default and the visibility store, one cluster, loopback only.
 */
function serverConfig(pg: Postgres, ports: ServerPorts, dynamicConfigFile: string): object {
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${pg.host}:${pg.port}`,
      connectProtocol: 'tcp',
      user: pg.user,
      password: pg.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (grpcPort: number, membershipPort: number, extra: object = {}) => ({
    rpc: { grpcPort, membershipPort, bindOnLocalHost: true, ...extra },
  });
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards,
      datastores: {
        'postgres-default': store('temporal', 20),
        'postgres-visibility': store('temporal_visibility', 10),
      },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: {
      frontend: rpc(ports.frontend, ports.frontendMembership, { httpPort: ports.frontendHttp }),
      history: rpc(ports.history, ports.historyMembership),
      matching: rpc(ports.matching, ports.matchingMembership),
      worker: rpc(ports.worker, ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${ports.frontend}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
  };
}

/** Dynamic config file format: every key a list of {value, constraints}. */
function dynamicConfigYaml(): string {
  return stringify(Object.fromEntries(Object.entries(slipwayDynamicConfig).map(([k, value]) => [k, [{ value }]])));
}

/**
 * A free loopback port below 32768. The server records each service's membership port in the
 * cluster_membership table as a SMALLINT (the schema's rpc_port), so a port from Linux's
 * ephemeral range (32768-60999, where freePort() lands) makes the server exit at start with
 * `value "44955" is out of range for type smallint`.
 */
async function freeLowPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free loopback port between 20000 and 32767 for the Temporal server');
}

async function writeConfig(dir: string, pg: Postgres, frontend: number): Promise<string> {
  const taken = new Set([frontend]);
  const low = () => freeLowPort(taken);
  const ports: ServerPorts = {
    frontend,
    frontendHttp: await low(),
    frontendMembership: await low(),
    history: await low(),
    historyMembership: await low(),
    matching: await low(),
    matchingMembership: await low(),
    worker: await low(),
    workerMembership: await low(),
  };
  const dynamicConfigFile = path.join(dir, 'dynamicconfig.yaml');
  writeFileSync(dynamicConfigFile, dynamicConfigYaml());
  const configFile = path.join(dir, 'temporal.yaml');
  writeFileSync(configFile, stringify(serverConfig(pg, ports, dynamicConfigFile)), { mode: 0o600 });
  return configFile;
}

async function answers(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

/**
 * Namespace `default` (the dev server has it built in) and Slipway's search attributes. In SQL
 * visibility a custom attribute is a per-namespace alias of a pre-made column, and the services
 * learn of it through their namespace caches: done means a start that carries every attribute is
 * accepted and a query on them answers.
 */
async function registerNamespaceAndSearchAttributes(address: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace });
    const hasNamespace = () =>
      connection.workflowService.describeNamespace({ namespace }).then(
        () => true,
        (err: unknown) => {
          if (isGrpcServiceError(err) && err.code === 5) return false; // NOT_FOUND
          throw err;
        },
      );
    if (!(await hasNamespace())) {
      await connection.workflowService
        .registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(retention) })
        .catch((err: unknown) => {
          if (!(isGrpcServiceError(err) && err.code === 6)) throw err; // ALREADY_EXISTS: another start won
        });
    }
    // describeNamespace reads the database; other calls see a new namespace once the services'
    // namespace caches have refreshed (every 2 s by default).
    const known = () => connection.operatorService.listSearchAttributes({ namespace });
    await waitUntil(`namespace ${namespace} on the Temporal server`, () => known().then(() => true), {
      timeoutMs: 30_000,
      intervalMs: 500,
    });
    const { customAttributes } = await known();
    const missing = slipwaySearchAttributes.filter((key) => !customAttributes?.[key.name]);
    if (missing.length) {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(
          missing.map((key) => [key.name, proto.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
        ),
      });
    }
    const probe = async () => {
      const handle = await client.workflow.start('slipwayClusterProbe', {
        taskQueue: 'slipway-cluster-probe',
        workflowId: `slipway-cluster-probe-${randomBytes(4).toString('hex')}`,
        typedSearchAttributes: slipwaySearchAttributes.map((key) => ({ key, value: 'probe' })),
      });
      await handle.terminate('search attribute probe');
      await client.workflow.count(slipwaySearchAttributes.map((k) => `${k.name} = 'probe'`).join(' AND '));
      return true;
    };
    await waitUntil('Slipway search attributes on the Temporal server', probe, { timeoutMs: 60_000, intervalMs: 1000 });
  } finally {
    await connection.close();
  }
}

async function launchServer(
  binaries: TemporalServerBinaries,
  configFile: string,
  port: number,
  name: string,
): Promise<ManagedProcess> {
  if (await isPortOpen(port)) {
    throw new Error(`port ${port} is already in use; stop what listens there or choose another (TEMPORAL_PORT)`);
  }
  const proc = startProcess({
    name,
    command: binaries.server,
    args: ['--config-file', configFile, '--allow-no-auth', 'start'],
    logDir,
  });
  const address = `127.0.0.1:${port}`;
  try {
    await waitUntil(`the Temporal server v${binaries.version} (${binaries.server})`, () => answers(address), {
      timeoutMs: 90_000,
      intervalMs: 500,
      process: proc,
    });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}

export async function startTemporalCluster(opts: TemporalClusterOptions): Promise<TemporalCluster> {
  const name = opts.name ?? 'temporal-cluster';
  const binaries = await ensureTemporalServerBinaries();
  mkdirSync(opts.dir, { recursive: true });
  chmodSync(opts.dir, 0o755); // PostgreSQL's account must reach pgdata/ inside it
  const postgres = await startPostgres({
    dataDir: path.join(opts.dir, 'pgdata'),
    port: await freePort(),
    user: 'temporal',
    password: secretIn(path.join(opts.dir, 'postgres-password')),
    name: `${name}-postgres`,
  });
  let server: ManagedProcess | undefined;
  try {
    await setUpSchemas(binaries.sqlTool, postgres, path.join(logDir, `${name}-schema.log`));
    const configFile = await writeConfig(opts.dir, postgres, opts.port);
    const address = `127.0.0.1:${opts.port}`;
    server = await launchServer(binaries, configFile, opts.port, name);
    await registerNamespaceAndSearchAttributes(address);
    return {
      address,
      binaries,
      postgres,
      server: () => server!,
      stopServer: async () => server?.stop(10_000),
      startServer: async () => {
        server = await launchServer(binaries, configFile, opts.port, name);
      },
      stop: async () => {
        await server?.stop(10_000);
        await postgres.stop();
      },
    };
  } catch (err) {
    await server?.stop();
    await postgres.stop();
    throw err;
  }
}
