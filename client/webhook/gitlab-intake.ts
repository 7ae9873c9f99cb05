// From a GitLab webhook delivery to the pipelines it should start: which event it is, whether
// the payload has what we need, which configured services it concerns (project path +
// branch/tag rules), and the PipelineInput for each. Pure: no I/O, so every rule is unit-tested
// on GitLab's documented payloads (docs.gitlab.com, webhook events): deploy `checkout_sha`
// (never `after`), an all-zero `after` is a deletion, unsupported events are ignored with 2xx.
import { z } from 'zod';
import { repositoryUrl, type DeployConfig } from '../../common/config';
import { ConfigError } from '../../common/errors';
import type { Identities, PipelineInput } from '../../common/contract';
import type { ChangedFiles } from '../../activities/gitlab';
import { selectByPaths } from './monorepo-paths';

export type IntakeDecision =
  | {
      kind: 'ignored';
      reason: string;
      /** Services the push concerns that it left out, each with why (monorepo `paths`, repository). */
      skipped?: string[];
    }
  /**
   * Services with `paths` are configured and the payload does not list every changed file: ask
   * for the files changed between `before` and `after` and interpret the delivery again with them.
   */
  | { kind: 'needs-changed-files'; project: string; before: string; after: string; why: string }
  | {
      kind: 'start';
      pipelines: PipelineInput[];
      event: 'push' | 'tag_push';
      project: string;
      ref: string;
      sha: string;
      /** Matching services left out, with the reason: no repository, or no changed file in their `paths`. */
      skipped?: string[];
      /** Why `paths` were not applied (the changed files could not be known). */
      note?: string;
    };

export class PayloadError extends Error {
  override name = 'PayloadError';
}

const zeroSha = /^0+$/;
const sha = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, 'expected a 40-hex (or 64-hex) commit SHA');

const fileList = z.array(z.string()).optional();
const commit = z.looseObject({
  id: z.string(),
  added: fileList,
  modified: fileList,
  removed: fileList,
  timestamp: z.string().optional(),
  author: z.looseObject({ name: z.string().optional(), email: z.string().nullish() }).optional(),
});

const refPayload = z.looseObject({
  object_kind: z.enum(['push', 'tag_push']),
  ref: z.string().regex(/^refs\/(heads|tags)\/.+/, 'expected refs/heads/<branch> or refs/tags/<tag>'),
  before: z.string().optional(),
  after: z.string(),
  checkout_sha: sha.nullable(),
  user_id: z.number().int().nullish(),
  user_username: z.string().nullish(),
  user_name: z.string().nullish(),
  user_email: z.string().nullish(),
  project: z.looseObject({ path_with_namespace: z.string().min(1, 'expected "group/project"') }),
  commits: z.array(commit).default([]),
  /** How many commits the push carried; `commits` lists at most 20 of them. */
  total_commits_count: z.number().int().nonnegative().optional(),
});

type RefPayload = z.infer<typeof refPayload>;

const eventKinds: Record<string, 'push' | 'tag_push'> = { 'Push Hook': 'push', 'Tag Push Hook': 'tag_push' };

/** GitLab-style ref patterns: `*` matches anything (including "/"), everything else literally. */
export function refPatternMatches(pattern: string, name: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return regex.test(name);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.map(String).join('.') || '(body)';
  return `field "${field}": ${issue.message}`;
}

/**
 * The event kind comes from X-Gitlab-Event when GitLab sent it, else from `object_kind`; both
 * present and disagreeing means a payload we do not understand.
 */
