// Polling for a condition on the real stack, with a deadline that names what was awaited. By
// default a probe that throws is tried again (the last error is in the timeout message);
// `failFast` makes the first error end the wait instead. `what` may be a function, read when the
// wait times out, so the message can show the last thing the probe saw.
export interface UntilOptions {
  intervalMs?: number;
  failFast?: boolean;
}

export async function until<T>(
  what: string | (() => string),
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
  opts: UntilOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      if (opts.failFast) throw err;
      last = err;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 300));
  }
  const awaited = typeof what === 'function' ? what() : what;
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${awaited}${last ? `: ${String(last)}` : ''}`);
}
