// GitLab reporting: the commit status of a pipeline (pending -> running -> success/failed/canceled)
// and one GitLab deployment per environment, so GitLab's commit page and Environments page show
// what Slipway did. Best effort by design (the workflow never fails a delivery over it), and a
// no-op returning null when GITLAB_URL / GITLAB_TOKEN are not set. The token travels only in the
// PRIVATE-TOKEN header: never in arguments, results or error messages.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { NonRetryable } from '../common/errors';

export type CommitState = 'pending' | 'running' | 'success' | 'failed' | 'canceled';
export type DeploymentState = 'running' | 'success' | 'failed' | 'canceled';

export interface CommitStatusInput {
  /** path_with_namespace ("group/project") or numeric project id. */
  project: string;
  sha: string;
  ref?: string;
  state: CommitState;
  description?: string;
  /** Default: the pipeline's page in the Temporal UI when SLIPWAY_TEMPORAL_UI_URL names it (`slipway up` sets it). */
  targetUrl?: string;
  name?: string;
}

export interface DeploymentInput {
  project: string;
  sha: string;
  ref: string;
  tag: boolean;
  environment: string;
  status: DeploymentState;
  /** From an earlier call for the same environment: update it instead of creating another. */
  deploymentId?: number;
}

export interface GitlabOptions {
  baseUrl?: string;
  token?: string;
  /** Per-request timeout; GitLab answers these calls in well under a second when healthy. */
  timeoutMs?: number;
}

interface Response {
  status: number;
  body: unknown;
}

/** GitLab limits these fields to 255 characters and answers 400 beyond. */
const clip = (text: string | undefined) => (text && text.length > 255 ? `${text.slice(0, 252)}...` : text);

/** The pipeline's page in the Temporal UI, when running inside an activity and the UI is known. */
function pipelineUrl(): string | undefined {
  // Configuration only: a worker never reads the dev stack's files (`slipway up` sets the variable).
  const base = process.env.SLIPWAY_TEMPORAL_UI_URL || undefined;
  if (!base) return undefined;
  try {
    const info = Context.current().info;
    const workflowId = info.workflowExecution?.workflowId;
    if (!workflowId) return undefined;
    const namespace = info.workflowNamespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default';
    return `${base.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  } catch {
    return undefined;
  }
}

function messageOf(body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const m = b.message ?? b.error;
    if (m !== undefined) return typeof m === 'string' ? m : JSON.stringify(m);
  }
  return typeof body === 'string' ? body.slice(0, 300) : JSON.stringify(body)?.slice(0, 300);
}

/** GitLab's REST API with the token from the options or GITLAB_URL / GITLAB_TOKEN; `enabled` false without them. */
function gitlabApi(opts: GitlabOptions) {
  const baseUrl = (opts.baseUrl ?? process.env.GITLAB_URL)?.replace(/\/+$/, '');
  const token = opts.token ?? process.env.GITLAB_TOKEN;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const enabled = Boolean(baseUrl && token);

  async function call(method: string, route: string, body?: unknown): Promise<Response> {
    const url = `${baseUrl}/api/v4${route}`;
    let res: globalThis.Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          'PRIVATE-TOKEN': token as string,
          ...(body ? { 'Content-Type': 'application/json' } : {}),
          Accept: 'application/json',
        },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      // Network errors and timeouts retry (the activity's retry policy).
      throw new Error(`GitLab ${method} ${route}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* keep the text */
    }
    if (res.status === 401 || res.status === 403) {
      throw ApplicationFailure.nonRetryable(
        `GitLab ${method} ${route}: ${res.status} ${messageOf(parsed)} (check GITLAB_TOKEN's scope: api)`,
        NonRetryable.Unauthorized,
      );
    }
    if (res.status >= 500 || res.status === 429)
      throw new Error(`GitLab ${method} ${route}: ${res.status} ${messageOf(parsed)}`);
    return { status: res.status, body: parsed };
  }
  return { enabled, call };
}

const projectPath = (project: string) => `/projects/${encodeURIComponent(project)}`;

