// The audit log: every delivery event (decisions, deploys, rollbacks, ...) as one JSON line in a
// file per UTC day, `<dir>/2026-12-01.jsonl`, on the deploy worker's disk (SLIPWAY_AUDIT_DIR,
// default .slipway/audit). It outlives Temporal's retention: a closed workflow's history goes
// away after the namespace's retention period, these files stay until someone removes them.
// Appends are idempotent by event id: a retried activity or a replayed workflow records the same
// event once. `slipway audit` and the webhook server's GET /audit read the same files.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { DeliveryEvent } from './contract';
import { stateDir } from './paths';

export function auditDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SLIPWAY_AUDIT_DIR || path.join(stateDir, 'audit');
}

/** The day file an event belongs to: by the event's own time, so a retry finds the same file. */
export function dayFileOf(dir: string, at: string): string {
  return path.join(dir, `${at.slice(0, 10)}.jsonl`);
}

/** The ids already in one day file, and how far the file was read (another process may append). */
interface KnownIds {
  ids: Set<string>;
  readBytes: number;
  /** The file ends without a newline (a writer died mid-line): the next line starts on a new one. */
  torn: boolean;
}

/** Day files whose ids a long-running worker keeps in memory; an older one is read again if needed. */
const daysKept = 3;

/**
 * JSON lines in a file per day, each with an `id` that appears at most once: the audit log, and
 * the notifications' sent-ledger beside it.
 */
export class DayLedger<T extends { id: string; at: string }> {
  private readonly known = new Map<string, KnownIds>();

  constructor(readonly dir: string) {}

  /**
   * Appends the entry unless a line with its id is already there. Returns false for a duplicate.
   * Synchronous on purpose: check and append happen with nothing in between in this process.
   */
  append(event: T): boolean {
    if (!/^\d{4}-\d{2}-\d{2}T/.test(event.at)) throw new Error(`${this.dir}: entry ${event.id} has no ISO time "at"`);
    const file = dayFileOf(this.dir, event.at);
    const known = this.catchUp(file);
    if (known.ids.has(event.id)) return false;
    mkdirSync(this.dir, { recursive: true });
    const line = `${known.torn ? '\n' : ''}${JSON.stringify(event)}\n`;
    // O_APPEND: one write of one line, so lines of concurrent writers do not interleave.
    appendFileSync(file, line, { mode: 0o640 });
    known.ids.add(event.id);
    known.readBytes += Buffer.byteLength(line);
    known.torn = false;
    return true;
  }

  has(id: string, at: string): boolean {
    return this.catchUp(dayFileOf(this.dir, at)).ids.has(id);
  }

  /** Reads what was appended to `file` since this process last looked (by anyone). */
  private catchUp(file: string): KnownIds {
    let known = this.known.get(file);
    if (!known) {
      known = { ids: new Set(), readBytes: 0, torn: false };
      this.known.set(file, known);
      if (this.known.size > daysKept) this.known.delete(this.known.keys().next().value!);
    }
    const size = existsSync(file) ? statSync(file).size : 0;
    if (size > known.readBytes) {
      const text = readFileSync(file).subarray(known.readBytes).toString('utf8');
      for (const event of parseLines(text)) known.ids.add(event.id);
      known.readBytes = size;
      known.torn = !text.endsWith('\n');
    }
    return known;
  }
}

/** The audit log of delivery events. */
export class AuditLog extends DayLedger<DeliveryEvent> {
  constructor(dir: string = auditDir()) {
    super(dir);
  }
}

export interface AuditQuery {
  /** Events at or after this time. */
  since: Date;
  service?: string;
  environment?: string;
}

/** Events of the day files that can hold events since `since`, filtered, oldest first. */
export function readAudit(dir: string, query: AuditQuery): DeliveryEvent[] {
  if (!existsSync(dir)) return [];
  const firstDay = query.since.toISOString().slice(0, 10);
  const files = readdirSync(dir)
    .filter((f) => /^\d{4}-\d{2}-\d{2}\.jsonl$/.test(f) && f.slice(0, 10) >= firstDay)
    .sort();
  const sinceIso = query.since.toISOString();
  return files
    .flatMap((f) => parseLines(readFileSync(path.join(dir, f), 'utf8')))
    .filter(
      (e) =>
        e.at >= sinceIso &&
        (!query.service || e.service === query.service) &&
        (!query.environment || e.environment === query.environment),
    )
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
}

/** JSON lines; a torn last line (a writer stopped mid-write) is skipped, not fatal. */
function parseLines<T extends { id: string } = DeliveryEvent>(text: string): T[] {
  const events: T[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const event = JSON.parse(line) as T;
      if (typeof event?.id === 'string') events.push(event);
    } catch {
      // Not a whole line: skipped.
    }
  }
  return events;
}
