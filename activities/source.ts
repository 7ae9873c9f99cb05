// Source checkout for a build: the repository at exactly one commit, in a per-build work folder on
// the build host (os.tmpdir()/slipway-builds/<buildId>) that the pipeline removes afterwards.
// Repositories are reached over http(s) with a token from the worker's environment (SLIPWAY_GIT_TOKEN
// or GITLAB_TOKEN, sent only to the GitLab host: git-credentials.ts), ssh with the worker's keys,
// file:// or a plain local path. The token travels to git through GIT_CONFIG_* environment
// variables: never in a URL, an argument, a log line, a result or an error. A retried attempt
// reuses the same folder and simply fetches again. Given the ref the commit was pushed as, the
// checkout refuses a commit that is not on it, so no fetchable commit deploys as `main`. A fetch
// that stops making progress is given up by a watchdog, not held until the activity times out.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { NonRetryable } from '../common/errors';
import { createLogger } from '../common/log';
import { currentActivity } from './activity-context';
import { gitCredentialHeader, gitSecrets } from './git-credentials';
import { ProgressWatchdog, stallLimitMs } from './progress-watchdog';

const log = createLogger('source');

/** Every build's work folder lives under here; removeWorkdir refuses anything else. */
export function buildsRoot(): string {
  return path.join(os.tmpdir(), 'slipway-builds');
}

export interface CheckoutInput {
  buildId: string;
  repoUrl: string;
  commit: string;
  /**
   * The ref the commit was delivered as (refs/heads/<branch> or refs/tags/<tag>). When given, the
   * commit must be the branch's head or an ancestor of it (the branch may have moved on since
   * the push), or exactly what the tag points to.
   */
  ref?: string;
}

export interface CheckoutResult {
  workdir: string;
  /** The full SHA that was checked out. */
  commit: string;
  /** Committer date, ISO 8601. */
  committedAt: string;
  /** Author name as recorded in the commit. */
  author: string;
  authorEmail?: string;
}

/** user:password@ in a URL is never shown, even though the plan refuses such URLs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/)[^/@]*@/i, '$1***@');
}

/**
 * git's environment: no prompts (a missing credential must fail, not hang), ssh in batch mode,
 * and for the GitLab host the token as an Authorization header configured through GIT_CONFIG_*
 * variables. Redirects are not followed with the header to another host (http.followRedirects
 * "initial" is git's default; it is pinned here).
 */
function gitEnv(repoUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', LC_ALL: 'C' };
  delete env.SLIPWAY_GIT_TOKEN;
  delete env.GITLAB_TOKEN;
  env.GIT_SSH_COMMAND ??= 'ssh -o BatchMode=yes -o ConnectTimeout=20';
  const header = gitCredentialHeader(repoUrl);
  env.GIT_CONFIG_COUNT = header ? '2' : '1';
  env.GIT_CONFIG_KEY_0 = 'http.followRedirects';
  env.GIT_CONFIG_VALUE_0 = 'initial';
  if (header) {
    env.GIT_CONFIG_KEY_1 = 'http.extraHeader';
    env.GIT_CONFIG_VALUE_1 = header;
  }
  return env;
}

function scrub(text: string): string {
  let out = text;
  for (const token of gitSecrets()) out = out.split(token).join('***');
  return out.replace(/([a-z+]+:\/\/)[^/@\s]*@/gi, '$1***@');
}

class GitError extends Error {
  constructor(
    readonly args: string[],
    readonly stderr: string,
    readonly code: number | null,
  ) {
    super(`git ${args[0]} failed (exit ${code}): ${lastLines(stderr, 4)}`);
  }
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').filter(Boolean).slice(-n).join(' | ');
}

function git(
  cwd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
  onOutput?: (bytes: number) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], signal });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      onOutput?.(d.length);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onOutput?.(d.length);
    });
    child.once('error', (err) => reject(err));
    child.once('close', (code) =>
      code === 0 ? resolve(stdout.trim()) : reject(new GitError(args, scrub(stderr), code)),
    );
  });
}

// Failures worth retrying: the network or the server hiccupped. Anything else (no such repository,
// no such commit, refused credentials, unknown host) fails the build at once with the reason.
const transient =
  /timed out|timeout|early EOF|RPC failed|unexpected disconnect|HTTP 5\d\d|returned error: 5\d\d|Connection reset/i;
