// `slipway demo`: the newcomer's first minutes. Turns examples/hello-node into a local git
// repository (.slipway/demo/hello-node, which the example deploy config points at), commits, and
// sends the running webhook server the GitLab Push Hook a real GitLab would send — so the whole
// path (webhook -> pipeline -> build -> test -> integration -> approval -> production) runs
// exactly as in production, visible in the Temporal UI.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { repositoryUrl, type DeployConfig, type ServiceConfig } from '../../common/config';
import { examplesDir, stateDir } from '../../common/paths';
import { fail, loadClientConfig, printJson, readEndpoints, uiLink, withClient } from '../cli-support';
import { pipelineStatus } from '../pipelines';
import { watchPipeline } from './watch';

const demoAuthor = { name: 'Demo Developer', email: 'demo@example.com', username: 'demo' };
const zeroSha = '0'.repeat(40);

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: demoAuthor.name,
      GIT_AUTHOR_EMAIL: demoAuthor.email,
      GIT_COMMITTER_NAME: demoAuthor.name,
      GIT_COMMITTER_EMAIL: demoAuthor.email,
    },
  }).trim();
}

/** Creates or updates the demo repository and returns the commit before and after this run. */
export function prepareDemoRepository(example: string, repoDir: string): { before: string; after: string } {
  const source = path.join(examplesDir, example);
  if (!existsSync(source)) throw new Error(`${source} does not exist: the demo needs examples/${example}`);
  const fresh = !existsSync(path.join(repoDir, '.git'));
  mkdirSync(repoDir, { recursive: true });
  if (fresh) git(repoDir, 'init', '-q', '-b', 'main');
  const before = fresh ? zeroSha : git(repoDir, 'rev-parse', 'HEAD');
  cpSync(source, repoDir, {
    recursive: true,
    force: true,
    filter: (src) => !/[/\\](node_modules|\.git)([/\\]|$)/.test(src),
  });
  git(repoDir, 'add', '-A');
  // Every demo run delivers a new commit, so it starts a new pipeline (the same commit would dedupe).
  git(
    repoDir,
    'commit',
    '-q',
    '--allow-empty',
    '-m',
    fresh ? `Initial import of ${example}` : `Deliver ${example} again (${new Date().toISOString()})`,
  );
  return { before, after: git(repoDir, 'rev-parse', 'HEAD') };
}

/** A Push Hook body with the fields GitLab documents (docs.gitlab.com webhook_events, "Push events"). */
export function pushHookPayload(opts: {
  project: string;
  before: string;
  after: string;
  repoDir: string;
  branch: string;
}) {
  const message = git(opts.repoDir, 'log', '-1', '--format=%B', opts.after);
  const timestamp = git(opts.repoDir, 'log', '-1', '--format=%cI', opts.after);
  const web = `http://gitlab.local/${opts.project}`;
  return {
    object_kind: 'push',
    event_name: 'push',
    before: opts.before,
    after: opts.after,
    ref: `refs/heads/${opts.branch}`,
    ref_protected: true,
    checkout_sha: opts.after,
    message: null,
    user_id: 1,
    user_name: demoAuthor.name,
    user_username: demoAuthor.username,
    user_email: demoAuthor.email,
    user_avatar: null,
    project_id: 1,
    project: {
      id: 1,
      name: opts.project.split('/').pop(),
      description: 'Slipway demo',
      web_url: web,
      avatar_url: null,
      git_ssh_url: `git@gitlab.local:${opts.project}.git`,
      git_http_url: `${web}.git`,
      namespace: opts.project.split('/')[0],
      visibility_level: 0,
      path_with_namespace: opts.project,
      default_branch: opts.branch,
      ci_config_path: null,
      homepage: web,
    },
    commits: [
      {
        id: opts.after,
        message,
        title: message.split('\n')[0],
        timestamp,
        url: `${web}/-/commit/${opts.after}`,
        author: { name: demoAuthor.name, email: demoAuthor.email },
        added: [],
        modified: [],
        removed: [],
      },
    ],
    total_commits_count: 1,
    push_options: {},
  };
}

/**
 * Where the deploy config expects the service's repository (the example config says
 * ../../.slipway/demo/hello-node), so the worker checks out exactly what the demo committed.
 */
