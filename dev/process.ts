// Child processes of the local stack: started in their own process group so that stopping the
// stack (Ctrl-C, SIGTERM, a test harness ending) takes their grandchildren down too, and a
// readiness probe so "started" means "answers", not "forked".
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Resolves when the process has exited (after stop() or on its own). */
  exited: Promise<number | null>;
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  logDir: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Told the moment the process exists, before it answers (`slipway up` records its PID). */
  onSpawn?: (pid: number) => void;
}

export function startProcess(opts: StartOptions): ManagedProcess {
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `${opts.name}.log`);
  // The log file itself, not a pipe through us: a server that outlives a killed `up` must not
  // die of SIGPIPE before the next `up` stops it (or go on writing into nothing).
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true, // own process group: kill(-pid) reaches grandchildren
      stdio: ['ignore', log, log],
    });
  } finally {
    closeSync(log);
  }
  if (child.pid !== undefined) opts.onSpawn?.(child.pid);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      /* already gone */
    }
  };
  return {
    name: opts.name,
    child,
    logFile,
    exited,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      signalGroup('SIGKILL'); // stragglers in the group
    },
  };
}

/** Polls until `probe` resolves true; fails early if the process exits, with its log's tail. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; process?: ManagedProcess; intervalMs?: number },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let exited = false;
  void opts.process?.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    if (exited) throw new Error(`${what} exited while starting; see ${opts.process?.logFile}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
  throw new Error(
    `${what} did not answer within ${Math.round(opts.timeoutMs / 1000)} s` +
      (opts.process ? `; see ${opts.process.logFile}` : ''),
  );
}

export function isPortOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.setTimeout(500);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

export { freePort } from '../common/free-port';

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
  return res.status < 500;
}
