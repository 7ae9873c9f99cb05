// Fault injection for tests, set by flag or POST /_emulator/faults: a share of Marathon API calls
// answered 503 as a leaderless Marathon does, added latency, the next N calls failed outright
// (deterministic), and deployments that never finish (their tasks run, the plan never completes).
export interface Faults {
  /** 0..1: share of API requests answered 503. */
  failureRate: number;
  /** Added to every API request, milliseconds. */
  latencyMs: number;
  /** Deployments stay in /v2/deployments forever (until cancelled). */
  stuckDeployments: boolean;
  /** The next N API requests answer 503 regardless of failureRate. */
  failNextRequests: number;
}

export const noFaults: Faults = { failureRate: 0, latencyMs: 0, stuckDeployments: false, failNextRequests: 0 };

/** Merges a partial update, rejecting values a test could not have meant. */
export function updateFaults(current: Faults, patch: Record<string, unknown>): Faults | string {
  const next = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    switch (key) {
      case 'failureRate':
        if (typeof value !== 'number' || value < 0 || value > 1)
          return `failureRate must be a number between 0 and 1, got ${JSON.stringify(value)}`;
        next.failureRate = value;
        break;
      case 'latencyMs':
        if (typeof value !== 'number' || value < 0)
          return `latencyMs must be a number >= 0, got ${JSON.stringify(value)}`;
        next.latencyMs = value;
        break;
      case 'failNextRequests':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
          return `failNextRequests must be an integer >= 0, got ${JSON.stringify(value)}`;
        next.failNextRequests = value;
        break;
      case 'stuckDeployments':
        if (typeof value !== 'boolean') return `stuckDeployments must be true or false, got ${JSON.stringify(value)}`;
        next.stuckDeployments = value;
        break;
      default:
        return `unknown fault "${key}": expected failureRate, latencyMs, failNextRequests or stuckDeployments`;
    }
  }
  return next;
}

/** Decides, per API request, whether this one fails; consumes one of failNextRequests. */
export function shouldFail(faults: Faults): boolean {
  if (faults.failNextRequests > 0) {
    faults.failNextRequests--;
    return true;
  }
  return faults.failureRate > 0 && Math.random() < faults.failureRate;
}
