// A private PostgreSQL cluster for the production Temporal server: Debian's PostgreSQL binaries, a
// data folder of our own, TCP on one loopback port only (no Unix socket), password authentication.
// It depends on no system service. PostgreSQL refuses to run as root, so under root it runs as the
// `postgres` account the Debian package creates, and its data folder belongs to that account.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { logDir } from '../common/paths';
import { isPortOpen, startProcess, waitUntil, type ManagedProcess } from './process';

export interface PostgresOptions {
  /** The cluster's data folder; created with initdb when it holds no cluster yet. */
  dataDir: string;
  port: number;
  user: string;
  password: string;
  /** Log file name (under .slipway/logs). */
  name: string;
}

export interface Postgres {
  host: string;
  port: number;
  user: string;
  password: string;
  /** True when this start ran initdb (an empty cluster). */
  created: boolean;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Newest PostgreSQL of Debian's layout (/usr/lib/postgresql/<major>/bin), installed if missing. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const newest = () =>
    existsSync(root)
      ? readdirSync(root)
          .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
          .sort((a, b) => Number(b) - Number(a))[0]
      : undefined;
  let major = newest();
  if (!major && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    console.error('[postgres] installing Debian postgresql');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'postgresql'], {
      env,
      stdio: 'ignore',
    });
    major = newest();
  }
  if (!major) throw new Error('PostgreSQL is not installed: run `sudo apt-get install postgresql` (Debian) and retry');
  return path.join(root, major, 'bin');
}

/** Under root, the account PostgreSQL runs as: `setpriv` execs (no extra process to signal). */
function asOwner(command: string, args: string[]): { command: string; args: string[]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { command, args };
  const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' })));
  return {
    command: 'setpriv',
    args: ['--reuid', 'postgres', '--regid', 'postgres', '--init-groups', '--', command, ...args],
    uid,
    gid,
  };
}

function initCluster(bin: string, opts: PostgresOptions): void {
  const owner = asOwner('true', []);
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  if (owner.uid !== undefined) chownSync(opts.dataDir, owner.uid, owner.gid!);
  // initdb reads the superuser's password from a file; it lives only for this call.
  const pwFile = path.join(opts.dataDir, '..', `.${path.basename(opts.dataDir)}-pw`);
  writeFileSync(pwFile, opts.password + '\n', { mode: 0o600 });
  if (owner.uid !== undefined) chownSync(pwFile, owner.uid, owner.gid!);
  try {
    const init = asOwner(path.join(bin, 'initdb'), [
      '--pgdata',
      opts.dataDir,
      '--username',
      opts.user,
      `--pwfile=${pwFile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--no-locale',
    ]);
    execFileSync(init.command, init.args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`initdb of ${opts.dataDir} failed: ${stderr || (err as Error).message}`);
  } finally {
    rmSync(pwFile, { force: true });
  }
}

export async function startPostgres(opts: PostgresOptions): Promise<Postgres> {
  const bin = postgresBinDir();
  if (await isPortOpen(opts.port)) throw new Error(`port ${opts.port} for PostgreSQL is already in use`);
  const created = !existsSync(path.join(opts.dataDir, 'PG_VERSION'));
  if (created) initCluster(bin, opts);
  const server = asOwner(path.join(bin, 'postgres'), [
    '-D',
    opts.dataDir,
    '-p',
    String(opts.port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
    // Temporal opens one pool per service and store (config maxConns); restarts overlap briefly.
    '-c',
    'max_connections=200',
  ]);
  const proc = startProcess({ name: opts.name, command: server.command, args: server.args, logDir, cwd: '/' });
  const ready = () =>
    new Promise<boolean>((resolve) =>
      execFile(path.join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(opts.port)], (err) =>
        resolve(!err),
      ),
    );
  try {
    await waitUntil(`PostgreSQL on 127.0.0.1:${opts.port}`, ready, { timeoutMs: 30_000, process: proc });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    host: '127.0.0.1',
    port: opts.port,
    user: opts.user,
    password: opts.password,
    created,
    process: proc,
    // SIGINT is PostgreSQL's "fast" shutdown: it ends open sessions instead of waiting for them.
    async stop() {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
      proc.child.kill('SIGINT');
      await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 10_000))]);
      await proc.stop();
    },
  };
}
