// Freeze windows (slipway.yaml `freeze:`): periods in which no pipeline deploys into the
// environments they name, like GitLab's deploy freezes. A window starts at each time its cron
// expression names, read in its IANA timezone (so "0 17 * * FRI" is 17:00 Berlin time in summer and
// in winter), and lasts `duration` on that timezone's wall clock: "0 17 * * FRI" + 63h ends Monday
// 08:00 local, also on the weekends the clocks change (then it lasts 62 or 64 hours).
// Used by config validation, by the worker's freeze check and by `slipway freezes`; never by
// workflow code, which learns of a freeze only through that check's recorded answer.
import { Cron } from 'croner';
import { parseDuration } from './duration';

export interface FreezeWindowConfig {
  /** When each window starts: five fields (minute hour day-of-month month day-of-week). */
  cron: string;
  /** How long it lasts on the timezone's wall clock, like "63h". */
  duration: string;
  /** IANA timezone the cron expression and the wall clock are read in, like "Europe/Berlin". */
  timezone: string;
  /** Environments it freezes; absent: all of them. */
  environments?: string[];
  reason: string;
}

/** One concrete period of a window. */
export interface FreezePeriod {
  start: string;
  end: string;
  timezone: string;
  reason: string;
  /** The environments the window names, or "all". */
  environments: string[] | 'all';
  cron: string;
}

/** The freeze check's answer for one environment at one moment. */
export type FreezeCheck =
  | { frozen: false }
  | {
      frozen: true;
      /** When the last overlapping window ends (ISO); a re-check then finds any window added since. */
      until: string;
      /** Reasons of the windows in force, e.g. ["weekend"]. */
      reasons: string[];
      /** The timezone of the window that ends last, for showing `until` as people read it. */
      timezone: string;
      /** `until` in that timezone: "2026-12-07 08:00 Europe/Berlin". */
      untilLocal: string;
    };

/** Why a cron expression is unusable as a window start; undefined when it is fine. */
export function cronProblem(expression: string): string | undefined {
  if (expression.trim().split(/\s+/).length !== 5) {
    return 'expected five fields "minute hour day-of-month month day-of-week", like "0 17 * * FRI"';
  }
  try {
    if (!schedule(expression, 'UTC').nextRun(new Date()))
      return 'expected a time that comes again (this one never does)';
  } catch (err) {
    return `expected a cron expression like "0 17 * * FRI": ${(err as Error).message.replace(/^CronPattern: /, '')}`;
  }
  return undefined;
}

/** Why a timezone name is unusable; undefined when the runtime knows it. */
export function timezoneProblem(timezone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return undefined;
  } catch {
    return 'expected an IANA timezone like "Europe/Berlin", "America/New_York" or "UTC"';
  }
}

function schedule(expression: string, timezone: string): Cron {
  return new Cron(expression, { timezone, paused: true, mode: '5-part' });
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock time of `instant` in `timezone`, as if it were UTC milliseconds. */
function wallClock(instant: number, timezone: string): number {
  let format = formatters.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, format);
  }
  const part = (type: string) => Number(format.formatToParts(new Date(instant)).find((p) => p.type === type)?.value);
  const wholeSeconds = Date.UTC(
    part('year'),
    part('month') - 1,
    part('day'),
    part('hour'),
    part('minute'),
    part('second'),
  );
  return wholeSeconds + (((instant % 1000) + 1000) % 1000);
}

/**
 * The instant a wall-clock time names in `timezone`. A time the clocks skip (spring forward) is
 * moved on by the gap; a time they pass twice (fall back) is the first of the two.
 */
function instantOf(wall: number, timezone: string): number {
  const day = 86_400_000;
  const candidates = [day, -day].map((shift) => wall - (wallClock(wall + shift, timezone) - (wall + shift)));
  const valid = candidates.filter((c) => wallClock(c, timezone) === wall);
  return valid.length > 0 ? Math.min(...valid) : Math.max(...candidates);
}

/** `instant` plus `seconds` on the wall clock of `timezone`. */
export function addWallClock(instant: Date, seconds: number, timezone: string): Date {
  return new Date(instantOf(wallClock(instant.getTime(), timezone) + seconds * 1000, timezone));
}

function period(window: FreezeWindowConfig, start: Date): FreezePeriod {
  const seconds = parseDuration(window.duration) ?? 0;
  return {
    start: start.toISOString(),
    end: addWallClock(start, seconds, window.timezone).toISOString(),
    timezone: window.timezone,
    reason: window.reason,
    environments: window.environments ?? 'all',
    cron: window.cron,
  };
}

/** The period of `window` in force at `at` (the latest one that started by then), if any. */
export function activePeriod(window: FreezeWindowConfig, at: Date): FreezePeriod | undefined {
  // A run exactly at `at` counts as started: previousRuns looks strictly before its reference.
  const [start] = schedule(window.cron, window.timezone).previousRuns(1, new Date(at.getTime() + 1000));
  if (!start) return undefined;
  const found = period(window, start);
  return Date.parse(found.end) > at.getTime() ? found : undefined;
}

/** The next period of `window` that starts after `at`. */
export function nextPeriod(window: FreezeWindowConfig, at: Date): FreezePeriod | undefined {
  const start = schedule(window.cron, window.timezone).nextRun(at);
  return start ? period(window, start) : undefined;
}

export function appliesTo(window: FreezeWindowConfig, environment: string): boolean {
  return !window.environments || window.environments.includes(environment);
}

/** Overlapping windows chained end to end are one freeze; past this many it is checked again then. */
const maxChained = 50;

/** Whether `environment` is frozen at `at`, and until when (across overlapping and back-to-back windows). */
export function freezeAt(windows: FreezeWindowConfig[], environment: string, at: Date): FreezeCheck {
  const mine = windows.filter((w) => appliesTo(w, environment));
  const inForce = (t: Date) => mine.flatMap((w) => activePeriod(w, t) ?? []);
  let periods = inForce(at);
  if (periods.length === 0) return { frozen: false };
  const reasons = new Set<string>();
  let last = periods[0] as FreezePeriod;
  for (let i = 0; i < maxChained && periods.length > 0; i++) {
    for (const p of periods) {
      reasons.add(p.reason);
      if (Date.parse(p.end) > Date.parse(last.end)) last = p;
    }
    periods = inForce(new Date(last.end)).filter((p) => Date.parse(p.end) > Date.parse(last.end));
  }
  return {
    frozen: true,
    until: last.end,
    reasons: [...reasons],
    timezone: last.timezone,
    untilLocal: formatInZone(last.end, last.timezone),
  };
}

/** "2026-12-07 08:00 Europe/Berlin": an instant as people in that timezone read it. */
export function formatInZone(iso: string, timezone: string): string {
  const wall = new Date(wallClock(Date.parse(iso), timezone)).toISOString();
  return `${wall.slice(0, 10)} ${wall.slice(11, 16)} ${timezone}`;
}
