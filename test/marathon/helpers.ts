// Shared by the Marathon tests: fixtures, a documented-shape comparison, app definitions shaped
// like templates/marathon/app.json.hbs renders them, and running activities in a mock context.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { projectRoot } from '../../common/paths';
import { MarathonClient } from '../../activities/marathon-client';
import { createMarathonActivities } from '../../activities/marathon';
import { viewApp } from '../../activities/marathon-app';
import {
  startMarathonEmulator,
  type MarathonEmulator,
  type MarathonEmulatorOptions,
} from '../../dev/marathon-emulator';

/** A simulated-mode emulator that turns tasks healthy within tens of milliseconds. */
export function fastEmulator(extra: MarathonEmulatorOptions = {}): Promise<MarathonEmulator> {
  return startMarathonEmulator({
    mode: 'simulated',
    simulatedHealthyAfterMs: 20,
    simulatedLaunchMs: 5,
    timeScale: 0.02,
    tickMs: 20,
    ...extra,
  });
}

export function fixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(path.join(projectRoot, 'test', 'fixtures', 'marathon', name), 'utf8')) as T;
}

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/**
 * Where `actual` does not have the shape of the documented `expected`: every field of the fixture
 * must exist with the same JSON type (null in the fixture accepts anything); arrays compare their
 * first elements. Returns readable paths, empty when the shape matches.
 */
export function shapeMismatches(expected: unknown, actual: unknown, at = '', optional: string[] = []): string[] {
  if (expected === null) return [];
  // env and labels are free-form maps: their keys are data, not shape.
  if (/\/(env|labels)$/.test(at))
    return typeOf(expected) === typeOf(actual) ? [] : [`${at}: expected ${typeOf(expected)}, got ${typeOf(actual)}`];
  if (typeOf(expected) !== typeOf(actual)) return [`${at || '/'}: expected ${typeOf(expected)}, got ${typeOf(actual)}`];
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length === 0 || actual.length === 0) return [];
    return shapeMismatches(expected[0], actual[0], `${at}[0]`, optional);
  }
  if (typeOf(expected) === 'object') {
    const e = expected as Record<string, unknown>;
    const a = actual as Record<string, unknown>;
    return Object.keys(e).flatMap((k) => {
      const p = `${at}/${k}`;
      if (!(k in a)) return optional.includes(k) ? [] : [`${p}: missing`];
      return shapeMismatches(e[k], a[k], p, optional);
    });
  }
  return [];
}

/** An app definition as the default template renders it (1.5 shape, bridge networking). */
export function bridgeApp(id: string, image: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    instances: 1,
    cpus: 0.1,
    mem: 32,
    disk: 0,
    container: {
      type: 'DOCKER',
      docker: { image, forcePullImage: false },
      portMappings: [{ containerPort: 8080, hostPort: 0, protocol: 'tcp', name: 'http' }],
    },
    networks: [{ mode: 'container/bridge' }],
    env: {},
    labels: {},
    constraints: [],
    healthChecks: [
      {
        protocol: 'HTTP',
        path: '/health',
        portIndex: 0,
        gracePeriodSeconds: 5,
        intervalSeconds: 1,
        timeoutSeconds: 1,
        maxConsecutiveFailures: 3,
      },
    ],
    upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
    ...extra,
  };
}

/** The same app in Marathon 1.4's shape: container.docker.network and container.docker.portMappings. */
export function legacyBridgeApp(
  id: string,
  image: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const { networks: _n, ...app } = bridgeApp(id, image);
  const container = app.container as { portMappings: unknown };
  app.container = {
    type: 'DOCKER',
    docker: { image, forcePullImage: false, network: 'BRIDGE', portMappings: container.portMappings },
  };
  return { ...app, ...extra };
}

export const digest = (n: number) => `127.0.0.1:5000/demo/app@sha256:${String(n).repeat(64).slice(0, 64)}`;

export function activitiesFor(opts: { pollIntervalMs?: number; foreignLockWaitSeconds?: number } = {}) {
  return createMarathonActivities({
    clientFor: (url, environment) => new MarathonClient({ baseUrl: url, environment }),
    pollIntervalMs: opts.pollIntervalMs ?? 100,
    foreignLockWaitSeconds: opts.foreignLockWaitSeconds,
  });
}

/** Runs an activity function in a mock activity context, collecting its heartbeats. */
export async function inActivity<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
  args: A,
  opts: { heartbeatDetails?: unknown; onEnv?: (env: MockActivityEnvironment) => void } = {},
): Promise<{ result: R; heartbeats: unknown[] }> {
  const env = new MockActivityEnvironment({ heartbeatDetails: opts.heartbeatDetails });
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => heartbeats.push(d));
  opts.onEnv?.(env);
  const result = (await env.run(fn, ...args)) as R;
  return { result, heartbeats };
}

export async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  return res.json();
}

export async function adminRequests(
  emulatorUrl: string,
): Promise<{ method: string; path: string; status: number; pipelineId?: string; image?: string; appId?: string }[]> {
  return ((await getJson(`${emulatorUrl}/_emulator/requests`)) as { requests: never[] }).requests;
}

export async function setFaults(emulatorUrl: string, faults: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${emulatorUrl}/_emulator/faults`, { method: 'POST', body: JSON.stringify(faults) });
  if (!res.ok) throw new Error(`setting faults failed: ${res.status} ${await res.text()}`);
}

/** What Marathon holds for `appId` now (image, version, labels), read as Marathon's own client would; null when absent. */
export async function readApp(marathonUrl: string, appId: string) {
  const raw = await MarathonClient.fromEnv(marathonUrl, 'test').getApp(appId);
  return raw ? viewApp(raw) : null;
}
