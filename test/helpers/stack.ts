// The real stack for end-to-end and fault tests: the harness's Temporal dev server and registry,
// a Marathon emulator, a deploy config generated for this test file (unique service names, so
// lanes of other files never interfere), a local git repository of an example service, and
// workers as separate `slipway worker` processes that a test may SIGKILL and restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { ServiceType } from '../../common/config';
import { projectRoot, examplesDir, logDir } from '../../common/paths';
import {
  startMarathonEmulator,
  type MarathonEmulator,
  type MarathonEmulatorOptions,
} from '../../dev/marathon-emulator';
import { registryAddress, temporalAddress } from './env';
import { git } from './git';
import { recommendedDeployWorkerNodeOptions } from '../../worker';

export interface StackOptions {
  marathonMode: 'containers' | 'simulated';
  /** Example to deploy (examples/<name>), e.g. hello-node. */
  example: string;
  approvers?: string[];
  healthTimeout?: string;
  /** Approval timeout of production (default 1h). */
  approvalTimeout?: string;
  extraEnv?: NodeJS.ProcessEnv;
  /** Another Temporal server than the harness's (a test that restarts its own). */
  temporalAddress?: string;
  /** Another registry than the harness's (a test that stops and restarts its own). */
  registry?: string;
  /** Extra emulator options (faults, timeScale, ...). */
  emulator?: Omit<MarathonEmulatorOptions, 'port' | 'mode'>;
  /** Service type; default from the example's name (hello-node -> node). */
  type?: ServiceType;
  /**
   * Environments deployed to a second emulator that behaves as Marathon 1.4 (legacy networking
   * fields): one delivery then crosses both API shapes, each environment's version learnt from its
   * own /v2/info.
   */
  marathon14For?: string[];
  /** Build command of the service (build.buildCommand), e.g. to make a build last a while. */
  buildCommand?: string;
  /** Start command of the service (build.startCommand). */
  startCommand?: string;
  /** More services from the same repository (`<service>-2`, `<service>-3`, ...): independent lanes. */
  extraServices?: number;
}

export interface Stack {
  service: string;
  /** `service` first, then the extra services. */
  services: string[];
  repoDir: string;
  configDir: string;
  marathonUrl: string;
  emulator: MarathonEmulator;
  /** The emulator an environment deploys to (the 1.4 one for `marathon14For`). */
  emulatorFor(environment: string): MarathonEmulator;
  client: Client;
  workerEnv: NodeJS.ProcessEnv;
  /** Starts a `slipway worker` process for the given roles, with `env` over the stack's workerEnv. */
  startWorker(roles: 'deploy' | 'build' | 'deploy,build', env?: NodeJS.ProcessEnv): ChildProcess;
  killWorkers(signal?: NodeJS.Signals): Promise<void>;
  /** Commits a change to the example and returns the new SHA. */
  commit(message: string, edit?: (dir: string) => void): string;
  stop(): Promise<void>;
}

/** The stack this test process runs, if any: workers of two stacks would share the task queues. */
let liveStack: string | undefined;

