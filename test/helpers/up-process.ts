// `slipway up` run as a user runs it (`npm start` minus the set-up script: node + tsx + the CLI),
// each run with its own state folder and free ports, using the harness's registry, and a view of
// the processes below it so a test can check that none outlives it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { projectRoot } from '../../common/paths';
import { freePort } from '../../dev/process';
import { registryAddress } from './env';

export interface UpRun {
  child: ChildProcess;
  stateDir: string;
  output: () => string;
  exited: Promise<number | null>;
}

const stateDirs: string[] = [];
after(() => {
  for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
});

export async function upPorts() {
  return {
    TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    SLIPWAY_MARATHON_PORT: String(await freePort()),
    SLIPWAY_WEBHOOK_PORT: String(await freePort()),
  };
}

export interface StartUpOptions {
  /** Reuse a state folder (a second `up` beside a first one). */
  stateDir?: string;
  /** Extra node options before the CLI, e.g. ['--import', fixture]. */
  nodeArgs?: string[];
}

export function startUp(env: NodeJS.ProcessEnv, opts: StartUpOptions = {}): UpRun {
  const dir = opts.stateDir ?? mkdtempSync(path.join(os.tmpdir(), 'slipway-up-'));
  if (!opts.stateDir) stateDirs.push(dir);
  const clean = { ...process.env };
  for (const name of ['TEMPORAL_ADDRESS', 'MARATHON_URL', 'SLIPWAY_CONFIG_DIR']) delete clean[name];
  const cli = path.join(projectRoot, 'client', 'cli.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', ...(opts.nodeArgs ?? []), cli, 'up'], {
    env: {
      ...clean,
      SLIPWAY_STATE_DIR: dir,
      SLIPWAY_REGISTRY: registryAddress(),
      SLIPWAY_MARATHON_MODE: 'simulated',
      SLIPWAY_LOG_LEVEL: 'warn',
      ...env,
    },
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stateDir: dir, output: () => out, exited };
}

/** Every process below `pid` (from /proc). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const found: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      found.push(c);
      walk(c);
    }
  };
  walk(pid);
  return found;
}

/** Running, not a zombie: a zombie whose parent died waits for an init that may never reap it, but holds no port. */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
