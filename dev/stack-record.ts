// What `slipway up` started, kept on disk so that a later `up` can stop what an earlier one left
// running. The Temporal dev server and the registry run in sessions of their own (so Ctrl-C in the
// terminal reaches `up` alone and `up` stops them in order); when `up` itself dies without cleaning
// up (SIGKILL, the OOM killer, a crash of node), nothing else would ever stop them and the next
// `up` would meet busy ports. A PID is trusted only together with the start time the kernel
// recorded for it (/proc/<pid>/stat), so a PID recycled by an unrelated process is never signalled.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

export interface RecordedProcess {
  name: string;
  /** Also the process group: the stack's servers are started as group leaders (detached). */
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot. */
  startTime: string;
}

interface ProcStat {
  state: string;
  startTime: string;
}

function procStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, startTime: fields[19]! };
  } catch {
    return undefined;
  }
}

/** The kernel's start time of `pid`, or undefined when there is no such process. */
export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.startTime;
}

/** Still running as the process that was recorded (a zombie has already let go of its ports). */
export function isRecordedProcessAlive(entry: RecordedProcess): boolean {
  const stat = procStat(entry.pid);
  return stat !== undefined && stat.state !== 'Z' && stat.startTime === entry.startTime;
}

export class StackRecord {
  constructor(readonly file: string) {}

  read(): RecordedProcess[] {
    if (!existsSync(this.file)) return [];
    try {
      const parsed: unknown = JSON.parse(readFileSync(this.file, 'utf8'));
      return Array.isArray(parsed) ? (parsed as RecordedProcess[]) : [];
    } catch {
      return []; // a record torn by a crash mid-write names nothing we could trust
    }
  }

  add(name: string, pid: number): void {
    const startTime = processStartTime(pid);
    if (startTime === undefined) return; // already gone: nothing to stop later
    writeFileSync(this.file, JSON.stringify([...this.read(), { name, pid, startTime }], null, 2) + '\n');
  }

  clear(): void {
    rmSync(this.file, { force: true });
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* the group is gone */
  }
}

async function waitGone(entry: RecordedProcess, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isRecordedProcessAlive(entry)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !isRecordedProcessAlive(entry);
}

/**
 * Stops every recorded process that still runs (SIGTERM to its group, SIGKILL after `graceMs`)
 * and forgets the record. Returns the ones it stopped.
 */
export async function stopLeftovers(record: StackRecord, graceMs = 10_000): Promise<RecordedProcess[]> {
  const leftovers = record.read().filter(isRecordedProcessAlive);
  await Promise.all(
    leftovers.map(async (entry) => {
      signalGroup(entry.pid, 'SIGTERM');
      if (!(await waitGone(entry, graceMs))) {
        signalGroup(entry.pid, 'SIGKILL');
        await waitGone(entry, 5_000);
      }
    }),
  );
  record.clear();
  return leftovers;
}
