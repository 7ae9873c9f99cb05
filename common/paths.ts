// Where things live: the project root (the folder of Slipway's package.json, whether this file runs
// from the TypeScript sources, from dist/ after `npm run build`, or from an installed package), the
// state folder for tools, logs, databases and registry storage, and the embedded defaults
// (templates, examples) shipped with Slipway.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The nearest folder above `from` whose package.json names the package `slipway`. */
export function findProjectRoot(from: string): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'slipway') return dir;
      } catch {
        // An unreadable package.json on the way up is not ours; keep looking.
      }
    }
    if (path.dirname(dir) === dir) throw new Error(`no package.json of "slipway" in ${from} or above it`);
  }
}

export const projectRoot = findProjectRoot(__dirname);
export const stateDir = process.env.SLIPWAY_STATE_DIR ?? path.join(projectRoot, '.slipway');
export const logDir = path.join(stateDir, 'logs');
export const toolsBinDir = path.join(stateDir, 'tools', 'bin');
export const templatesDir = path.join(projectRoot, 'templates');
export const examplesDir = path.join(projectRoot, 'examples');
export const defaultConfigDir = path.join(examplesDir, 'deploy-config');