export function interpretGitlabDelivery(
  eventHeader: string | undefined,
  body: unknown,
  config: DeployConfig,
  deliveryId?: string,
  env: NodeJS.ProcessEnv = process.env,
  /** The changed files, once asked for after a `needs-changed-files` answer. */
  changed?: ChangedFiles,
): IntakeDecision {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new PayloadError('expected a JSON object');
  const objectKind = (body as { object_kind?: unknown }).object_kind;
  const fromHeader = eventHeader ? eventKinds[eventHeader] : undefined;
  if (eventHeader && !fromHeader)
    return { kind: 'ignored', reason: `event "${eventHeader}" does not start deliveries` };
  if (!eventHeader && objectKind !== 'push' && objectKind !== 'tag_push') {
    return { kind: 'ignored', reason: `object_kind ${JSON.stringify(objectKind ?? null)} does not start deliveries` };
  }
  if (fromHeader && objectKind !== fromHeader) {
    throw new PayloadError(
      `field "object_kind": expected "${fromHeader}" for X-Gitlab-Event "${eventHeader}", got ${JSON.stringify(objectKind ?? null)}`,
    );
  }

  const parsed = refPayload.safeParse(body);
  if (!parsed.success) throw new PayloadError(describeIssue(parsed.error.issues[0] as z.core.$ZodIssue));
  const p = parsed.data;
  const isTag = p.ref.startsWith('refs/tags/');
  if ((p.object_kind === 'tag_push') !== isTag) {
    throw new PayloadError(`field "ref": ${p.object_kind} event with ref "${p.ref}"`);
  }
  const refName = p.ref.replace(/^refs\/(heads|tags)\//, '');
  const what = `${isTag ? 'tag' : 'branch'} "${refName}"`;

  if (zeroSha.test(p.after) || p.checkout_sha === null) return { kind: 'ignored', reason: `${what} was deleted` };

  const project = p.project.path_with_namespace;
  const services = [...config.services.values()].filter(
    (s) => s.gitlab && s.gitlab.project.toLowerCase() === project.toLowerCase(),
  );
  if (services.length === 0)
    return { kind: 'ignored', reason: `project "${project}" is not configured for any service` };
  const matching = services.filter((s) =>
    (isTag ? (s.gitlab?.tags ?? []) : (s.gitlab?.branches ?? [])).some((pattern) =>
      refPatternMatches(pattern, refName),
    ),
  );
  if (matching.length === 0) {
    return {
      kind: 'ignored',
      reason: `${what} of "${project}" matches no ${isTag ? 'tag' : 'branch'} rule of ${services.map((s) => s.name).join(', ')}`,
    };
  }

  // A service the workers could not check out would fail minutes later in planning: say so now.
  const problems = matching.map((s) => repositoryProblem(config, s, env));
  const resolvable = matching.filter((_, i) => problems[i] === undefined);
  const unresolved = problems.filter((p): p is string => p !== undefined);
  if (resolvable.length === 0)
    return { kind: 'ignored', reason: `no repository to check out: ${unresolved.join('; ')}` };

  const checkoutSha = p.checkout_sha;
  const push = { isTag, before: p.before, commits: p.commits, totalCommits: p.total_commits_count };
  const selection = selectByPaths(resolvable, push, changed);
  if ('needsChangedFiles' in selection) {
    const why = selection.needsChangedFiles;
    return { kind: 'needs-changed-files', project, before: p.before as string, after: checkoutSha, why };
  }
  const skipped = [...unresolved, ...selection.skipped];
  if (selection.kept.length === 0)
    return { kind: 'ignored', reason: `${what} of "${project}" changes no file in the paths of its services`, skipped };

  const pipelines = selection.kept.map((s): PipelineInput => ({
    service: s.name,
    commit: checkoutSha,
    ref: p.ref,
    trigger: {
      kind: isTag ? 'gitlab-tag' : 'gitlab-push',
      deliveryId,
      project,
      user: p.user_username ?? p.user_name ?? undefined,
    },
    ...authorOf(p, checkoutSha),
    changedBy: changedBy(p),
  }));
  return {
    kind: 'start',
    pipelines,
    event: p.object_kind,
    project,
    ref: p.ref,
    sha: checkoutSha,
    ...(skipped.length > 0 ? { skipped } : {}),
    ...(selection.note ? { note: selection.note } : {}),
  };
}

/** Why the service's repository URL cannot be worked out from the config, or undefined. */
function repositoryProblem(
  config: DeployConfig,
  service: Parameters<typeof repositoryUrl>[1],
  env: NodeJS.ProcessEnv,
): string | undefined {
  try {
    repositoryUrl(config, service, env);
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
}

/**
 * Everyone answerable for the pushed change, by stable identity: the pusher's GitLab user ID and
 * username, and the author emails of every listed commit (GitLab lists the newest 20; the checkout
 * adds the head commit's author in any case). Redacted emails are left out.
 */
function changedBy(p: RefPayload): Identities {
  const emails = [p.user_email, ...p.commits.map((c) => c.author?.email)]
    .filter((e): e is string => !!e && e !== '[REDACTED]')
    .map((e) => e.toLowerCase());
  return {
    gitlabUserIds: p.user_id ? [p.user_id] : [],
    gitlabUsernames: p.user_username ? [p.user_username] : [],
    emails: [...new Set(emails)],
  };
}

/**
 * The commit's author when the push lists it (the newest 20 commits are listed). The pusher's
 * username is added when the pusher is that author (same email) or when the commit is not listed
 * (a tag push): then the pusher is the person answerable for the change.
 */
function authorOf(p: RefPayload, checkoutSha: string): Pick<PipelineInput, 'author' | 'committedAt'> {
  const c = p.commits.find((x) => x.id === checkoutSha);
  const username = p.user_username ?? undefined;
  if (!c) return username || p.user_name ? { author: { username, name: p.user_name ?? undefined } } : {};
  const email = c.author?.email && c.author.email !== '[REDACTED]' ? c.author.email : undefined;
  const samePerson = email && p.user_email && email.toLowerCase() === p.user_email.toLowerCase();
  const committedAt =
    c.timestamp && !Number.isNaN(Date.parse(c.timestamp)) ? new Date(c.timestamp).toISOString() : undefined;
  return {
    author: { name: c.author?.name, email, username: samePerson ? username : undefined },
    ...(committedAt ? { committedAt } : {}),
  };
}
