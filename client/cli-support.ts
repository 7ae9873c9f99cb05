// What the CLI commands share: a Temporal client that is closed when the command ends, JSON or
// table output, and the endpoints `slipway up` wrote (.slipway/endpoints.json).
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { loadDeployConfig, type DeployConfig } from '../common/config';
import { defaultConfigDir, stateDir } from '../common/paths';
import { connectClient, temporalSettingsFromEnv } from '../common/temporal-connection';
import { temporalUiLink } from './pipelines';

export async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  // With no TEMPORAL_ADDRESS, talk to the stack `slipway up` runs, wherever it put Temporal.
  const local = readEndpoints()?.temporalAddress;
  if (!process.env.TEMPORAL_ADDRESS && local) process.env.TEMPORAL_ADDRESS = local;
  const client = await connectClient();
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** A plain text table: columns as wide as their widest cell, no borders to break copy-paste. */
export function table(headers: string[], rows: (string | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => c ?? ''))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return (
    cells
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i] ?? 0)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export interface Endpoints {
  temporalAddress?: string;
  temporalUi?: string;
  registry?: string;
  webhook?: string;
  marathon?: string;
  configDir?: string;
}

export const endpointsPath = () => path.join(stateDir, 'endpoints.json');

export function readEndpoints(): Endpoints | undefined {
  const file = endpointsPath();
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Endpoints;
  } catch {
    return undefined;
  }
}

/** The Temporal UI page of a workflow: SLIPWAY_TEMPORAL_UI_URL, else what `slipway up` wrote. */
export function uiLink(workflowId: string): string | undefined {
  const base = process.env.SLIPWAY_TEMPORAL_UI_URL ?? readEndpoints()?.temporalUi;
  return temporalUiLink(base, temporalSettingsFromEnv().namespace, workflowId);
}

/** Sets a non-zero exit code without cutting off output still being written. */
export function fail(message: string, code = 1): void {
  process.stderr.write(`slipway: ${message}\n`);
  process.exitCode = code;
}

export function parseSince(text: string): Date {
  const match = /^(\d+)\s*(m|h|d|w)$/.exec(text.trim());
  if (!match) {
    const date = new Date(text);
    if (Number.isNaN(date.getTime()))
      throw new Error(`--since "${text}": expected a duration like 7d, 24h, 2w or an ISO date`);
    return date;
  }
  const unit = { m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[match[2] as 'm' | 'h' | 'd' | 'w'];
  return new Date(Date.now() - Number(match[1]) * unit);
}

/**
 * The deploy config as clients need it (service names, GitLab rules). Marathon URLs matter only
 * to workers, so a config that leaves them to MARATHON_URL loads here without it.
 */
export function loadClientConfig(dir?: string): DeployConfig {
  const endpoints = readEndpoints();
  const configDir = dir ?? process.env.SLIPWAY_CONFIG_DIR ?? endpoints?.configDir ?? defaultConfigDir;
  const marathon = process.env.MARATHON_URL ?? endpoints?.marathon ?? 'http://marathon.invalid';
  return loadDeployConfig(configDir, { env: { ...process.env, MARATHON_URL: marathon } });
}

/**
 * Who runs the command, for --as defaults. A container's numeric user has no passwd entry, where
 * os.userInfo() throws; every command registers its defaults at start, so this must not.
 */
export function currentUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? `uid-${process.getuid?.() ?? 'unknown'}`;
  }
}
