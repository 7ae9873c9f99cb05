// Which Marathon Slipway talks to, and which shape of app definition it understands. Marathon 1.5
// moved networking from `container.docker.network` (HOST/BRIDGE/USER, plus `ipAddress` for USER)
// and `container.docker.portMappings` to `networks` and `container.portMappings`. 1.5 and later
// still accept the old fields (they translate them), but 1.4 knows nothing of the new ones and
// silently ignores them: a 1.5-shaped bridge app on 1.4 runs with HOST networking and no port
// mappings, its health check probes a port nobody listens on, and the deployment hangs. So every
// definition is rendered for the target's shape and refused before any PUT when it carries fields
// the target would drop. The version comes from GET /v2/info (`version`), asked once per
// environment and kept for a few minutes: a Marathon upgrade is seen without a worker restart.
import { ApplicationFailure } from '@temporalio/common';
import { NonRetryable } from '../common/errors';
import type { MarathonClient } from './marathon-client';

/** "1.4": legacy networking fields only; "1.5": `networks` + `container.portMappings` (1.5 and later). */
export type MarathonApiShape = '1.4' | '1.5';

export interface MarathonVersion {
  /** As /v2/info reports it, e.g. "1.4.12" or "1.10.26". */
  version: string;
  shape: MarathonApiShape;
}

const versionPattern = /^v?(\d+)\.(\d+)(?:\.(\d+))?/;

/** Reads "1.4", "1.4.12", "v1.10.26-abc" (as /v2/info or --marathon-version give it); undefined when it is none. */
export function parseMarathonVersion(text: string): MarathonVersion | undefined {
  const m = versionPattern.exec(text.trim());
  if (!m) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const shape: MarathonApiShape = major < 1 || (major === 1 && minor < 5) ? '1.4' : '1.5';
  return { version: text.trim().replace(/^v/, ''), shape };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Fields of `app` that a Marathon of `shape` would not act on, one readable problem each; empty
 * when the definition means on the target what it says. 1.5+ translates the legacy fields, so
 * only a 1.4 target has fields to lose.
 */
export function fieldsIgnoredBy(app: Record<string, unknown>, target: MarathonVersion): string[] {
  if (target.shape !== '1.4') return [];
  const problems: string[] = [];
  const container = isObject(app.container) ? app.container : {};
  if (app.networks !== undefined) {
    problems.push(
      `networks is a Marathon 1.5+ field that Marathon ${target.version} ignores (the app would run with HOST networking): ` +
        'use container.docker.network "BRIDGE", "HOST" or "USER" (with ipAddress.networkName) instead',
    );
  }
  if (container.portMappings !== undefined) {
    problems.push(
      `container.portMappings is a Marathon 1.5+ field that Marathon ${target.version} ignores (the app would get no port mappings): ` +
        'use container.docker.portMappings instead',
    );
  }
  return problems;
}

interface CacheEntry {
  at: number;
  value: Promise<MarathonVersion>;
}

const cache = new Map<string, CacheEntry>();
/** How long one answer of /v2/info is trusted. */
export const versionCacheMs = 5 * 60_000;

/** Asks /v2/info; the answer is shared by every call for this Marathon and environment for a few minutes. */
export function marathonVersionOf(client: MarathonClient, now = Date.now()): Promise<MarathonVersion> {
  const key = `${client.baseUrl} ${client.environment ?? ''}`;
  const hit = cache.get(key);
  if (hit && now - hit.at < versionCacheMs) return hit.value;
  const value = client.info().then((info) => {
    const reported = typeof info.version === 'string' ? info.version : '';
    const parsed = parseMarathonVersion(reported);
    if (!parsed) {
      throw ApplicationFailure.create({
        message: `Marathon ${client.baseUrl} answered GET /v2/info with version ${JSON.stringify(info.version)}: expected a version like "1.4.12" or "1.10.26"`,
        type: NonRetryable.MarathonRejected,
        nonRetryable: true,
      });
    }
    return parsed;
  });
  // A failed ask is not remembered: the next call asks again.
  value.catch(() => {
    if (cache.get(key)?.value === value) cache.delete(key);
  });
  cache.set(key, { at: now, value });
  return value;
}

/** Forgets every cached version (tests that restart a Marathon in another shape on the same URL). */
export function forgetMarathonVersions(): void {
  cache.clear();
}
