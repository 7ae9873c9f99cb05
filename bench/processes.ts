// Child processes of the benchmarks (workers, the webhook server) and their memory: each child
// logs to .slipway/logs/bench-<name>.log, is stopped by its PID only (SIGTERM, then SIGKILL); RSS comes from /proc/<pid>/status (VmRSS now, VmHWM the peak).
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { logDir, projectRoot } from '../common/paths';
import type { BenchWorkerSpec } from './worker-process';

export interface BenchChild {
  name: string;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

/** Starts `node --import tsx <script> ...args` and resolves once stdout shows `readyLine`. */
export async function startNodeChild(opts: {
  name: string;
  script: string;
  args?: string[];
  env: NodeJS.ProcessEnv;
  readyLine: RegExp;
  timeoutMs?: number;
}): Promise<BenchChild> {
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `bench-${opts.name}.log`);
  const log = createWriteStream(logFile, { flags: 'w' });
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(projectRoot, opts.script), ...(opts.args ?? [])],
    {
      cwd: projectRoot,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stderr.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () =>
        reject(new Error(`${opts.name} did not start within ${(opts.timeoutMs ?? 60_000) / 1000} s; see ${logFile}`)),
      opts.timeoutMs ?? 60_000,
    );
    child.stdout.on('data', (chunk: Buffer) => {
      log.write(chunk);
      seen += chunk.toString();
      if (opts.readyLine.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${opts.name} exited (code ${code}) while starting; see ${logFile}`));
    });
  });
  return {
    name: opts.name,
    pid: child.pid!,
    logFile,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function startBenchWorker(name: string, spec: BenchWorkerSpec, env: NodeJS.ProcessEnv): Promise<BenchChild> {
  return startNodeChild({
    name,
    script: 'bench/worker-process.ts',
    env: { ...process.env, ...env, BENCH_WORKER: JSON.stringify(spec), SLIPWAY_LOG_FORMAT: 'json' },
    readyLine: /bench-worker ready/,
  });
}

export interface Memory {
  rssBytes: number;
  peakBytes: number;
}

/** VmRSS and VmHWM of a process, in bytes; NaN when it is gone. */
export function memoryOf(pid: number): Memory {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rssBytes: kb('VmRSS'), peakBytes: kb('VmHWM') };
  } catch {
    return { rssBytes: NaN, peakBytes: NaN };
  }
}

/** Samples a process's RSS every `everyMs` until stopped; reports the highest RSS seen and the kernel's peak. */
export function watchMemory(pid: number, everyMs = 500) {
  let maxRss = 0;
  let peak = 0;
  const sample = () => {
    const m = memoryOf(pid);
    if (Number.isFinite(m.rssBytes)) maxRss = Math.max(maxRss, m.rssBytes);
    if (Number.isFinite(m.peakBytes)) peak = Math.max(peak, m.peakBytes);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop(): Memory {
      sample();
      clearInterval(timer);
      return { rssBytes: maxRss, peakBytes: peak };
    },
  };
}