export function createGitlabActivities(opts: GitlabOptions = {}) {
  const { enabled, call } = gitlabApi(opts);
  const refused = (what: string, res: Response) =>
    ApplicationFailure.nonRetryable(`GitLab refused ${what}: ${res.status} ${messageOf(res.body)}`, 'GitlabRejected');

  /** The latest status GitLab holds for (sha, name), so we post only on a change of state. */
  async function currentCommitState(
    project: string,
    sha: string,
    name: string,
    ref?: string,
  ): Promise<string | undefined> {
    const query = new URLSearchParams({ name, per_page: '100', ...(ref ? { ref } : {}) });
    const res = await call('GET', `${projectPath(project)}/repository/commits/${sha}/statuses?${query}`);
    if (res.status !== 200 || !Array.isArray(res.body)) return undefined;
    const mine = (res.body as { id: number; name?: string; status?: string }[]).filter((s) => s.name === name);
    mine.sort((a, b) => b.id - a.id);
    return mine[0]?.status;
  }

  return {
    async reportCommitStatus(input: CommitStatusInput): Promise<{ posted: boolean; state: CommitState } | null> {
      if (!enabled) return null;
      const name = input.name ?? 'slipway';
      if ((await currentCommitState(input.project, input.sha, name, input.ref)) === input.state) {
        return { posted: false, state: input.state };
      }
      const res = await call('POST', `${projectPath(input.project)}/statuses/${input.sha}`, {
        state: input.state,
        ref: input.ref,
        name,
        description: clip(input.description),
        target_url: clip(input.targetUrl ?? pipelineUrl()),
      });
      if (res.status === 200 || res.status === 201) return { posted: true, state: input.state };
      // A retried attempt may find its own earlier post: same state again is "Cannot transition".
      if (res.status === 400 && /cannot transition status/i.test(messageOf(res.body)))
        return { posted: false, state: input.state };
      throw refused(`commit status ${input.state} for ${input.project}@${input.sha.slice(0, 12)}`, res);
    },

    async reportDeployment(input: DeploymentInput): Promise<{ deploymentId: number } | null> {
      if (!enabled) return null;
      const base = `${projectPath(input.project)}/deployments`;
      if (input.deploymentId !== undefined) {
        const res = await call('PUT', `${base}/${input.deploymentId}`, { status: input.status });
        if (res.status === 200) return { deploymentId: input.deploymentId };
        if (res.status === 400) {
          // A retried attempt whose first try landed: the deployment already has this status.
          const now = await call('GET', `${base}/${input.deploymentId}`);
          if (now.status === 200 && (now.body as { status?: string }).status === input.status)
            return { deploymentId: input.deploymentId };
        }
        throw refused(`deployment ${input.deploymentId} -> ${input.status} in ${input.environment}`, res);
      }
      // Creating is not idempotent in GitLab: reuse a running deployment of this sha that an
      // earlier attempt of this activity created before its answer was lost.
      const list = await call(
        'GET',
        `${base}?${new URLSearchParams({ environment: input.environment, order_by: 'id', sort: 'desc', per_page: '20' })}`,
      );
      if (list.status === 200 && Array.isArray(list.body)) {
        const earlier = (list.body as { id: number; sha?: string; ref?: string; status?: string }[]).find(
          (d) => d.sha === input.sha && d.ref === input.ref && d.status === 'running',
        );
        if (earlier && input.status === 'running') return { deploymentId: earlier.id };
      }
      const res = await call('POST', base, {
        environment: input.environment,
        sha: input.sha,
        ref: input.ref,
        tag: input.tag,
        status: input.status,
      });
      if (res.status === 200 || res.status === 201) return { deploymentId: (res.body as { id: number }).id };
      throw refused(
        `a ${input.status} deployment of ${input.project}@${input.sha.slice(0, 12)} to ${input.environment}`,
        res,
      );
    },
  };
}

/** Files a push changed, or why they cannot be known. */
export type ChangedFiles = { files: string[] } | { unknown: string };

/**
 * The files changed between two commits, from GitLab's compare API
 * (GET /projects/:id/repository/compare?from=&to=, docs.gitlab.com api/repositories): the old and
 * new path of every entry of `diffs`. GitLab leaves `diffs` empty when the comparison is too large
 * for it, and sets `compare_timeout` when it gave up; both, like any failure, answer "unknown".
 */
export function createGitlabCompare(opts: GitlabOptions = {}) {
  const { enabled, call } = gitlabApi({ timeoutMs: 5000, ...opts });
  return async function changedFiles(project: string, from: string, to: string): Promise<ChangedFiles> {
    if (!enabled) return { unknown: 'GITLAB_URL and GITLAB_TOKEN are not set, so the changed files cannot be asked' };
    try {
      const query = new URLSearchParams({ from, to });
      const res = await call('GET', `${projectPath(project)}/repository/compare?${query}`);
      const body = (res.body ?? {}) as { diffs?: unknown; commits?: unknown; compare_timeout?: unknown };
      if (res.status !== 200) return { unknown: `GitLab's compare answered ${res.status} ${messageOf(res.body)}` };
      if (body.compare_timeout === true) return { unknown: "GitLab's compare timed out" };
      const diffs = Array.isArray(body.diffs) ? (body.diffs as { old_path?: unknown; new_path?: unknown }[]) : [];
      const commits = Array.isArray(body.commits) ? body.commits.length : 0;
      if (diffs.length === 0 && commits > 0)
        return { unknown: `GitLab's compare listed ${commits} commit(s) but no diffs (over its limits)` };
      const paths = diffs.flatMap((d) => [d.old_path, d.new_path]).filter((p): p is string => typeof p === 'string');
      return { files: [...new Set(paths)] };
    } catch (err) {
      return { unknown: `GitLab's compare failed: ${(err as Error).message}` };
    }
  };
}
