// Runs `slipway` as people do: a separate process from the TypeScript sources, with the given
// environment, collecting its exit code and output.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../common/paths';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'client', 'cli.ts'), ...args], {
    env,
    cwd: projectRoot,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