function demoRepositoryDir(config: DeployConfig, service: ServiceConfig): string {
  const url = service.repository ? repositoryUrl(config, service) : undefined;
  if (url?.startsWith('file://')) return url.slice('file://'.length);
  return path.join(stateDir, 'demo', service.name);
}

function webhookToken(): string | undefined {
  if (process.env.SLIPWAY_WEBHOOK_TOKEN) return process.env.SLIPWAY_WEBHOOK_TOKEN;
  const file = path.join(stateDir, 'webhook-token');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

export interface DemoPush {
  status: number;
  answer: { workflowId?: string; ignored?: string; error?: string };
  repoDir: string;
  after: string;
}

/**
 * Commits examples/<service> into the repository the deploy config names and sends the running
 * webhook server the Push Hook GitLab would send. Used by `slipway demo` and by `slipway up`.
 */
export async function pushDemo(opts: { service: string; webhook?: string; configDir?: string }): Promise<DemoPush> {
  const endpoints = readEndpoints();
  const webhook = opts.webhook ?? endpoints?.webhook;
  if (!webhook)
    throw new Error(
      'no webhook URL: start the stack first (`npm start`) or pass --webhook http://127.0.0.1:8787/webhooks/gitlab',
    );
  const config = loadClientConfig(opts.configDir ?? endpoints?.configDir);
  const service = config.services.get(opts.service);
  if (!service?.gitlab) throw new Error(`service "${opts.service}" with a gitlab project is not in ${config.dir}`);
  const repoDir = demoRepositoryDir(config, service);
  const { before, after } = prepareDemoRepository(opts.service, repoDir);
  const branch = service.gitlab.branches.find((b) => !b.includes('*')) ?? 'main';
  const body = pushHookPayload({ project: service.gitlab.project, before, after, repoDir, branch });
  const token = webhookToken();
  const res = await fetch(webhook, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-Gitlab-Event': 'Push Hook',
      'Idempotency-Key': randomUUID(),
      'User-Agent': 'GitLab/slipway-demo',
      ...(token ? { 'X-Gitlab-Token': token } : {}),
    },
    body: JSON.stringify(body),
  }).catch((err: Error) => {
    throw new Error(`cannot reach the webhook server at ${webhook} (${err.message}); is \`npm start\` running?`);
  });
  const answer = (await res.json().catch(() => ({}))) as DemoPush['answer'];
  return { status: res.status, answer, repoDir, after };
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('Push examples/hello-node through the running stack: local git repo + a GitLab-format push webhook')
    .option('--service <name>', 'service from the deploy config whose example to deliver', 'hello-node')
    .option('--webhook <url>', 'webhook URL (default: from .slipway/endpoints.json, written by `slipway up`)')
    .option('--watch', 'follow the pipeline until it ends')
    .option('--json', 'print the webhook answer as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  npm start            # in one terminal: the local stack\n  slipway demo --watch # in another; approve production with:\n  slipway approve <workflowId> --env production --as alice\n',
    )
    .action(async (opts: { service: string; webhook?: string; watch?: boolean; json?: boolean }) => {
      const { status, answer, repoDir, after } = await pushDemo({ service: opts.service, webhook: opts.webhook });
      if (opts.json) printJson({ status, ...answer });
      if (status !== 202 || !answer.workflowId)
        return fail(`webhook answered ${status}: ${answer.error ?? answer.ignored ?? JSON.stringify(answer)}`);
      const webhook = opts.webhook ?? readEndpoints()?.webhook;
      const workflowId = answer.workflowId;
      if (!opts.json) {
        const link = uiLink(workflowId);
        process.stdout.write(
          [
            `Pushed ${opts.service} ${after.slice(0, 12)} (${repoDir}) as a GitLab Push Hook to ${webhook}`,
            `Pipeline:     ${workflowId}`,
            `Temporal UI:  ${link ?? '(UI address unknown)'}`,
            `Follow it:    slipway watch ${workflowId}`,
            `Approve prod: slipway approve ${workflowId} --env production --as alice`,
            '',
          ].join('\n'),
        );
      }
      if (opts.watch) {
        const final = await withClient((client) =>
          watchPipeline(() => pipelineStatus(client, workflowId), {
            intervalMs: 1000,
            tty: Boolean(process.stdout.isTTY),
            out: process.stdout,
          }),
        );
        if (final.state !== 'succeeded') fail(`pipeline ended ${final.state}${final.error ? `: ${final.error}` : ''}`);
      }
    });
}
