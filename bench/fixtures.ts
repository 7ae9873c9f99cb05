// What the sections set up on disk and in Docker: deploy-config directories with as many services
// as a section needs, the tiny "no-op" image whose digest the no-op build returns, local git
// repositories of the examples, and random commit SHAs.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { examplesDir } from '../common/paths';
import { gitAs } from '../test/helpers/git';

export const randomSha = () => randomBytes(20).toString('hex');

export function benchTempDir(name: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `slipway-bench-${name}-`));
}

export interface ConfigEnvironment {
  name: string;
  approvers?: string[];
}

export interface ConfigService {
  name: string;
  type?: 'node' | 'java' | 'python';
  repository?: string;
  gitlabProject?: string;
  /** Health check of the app (the containers-mode sections want a quick one). */
  healthCheck?: string;
  instances?: number;
}

export interface ConfigOptions {
  registry: string;
  marathonUrl: string;
  environments: ConfigEnvironment[];
  services: ConfigService[];
  healthTimeout?: string;
}

/** Writes slipway.yaml and services/*.yaml; returns the directory. */
export function writeDeployConfig(dir: string, opts: ConfigOptions): string {
  mkdirSync(path.join(dir, 'services'), { recursive: true });
  writeFileSync(
    path.join(dir, 'slipway.yaml'),
    [
      `registry: ${opts.registry}`,
      'environments:',
      ...opts.environments.flatMap((e) => [
        `  - name: ${e.name}`,
        `    marathon: ${opts.marathonUrl}`,
        `    healthTimeout: ${opts.healthTimeout ?? '2m'}`,
        ...(e.approvers ? ['    approval:', `      approvers: [${e.approvers.join(', ')}]`, '      timeout: 24h'] : []),
      ]),
      '',
    ].join('\n'),
  );
  for (const s of opts.services) {
    writeFileSync(
      path.join(dir, 'services', `${s.name}.yaml`),
      [
        `name: ${s.name}`,
        `type: ${s.type ?? 'node'}`,
        `repository: ${s.repository ?? '/nonexistent/bench-noop'}`,
        `gitlab: { project: ${s.gitlabProject ?? `bench/${s.name}`}, branches: [main] }`,
        'app:',
        `  instances: ${s.instances ?? 1}`,
        '  mem: 64',
        '  cpus: 0.1',
        '  port: 8080',
        `  healthCheck: ${s.healthCheck ?? '{ path: /health, gracePeriodSeconds: 5, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 3 }'}`,
        '',
      ].join('\n'),
    );
  }
  return dir;
}

export const standardEnvironments = (approvers?: string[]): ConfigEnvironment[] => [
  { name: 'test' },
  { name: 'integration' },
  { name: 'production', approvers },
];

function docker(...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

export interface NoopImage {
  /** repository:tag, what the no-op build reports. */
  image: string;
  /** repository@sha256:..., what the no-op push reports. */
  digestRef: string;
}

/**
 * The busybox HTTP image the set-up builds (2 MB), pushed once as <registry>/slipway-bench/noop:1.
 * The no-op build and push of the overhead, scale and approve-latency sections return it.
 */
export function ensureNoopImage(registry: string): NoopImage {
  const image = `${registry}/slipway-bench/noop:1`;
  try {
    docker('image', 'inspect', 'local/busybox:httpd');
  } catch {
    throw new Error('local/busybox:httpd is missing: run `bash dev/setup.sh --for-tests` first');
  }
  docker('tag', 'local/busybox:httpd', image);
  docker('push', '-q', image);
  const digests = JSON.parse(docker('image', 'inspect', '--format', '{{json .RepoDigests}}', image)) as string[];
  const digestRef = digests.find((d) => d.startsWith(`${registry}/slipway-bench/noop@`));
  if (!digestRef) throw new Error(`pushed ${image} but docker reports no digest for it (${digests.join(', ')})`);
  return { image, digestRef };
}

/** git as the benchmark's own committer. */
export const git = gitAs('Bench', 'bench@example.com');

/** A git repository holding a copy of examples/<example>; returns its path. */
export function exampleRepository(example: string, into: string): string {
  const repo = path.join(into, example);
  cpSync(path.join(examplesDir, example), repo, { recursive: true, filter: (src) => !src.includes('node_modules') });
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'initial');
  return repo;
}

/** The file a one-line source edit touches, per example. */
export const mainSource: Record<string, string> = {
  'hello-node': 'src/server.js',
  'hello-python': 'app.py',
  'hello-java': 'src/main/java/hello/Main.java',
  'hello-maven': 'src/main/java/hello/maven/Main.java',
  'hello-pyproject': 'src/hello_pyproject/app.py',
  'hello-pnpm': 'src/server.ts',
};

/** Appends one comment line to the example's main source file (a real change for the layer cache). */
export function editOneLine(repo: string, example: string, note: string): void {
  const file = path.join(repo, mainSource[example] as string);
  const comment = file.endsWith('.py') ? '#' : '//';
  writeFileSync(file, `${comment} bench edit ${note}\n`, { flag: 'a' });
}

/** Edits one line and commits it; returns the new SHA. */
export function commitOneLineEdit(repo: string, example: string, note: string): string {
  editOneLine(repo, example, note);
  git(repo, 'commit', '-q', '-a', '-m', `bench edit ${note}`);
  return git(repo, 'rev-parse', 'HEAD');
}
