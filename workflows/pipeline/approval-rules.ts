// The rules of an approval gate, as pure functions: who may decide for an environment, when, and
// through which channel. Used by the pipeline's Update validators (refuse at once) and by its
// Signal handlers (record the refusal, since a Signal cannot be refused).
import type {
  ApprovalRequest,
  EnvironmentStatus,
  Identities,
  PipelineInput,
  RejectionRequest,
} from '../../common/contract';

export type DecisionKind = 'approve' | 'reject';

/** Who is behind the change, and which rule tells them apart from approvers. */
export interface Authorship {
  changedBy?: Identities;
  author?: PipelineInput['author'];
  /**
   * false for pipelines started before stable identities (patch `approver-identities`): they
   * compare the approver's name with the head commit's author, as they did when they started.
   */
  stableIdentities: boolean;
}

export function refusalReason(
  kind: DecisionKind,
  decision: ApprovalRequest | RejectionRequest,
  environments: EnvironmentStatus[],
  authorship: Authorship,
): string | undefined {
  const named = namedEnvironment(decision, environments);
  if (typeof named === 'string') return named;
  const env = named;
  if (env.state !== 'waiting-approval') {
    const waiting = environments.find((e) => e.state === 'waiting-approval');
    return `${env.name} is not waiting for approval (it is ${env.state})` + (waiting ? `; ${waiting.name} is` : '');
  }
  return approverRefusal(kind, decision, env, authorship);
}

/** The environment a decision names, or why the decision names none of this pipeline's. */
export function namedEnvironment(
  decision: { environment?: unknown; approver?: unknown } | undefined,
  environments: EnvironmentStatus[],
): EnvironmentStatus | string {
  if (!decision || typeof decision !== 'object')
    return 'expected a JSON object like {"environment":"production","approver":"alice"}';
  if (typeof decision.environment !== 'string' || !decision.environment)
    return 'expected "environment": the name of the environment that waits';
  if (typeof decision.approver !== 'string' || !decision.approver.trim()) return 'expected "approver": who decides';
  const env = environments.find((e) => e.name === decision.environment);
  return (
    env ??
    `unknown environment "${decision.environment}": this pipeline has ${environments.map((e) => e.name).join(', ')}`
  );
}

/** The routes a verified decision of each kind takes (HTTP API path, CLI command). */
const verifiedRoutes: Record<DecisionKind | 'override-freeze', [string, string]> = {
  approve: ['approvals', 'approve'],
  reject: ['rejections', 'reject'],
  'override-freeze': ['freeze-overrides', 'override-freeze'],
};

/**
 * Why this approver may not decide for `env` by its approval rule: not listed, not verified where
 * the rule demands it, or (approvals and freeze overrides) an author of the change.
 */
export function approverRefusal(
  kind: DecisionKind | 'override-freeze',
  decision: { approver: string; attestation?: string },
  env: EnvironmentStatus,
  authorship: Authorship,
): string | undefined {
  const rule = env.approval;
  if (!rule) return undefined;
  if (!rule.approvers.includes(decision.approver)) {
    return `${decision.approver} may not decide for ${env.name}: approvers are ${rule.approvers.join(', ')}`;
  }
  if (rule.requireVerified && !decision.attestation) {
    const [route, command] = verifiedRoutes[kind];
    return (
      `${env.name} takes only verified decisions: ${kind} through Slipway's HTTP API ` +
      `(POST /pipelines/<id>/${route} with your approver token) ` +
      `or \`slipway ${command} <id> --env ${env.name} --token <your token>\`, not a Temporal UI signal or update`
    );
  }
  if (kind === 'reject' || rule.authorMayApprove) return undefined;
  return authorship.stableIdentities
    ? authorRefusal(decision.approver, env, authorship.changedBy)
    : namedAuthorRefusal(decision.approver, env, authorship.author);
}

/** The rule before stable identities: the approver's name against the head commit's author, if known. */
function namedAuthorRefusal(approver: string, env: EnvironmentStatus, author: PipelineInput['author']) {
  const names = [author?.username, author?.name, author?.email].filter((n): n is string => !!n);
  if (!names.map((n) => n.toLowerCase()).includes(approver.toLowerCase())) return undefined;
  return `${approver} wrote this change and may not approve it into ${env.name}`;
}

/** An author of the change may not approve it; a change whose authors are unknown cannot be told apart. */
function authorRefusal(
  approver: string,
  env: EnvironmentStatus,
  changedBy: Identities | undefined,
): string | undefined {
  const authors = normalised(changedBy);
  if (authors.size === 0) {
    return (
      `${env.name} may not be approved by the change's authors, and this change's authors are unknown ` +
      '(no pusher or commit author from GitLab or the checkout yet), so no approval can be told apart from them'
    );
  }
  const own = normalised(env.approval?.approverIdentities?.[approver] ?? { gitlabUsernames: [approver] });
  const shared = [...own].find((id) => authors.has(id));
  if (shared) return `${approver} is an author of this change (${shared}) and may not approve it into ${env.name}`;
  return undefined;
}

/** One comparable key per identity: "gitlab user 12", "gitlab @alice", "alice@example.com". */
function normalised(ids: Identities | undefined): Set<string> {
  return new Set([
    ...(ids?.gitlabUserIds ?? []).map((id) => `gitlab user ${id}`),
    ...(ids?.gitlabUsernames ?? []).map((u) => `gitlab @${u.toLowerCase()}`),
    ...(ids?.emails ?? []).map((e) => e.toLowerCase()),
  ]);
}

/** Adds identities to a set of identities, without repeats (the checkout's author to the webhook's). */
export function mergeIdentities(into: Identities | undefined, more: Identities): Identities {
  const union = <T>(a: T[] | undefined, b: T[] | undefined) => [...new Set([...(a ?? []), ...(b ?? [])])];
  return {
    gitlabUserIds: union(into?.gitlabUserIds, more.gitlabUserIds),
    gitlabUsernames: union(into?.gitlabUsernames, more.gitlabUsernames),
    emails: union(
      into?.emails,
      more.emails?.map((e) => e.toLowerCase()),
    ),
  };
}