export async function startStack(opts: StackOptions): Promise<Stack> {
  if (liveStack) {
    throw new Error(
      `a stack (${liveStack}) is still running in this test file: stop() it before starting another, ` +
        'since the workers of both would poll the same task queues with different deploy configs',
    );
  }
  const suffix = randomUUID().slice(0, 6);
  const service = `${opts.example}-${suffix}`;
  liveStack = service;
  const work = mkdtempSync(path.join(os.tmpdir(), `slipway-e2e-${suffix}-`));
  const repoDir = path.join(work, 'repo');
  cpSync(path.join(examplesDir, opts.example), repoDir, {
    recursive: true,
    filter: (src) => !src.includes('node_modules'),
  });
  git(repoDir, 'init', '-q', '-b', 'main');
  git(repoDir, 'add', '-A');
  git(repoDir, 'commit', '-q', '-m', 'initial');

  const emulator = await startMarathonEmulator({ ...opts.emulator, port: 0, mode: opts.marathonMode });
  const emulator14 =
    (opts.marathon14For ?? []).length > 0
      ? await startMarathonEmulator({ ...opts.emulator, port: 0, mode: opts.marathonMode, apiShape: '1.4' })
      : undefined;
  const emulatorFor = (environment: string) =>
    emulator14 && opts.marathon14For?.includes(environment) ? emulator14 : emulator;
  const type = opts.type ?? opts.example.replace(/^hello-/, '');
  const build = {
    ...(opts.buildCommand ? { buildCommand: opts.buildCommand } : {}),
    ...(opts.startCommand ? { startCommand: opts.startCommand } : {}),
  };
  const configDir = path.join(work, 'config');
  mkdirSync(path.join(configDir, 'services'), { recursive: true });
  const approvers = opts.approvers ?? ['alice', 'bob'];
  writeFileSync(
    path.join(configDir, 'slipway.yaml'),
    [
      `registry: ${opts.registry ?? registryAddress()}`,
      'environments:',
      ...['test', 'integration', 'production'].flatMap((name) => [
        `  - name: ${name}`,
        `    marathon: ${emulatorFor(name).url}`,
        `    healthTimeout: ${opts.healthTimeout ?? '90s'}`,
        `    imageTag: ${name}`,
        ...(name === 'production'
          ? [
              '    approval:',
              `      approvers: [${approvers.join(', ')}]`,
              `      timeout: ${opts.approvalTimeout ?? '1h'}`,
            ]
          : []),
      ]),
      '',
    ].join('\n'),
  );
  const services = [service, ...Array.from({ length: opts.extraServices ?? 0 }, (_, i) => `${service}-${i + 2}`)];
  for (const name of services)
    writeFileSync(
      path.join(configDir, 'services', `${name}.yaml`),
      [
        `name: ${name}`,
        `type: ${type}`,
        `repository: ${repoDir}`,
        `gitlab: { project: e2e/${name}, branches: [main] }`,
        ...(Object.keys(build).length ? [`build: ${JSON.stringify(build)}`] : []),
        'app:',
        '  instances: 1',
        '  mem: 128',
        '  port: 8080',
        '  healthCheck: { path: /health, gracePeriodSeconds: 15, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 3 }',
        'environments:',
        '  production: { instances: 2 }',
        '',
      ].join('\n'),
    );

  const connection = await Connection.connect({ address: opts.temporalAddress ?? temporalAddress() });
  const client = new Client({ connection });
  const workerEnv: NodeJS.ProcessEnv = {
    ...process.env,
    SLIPWAY_CONFIG_DIR: configDir,
    MARATHON_URL: emulator.url,
    TEMPORAL_ADDRESS: opts.temporalAddress ?? temporalAddress(),
    SLIPWAY_BUILD_HOST_ID: `e2e-${suffix}`,
    SLIPWAY_LOG_FORMAT: 'json',
    ...opts.extraEnv,
  };
  const workers: ChildProcess[] = [];
  mkdirSync(logDir, { recursive: true });

  const stack: Stack = {
    service,
    services,
    repoDir,
    configDir,
    marathonUrl: emulator.url,
    emulator,
    emulatorFor,
    client,
    workerEnv,
    startWorker(roles, env = {}) {
      const log = path.join(logDir, `e2e-worker-${suffix}-${roles.replace(',', '+')}.log`);
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(projectRoot, 'client', 'cli.ts'), 'worker', '--queues', roles],
        {
          // Deploy workers run as the README says to run them.
          env: roles.includes('deploy')
            ? {
                ...workerEnv,
                NODE_OPTIONS: `${workerEnv.NODE_OPTIONS ?? ''} ${recommendedDeployWorkerNodeOptions}`.trim(),
                ...env,
              }
            : { ...workerEnv, ...env },
          stdio: ['ignore', 'ignore', 'pipe'],
          cwd: projectRoot,
        },
      );
      const chunks: Buffer[] = [];
      child.stderr?.on('data', (c: Buffer) => chunks.push(c));
      child.on('exit', () => writeFileSync(log, Buffer.concat(chunks), { flag: 'a' }));
      workers.push(child);
      return child;
    },
    async killWorkers(signal = 'SIGKILL') {
      const alive = workers.filter((w) => w.exitCode === null && w.signalCode === null);
      await Promise.all(alive.map((w) => new Promise((resolve) => (w.once('exit', resolve), w.kill(signal)))));
      workers.length = 0;
    },
    commit(message, edit) {
      edit?.(repoDir);
      git(repoDir, 'commit', '-q', '-a', '--allow-empty', '-m', message);
      return git(repoDir, 'rev-parse', 'HEAD');
    },
    async stop() {
      if (liveStack === service) liveStack = undefined;
      await stack.killWorkers('SIGTERM');
      await emulator.close();
      await emulator14?.close();
      await connection.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
  return stack;
}

export function headCommit(dir: string): string {
  return git(dir, 'rev-parse', 'HEAD');
}
