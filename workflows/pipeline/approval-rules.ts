// The rules of an approval gate, as pure functions: who may decide for an environment and when.
// Used by the pipeline's Update validators (refuse at once) and by its Signal handlers (record the
// refusal, since a Signal cannot be refused).
import type { ApprovalRequest, EnvironmentStatus, PipelineInput, RejectionRequest } from '../../common/contract';

export function refusalReason(
  kind: 'approve' | 'reject',
  decision: ApprovalRequest | RejectionRequest,
  environments: EnvironmentStatus[],
  author: PipelineInput['author'],
): string | undefined {
  if (!decision || typeof decision !== 'object')
    return 'expected a JSON object like {"environment":"production","approver":"alice"}';
  if (typeof decision.environment !== 'string' || !decision.environment)
    return 'expected "environment": the name of the environment that waits';
  if (typeof decision.approver !== 'string' || !decision.approver.trim()) return 'expected "approver": who decides';
  const env = environments.find((e) => e.name === decision.environment);
  if (!env)
    return `unknown environment "${decision.environment}": this pipeline has ${environments.map((e) => e.name).join(', ')}`;
  if (env.state !== 'waiting-approval') {
    const waiting = environments.find((e) => e.state === 'waiting-approval');
    return `${env.name} is not waiting for approval (it is ${env.state})` + (waiting ? `; ${waiting.name} is` : '');
  }
  const rule = env.approval;
  if (rule && !rule.approvers.includes(decision.approver)) {
    return `${decision.approver} may not decide for ${env.name}: approvers are ${rule.approvers.join(', ')}`;
  }
  if (kind === 'approve' && rule && !rule.authorMayApprove && author) {
    const names = [author.username, author.name, author.email]
      .filter((n): n is string => !!n)
      .map((n) => n.toLowerCase());
    if (names.includes(decision.approver.toLowerCase())) {
      return `${decision.approver} wrote this change and may not approve it into ${env.name}`;
    }
  }
  return undefined;
}
