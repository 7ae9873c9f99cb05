// Where things live in a checkout: the git-ignored state folder for tools, logs, databases and
// registry storage, and the embedded defaults (templates, examples) shipped with Slipway.
import path from 'node:path';

export const projectRoot = path.resolve(__dirname, '..');
export const stateDir = process.env.SLIPWAY_STATE_DIR ?? path.join(projectRoot, '.slipway');
export const logDir = path.join(stateDir, 'logs');
export const toolsBinDir = path.join(stateDir, 'tools', 'bin');
export const templatesDir = path.join(projectRoot, 'templates');
export const examplesDir = path.join(projectRoot, 'examples');
export const defaultConfigDir = path.join(examplesDir, 'deploy-config');
