// Workers plan and render from the deploy config at every pipeline step; parsing a directory of a
// thousand service files each time costs ~120 ms of a worker's CPU. The cache is keyed by the
// directory and checked against every file's size and modification time (and the environment
// variables the config falls back on), so an edit is seen by the very next call.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadDeployConfig, type DeployConfig } from './config';

interface Entry {
  stamp: string;
  config: DeployConfig;
}

const cache = new Map<string, Entry>();

function stampOf(dir: string, env: NodeJS.ProcessEnv): string {
  const parts = [env.MARATHON_URL ?? '', env.SLIPWAY_REGISTRY ?? ''];
  const add = (file: string) => {
    try {
      const s = statSync(file);
      parts.push(`${file}:${s.size}:${s.mtimeMs}`);
    } catch {
      parts.push(`${file}:missing`);
    }
  };
  add(path.join(dir, 'slipway.yaml'));
  const servicesDir = path.join(dir, 'services');
  if (existsSync(servicesDir)) for (const f of readdirSync(servicesDir).sort()) add(path.join(servicesDir, f));
  return parts.join('\n');
}

/** loadDeployConfig, reusing the last result while no file of the directory changed. */
export function cachedDeployConfig(dir: string, env: NodeJS.ProcessEnv = process.env): DeployConfig {
  const stamp = stampOf(dir, env);
  const hit = cache.get(dir);
  if (hit && hit.stamp === stamp) return hit.config;
  const config = loadDeployConfig(dir, { env });
  cache.set(dir, { stamp, config });
  return config;
}