const authFailure =
  /Authentication failed|returned error: 40[13]|HTTP 40[13]|Permission denied \(publickey|could not read Username/i;

function classify(err: unknown, repoUrl: string, commit: string): Error {
  if (!(err instanceof GitError)) return err as Error;
  const where = redactUrl(repoUrl);
  // git's "fatal:" lines say what went wrong; the advice lines after them do not.
  const fatal = err.stderr.split('\n').filter((l) => /^(fatal|error): /.test(l));
  const detail = fatal.length > 0 ? fatal.slice(0, 2).join(' | ') : lastLines(err.stderr, 3);
  if (/not our ref|couldn't find remote ref|no such remote ref|unadvertised object/i.test(err.stderr)) {
    return ApplicationFailure.nonRetryable(
      `commit ${commit} does not exist in ${where}`,
      NonRetryable.SourceUnavailable,
    );
  }
  if (authFailure.test(err.stderr)) {
    return ApplicationFailure.nonRetryable(
      `access to ${where} was refused: ${detail} (http(s): set SLIPWAY_GIT_TOKEN or GITLAB_TOKEN on the build workers, and GITLAB_URL to this repository's host, the only host that gets the token; ssh: the worker's keys)`,
      NonRetryable.Unauthorized,
    );
  }
  if (transient.test(err.stderr)) return new Error(`fetching ${where} failed, will retry: ${detail}`);
  return ApplicationFailure.nonRetryable(
    `repository ${where} is unavailable: ${detail}`,
    NonRetryable.SourceUnavailable,
  );
}

function workdirFor(buildId: string): string {
  const safe = buildId.replace(/[^\w.-]+/g, '_');
  if (!safe || /^\.+$/.test(safe))
    throw ApplicationFailure.nonRetryable(`build id "${buildId}" cannot name a folder`, NonRetryable.BadConfig);
  return path.join(buildsRoot(), safe);
}

export async function checkoutSource(input: CheckoutInput): Promise<CheckoutResult> {
  const { repoUrl, commit } = input;
  if (!/^[0-9a-f]{7,64}$/i.test(commit)) {
    throw ApplicationFailure.nonRetryable(
      `commit "${commit}" is not a git SHA: expected 7-64 hex characters`,
      NonRetryable.BadConfig,
    );
  }
  const ctx = currentActivity();
  const signal = ctx?.cancellationSignal;
  const workdir = workdirFor(input.buildId);
  const env = gitEnv(repoUrl);
  const started = Date.now();

  // A folder left by an earlier attempt is reused when it is a repository, otherwise started afresh.
  if (existsSync(workdir) && !existsSync(path.join(workdir, '.git'))) rmSync(workdir, { recursive: true, force: true });
  mkdirSync(workdir, { recursive: true });
  const run = (args: string[]) => git(workdir, args, env, signal);
  await run(['init', '-q']);
  // The remote URL is stored without credentials; tokens come from the environment on every fetch.
  await run(['config', 'remote.origin.url', repoUrl]);

  const fetch = fetcher(workdir, repoUrl, env, signal, (details) => ctx?.heartbeat(details));
  try {
    if (commit.length === 40 || commit.length === 64) {
      await fetch(['--no-tags', '--depth=1', 'origin', commit]);
    } else {
      // A short SHA cannot be fetched by name: fetch the branches and tags, then resolve it.
      await fetch(['--tags', 'origin', '+refs/heads/*:refs/remotes/origin/*']);
    }
  } catch (err) {
    throw classify(err, repoUrl, commit);
  }

  let full: string;
  try {
    full = await run(['rev-parse', '--verify', '--quiet', `${commit}^{commit}`]);
  } catch {
    throw ApplicationFailure.nonRetryable(
      `commit ${commit} does not exist in ${redactUrl(repoUrl)}`,
      NonRetryable.SourceUnavailable,
    );
  }
  if (input.ref) await verifyOnRef({ run, fetch, repoUrl, commit: full, ref: input.ref });
  await run(['checkout', '-q', '--force', '--detach', full]);
  await run(['clean', '-q', '-ffdx']);
  const [committedAt = '', author = '', authorEmail = ''] = (
    await run(['show', '-s', '--format=%cI%n%an%n%ae', full])
  ).split('\n');
  log.info('checked out', { repo: redactUrl(repoUrl), commit: full, workdir, ms: Date.now() - started });
  return { workdir, commit: full, committedAt: new Date(committedAt).toISOString(), author, authorEmail };
}

/**
 * `git fetch --progress <args>` watched for progress: every byte git prints (its progress meter
 * included) counts, each heartbeat carries the count, and a fetch silent for SLIPWAY_STALL_SECONDS
 * (default 120) is killed and fails retryably. Cancellation of the activity kills it as well.
 */
function fetcher(
  workdir: string,
  repoUrl: string,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal | undefined,
  heartbeat: (details: Record<string, unknown>) => void,
) {
  return async (args: string[]): Promise<string> => {
    const controller = new AbortController();
    const onCancel = () => controller.abort(signal?.reason);
    if (signal?.aborted) onCancel();
    signal?.addEventListener('abort', onCancel, { once: true });
    const watchdog = new ProgressWatchdog({
      what: `git fetch from ${redactUrl(repoUrl)}`,
      stallMs: stallLimitMs('SLIPWAY_STALL_SECONDS', 120),
      heartbeat,
      details: () => ({ phase: 'fetch' }),
      onStall: (err) => controller.abort(err),
    }).start();
    try {
      return await git(workdir, ['fetch', '-q', '--progress', ...args], env, controller.signal, (n) =>
        watchdog.advance(n),
      );
    } catch (err) {
      if (watchdog.stalled) throw watchdog.stalled;
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : err;
      throw err;
    } finally {
      watchdog.stop();
      signal?.removeEventListener('abort', onCancel);
    }
  };
}

const refPattern = /^refs\/(heads|tags)\/[^\s~^:?*[\\]+$/;

/**
 * The commit must belong to the ref it is deployed as: a tag must point at it; a branch's head
 * must be it or descend from it (the branch may have moved on after the push, never sideways).
 */
async function verifyOnRef(opts: {
  run: (args: string[]) => Promise<string>;
  fetch: (args: string[]) => Promise<string>;
  repoUrl: string;
  commit: string;
  ref: string;
}): Promise<void> {
  const { run, fetch, commit, ref } = opts;
  const where = redactUrl(opts.repoUrl);
  const refuse = (message: string) => ApplicationFailure.nonRetryable(message, NonRetryable.SourceUnavailable);
  if (!refPattern.test(ref) || ref.includes('..')) {
    throw ApplicationFailure.nonRetryable(
      `ref "${ref}" is not refs/heads/<branch> or refs/tags/<tag>`,
      NonRetryable.BadConfig,
    );
  }
  try {
    // The ref's history (not shallow): the ancestry walk needs it.
    await fetch(['--no-tags', 'origin', `+${ref}:refs/slipway/delivered-ref`]);
  } catch (err) {
    if (err instanceof GitError && /couldn't find remote ref|no such remote ref/i.test(err.stderr)) {
      throw refuse(`${ref} does not exist in ${where} (deleted since the push?): cannot check that ${commit} is on it`);
    }
    throw classify(err, opts.repoUrl, commit);
  }
  const head = await run(['rev-parse', '--verify', 'refs/slipway/delivered-ref^{commit}']);
  if (ref.startsWith('refs/tags/')) {
    if (head !== commit) {
      throw refuse(
        `commit ${commit} is not what ${ref} points to in ${where} (${head}): a tag deploys exactly its commit`,
      );
    }
    return;
  }
  try {
    await run(['merge-base', '--is-ancestor', commit, head]);
  } catch (err) {
    if (!(err instanceof GitError) || err.code !== 1) throw err;
    throw refuse(
      `commit ${commit} is not on ${ref} of ${where}: neither its head ${head} nor an ancestor of it; refusing to deploy it as ${ref}`,
    );
  }
}

/** Removes a build's work folder; a no-op when it is already gone. Only folders under buildsRoot(). */
export async function removeWorkdir(input: { workdir: string }): Promise<void> {
  const target = path.resolve(input.workdir);
  if (!target.startsWith(buildsRoot() + path.sep)) {
    throw ApplicationFailure.nonRetryable(
      `refusing to remove ${target}: not a Slipway build folder under ${buildsRoot()}`,
      NonRetryable.BadConfig,
    );
  }
  rmSync(target, { recursive: true, force: true });
}
