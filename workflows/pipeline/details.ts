// The Markdown the Temporal Web UI shows as a pipeline's "current details": what waits for whom,
// what would change, and how each environment stands — readable without opening the code.
import type { EnvironmentStatus, PipelineStatus } from '../../common/contract';

const icons: Record<string, string> = {
  pending: '⏳',
  'waiting-approval': '✋',
  deploying: '🚀',
  verifying: '🔎',
  healthy: '✅',
  failed: '❌',
  'rolled-back': '↩️',
  skipped: '⏭️',
  frozen: '🧊',
};

export function describePipeline(status: PipelineStatus): string {
  const lines = [`**${status.service}** @ \`${status.commit.slice(0, 12)}\` — **${status.state}**`];
  if (status.image) lines.push(`Image: \`${status.image}\``);
  if (status.promotion) lines.push(`${status.promotion.note} (requested by ${status.promotion.requestedBy})`);
  const waiting = status.environments.find((e) => e.state === 'waiting-approval');
  if (waiting?.approval) {
    lines.push(
      '',
      `### Waiting for approval into ${waiting.name}`,
      `Approvers: ${waiting.approval.approvers.join(', ')}` +
        (waiting.approval.deadline ? ` — expires ${waiting.approval.deadline}` : ''),
      `Would change \`${waiting.appId}\` to \`${status.image ?? '(image)'}\`.`,
      `Approve: More Actions → Send a Signal → \`approve\` with \`{"environment":"${waiting.name}","approver":"<your name>"}\` ` +
        '(or Send an Update → `approvePromotion`, same payload, which answers at once when refused).',
    );
  }
  const frozen = status.environments.find((e) => e.state === 'frozen');
  if (frozen?.freeze) {
    lines.push(
      '',
      `### ${frozen.name} frozen until ${frozen.freeze.untilLocal} (${frozen.freeze.reasons.join(', ')})`,
      'The pipeline goes on by itself when the freeze ends.' +
        (frozen.approval
          ? ` An approver (${frozen.approval.approvers.join(', ')}) may override it for this pipeline: ` +
            `More Actions → Send a Signal → \`overrideFreeze\` with \`{"environment":"${frozen.name}","approver":"<your name>","reason":"<why>"}\`.`
          : ''),
    );
  }
  if (status.environments.length > 0) {
    lines.push('', '| environment | state | Marathon version | note |', '|---|---|---|---|');
    for (const e of status.environments) {
      const note =
        e.error ??
        [verifyingNote(e), e.imageTag && `tagged :${e.imageTag}`, e.warning && `⚠️ ${e.warning}`]
          .filter(Boolean)
          .join('; ');
      lines.push(
        `| ${e.name} | ${icons[e.state] ?? ''} ${e.state} | ${e.version ?? ''} | ${note.replace(/\|/g, '/').slice(0, 120)} |`,
      );
    }
  }
  if (status.error) lines.push('', `**Error:** ${status.error}`);
  return lines.join('\n');
}

/**
 * "verifying until 10:42:05 UTC, 10 min left": the details are written when the state changes,
 * so the time left is as of then and the deadline is what stays true.
 */
function verifyingNote(e: EnvironmentStatus): string {
  if (e.state !== 'verifying' || !e.verifyingUntil) return '';
  const left = Math.max(0, Math.ceil((Date.parse(e.verifyingUntil) - Date.now()) / 60_000));
  return `verifying until ${e.verifyingUntil.slice(11, 19)} UTC, ${left} min left`;
}
