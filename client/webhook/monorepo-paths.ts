// Monorepos: which of the services a push concerns it actually changed, by their `paths` globs
// (common/path-glob.ts). Pure, like the rest of the intake decision.
//
// The changed files come from the push payload's per-commit `added`/`modified`/`removed` when the
// payload holds all of them. It does not when GitLab truncated `commits` (it lists at most 20;
// `total_commits_count` says how many there were), when a commit lists no files, or when the push
// lists no commits (a branch moved to an existing commit). Then the webhook server asks GitLab's
// compare API for before..after (activities/gitlab.ts, createGitlabCompare) and decides again.
// Why there, and not with git on a worker: GitLab waits 10 s for the webhook's answer, and the
// answer names what was skipped; one API call with the GITLAB_TOKEN Slipway already holds answers
// in milliseconds, where a fetch of a large monorepo would not, and would need repository
// credentials on the webhook host. Deciding on a worker would mean starting a pipeline only to end
// it, in every list and count. When GitLab cannot say either, every service is delivered:
// building once too often is cheap, missing a change is not.
//
// A tag push and a new branch (`before` all zeros) deliver regardless: a tag is a release of the
// whole tree, and a new branch has no "before" to compare with.
import type { ServiceConfig } from '../../common/config';
import { firstMatch } from '../../common/path-glob';
import type { ChangedFiles } from '../../activities/gitlab';

export interface PushFacts {
  isTag: boolean;
  before?: string;
  commits: { added?: string[]; modified?: string[]; removed?: string[] }[];
  totalCommits?: number;
}

export type PathSelection<S> =
  | { kept: S[]; skipped: string[]; note?: string }
  /** The payload does not list every changed file: ask GitLab (or git) for before..after. */
  | { needsChangedFiles: string };

const zeroSha = /^0+$/;

/** The changed files the payload lists, or why it does not list them all. */
function filesInPayload(push: PushFacts): ChangedFiles {
  const listed = push.commits.length;
  if (push.totalCommits !== undefined && push.totalCommits > listed)
    return { unknown: `the payload lists ${listed} of ${push.totalCommits} commits` };
  if (listed === 0) return { unknown: 'the payload lists no commits' };
  if (push.commits.some((c) => !c.added && !c.modified && !c.removed))
    return { unknown: 'a commit of the payload lists no files' };
  return {
    files: [...new Set(push.commits.flatMap((c) => [...(c.added ?? []), ...(c.modified ?? []), ...(c.removed ?? [])]))],
  };
}

/**
 * Services of a push that touch their `paths` (a service without `paths` always does). `asked` is
 * the answer to an earlier needsChangedFiles.
 */
export function selectByPaths<S extends Pick<ServiceConfig, 'name' | 'paths'>>(
  services: S[],
  push: PushFacts,
  asked?: ChangedFiles,
): PathSelection<S> {
  if (!services.some((s) => s.paths)) return { kept: services, skipped: [] };
  if (push.isTag || !push.before || zeroSha.test(push.before)) return { kept: services, skipped: [] };
  const changed = asked ?? filesInPayload(push);
  if ('unknown' in changed) {
    if (!asked) return { needsChangedFiles: changed.unknown };
    return { kept: services, skipped: [], note: `paths not checked, every service delivered: ${changed.unknown}` };
  }
  const kept = services.filter((s) => !s.paths || firstMatch(s.paths, changed.files) !== undefined);
  const skipped = services
    .filter((s) => !kept.includes(s))
    .map((s) => `${s.name}: no changed file matches paths ${(s.paths ?? []).join(', ')}`);
  return { kept, skipped };
}
