// Progress, not liveness. A transfer that stalls (a git server that stops sending, a registry that
// stops reading) keeps its process alive, so a heartbeat sent on a timer would keep a build slot
// held for hours. The watchdog counts progress (bytes, lines, build steps), sends it in every
// heartbeat, and fails the activity when the count has not moved for the stall limit; the error
// is retryable (a stall is usually the network), and says what was waited for.

/** The stall limit in ms from an environment variable of seconds (a positive number), else the default. */
export function stallLimitMs(variable: string, defaultSeconds: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[variable];
  if (raw === undefined || raw === '') return defaultSeconds * 1000;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new Error(`${variable}: expected a positive number of seconds, got "${raw}"`);
  }
  return seconds * 1000;
}

export class StalledError extends Error {
  override name = 'StalledError';
}

export interface WatchdogOptions {
  /** What is waited for, e.g. "git fetch from https://gitlab.example.com/g/app.git". */
  what: string;
  stallMs: number;
  /** Called with the details and the progress count at every tick (the activity's heartbeat). */
  heartbeat?: (details: Record<string, unknown>) => void;
  /** Heartbeat details besides the progress count. */
  details?: () => Record<string, unknown>;
  /** Called once when the stall limit is reached; it should stop the transfer. */
  onStall: (err: StalledError) => void;
}

export class ProgressWatchdog {
  private progress = 0;
  private lastProgressAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  stalled: StalledError | undefined;

  constructor(private readonly opts: WatchdogOptions) {}

  start(): this {
    this.beat();
    const interval = Math.max(100, Math.min(5000, this.opts.stallMs / 4));
    this.timer = setInterval(() => this.tick(), interval);
    return this;
  }

  /** Records progress: `amount` bytes, lines or steps. */
  advance(amount = 1): void {
    this.progress += amount;
    this.lastProgressAt = Date.now();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Heartbeats now (a milestone, such as a new build step), besides the regular ticks. */
  beat(): void {
    this.opts.heartbeat?.({ ...this.opts.details?.(), progress: this.progress });
  }

  private tick(): void {
    const idleMs = Date.now() - this.lastProgressAt;
    if (idleMs < this.opts.stallMs) return this.beat();
    this.stop();
    this.stalled = new StalledError(
      `${this.opts.what} made no progress for ${Math.round(this.opts.stallMs / 1000)} s (stalled after ${this.progress} units of progress); giving up this attempt`,
    );
    this.opts.onStall(this.stalled);
  }
}
