// The Markdown the Temporal Web UI shows as a pipeline's "current details": what waits for whom,
// what would change, and how each environment stands — readable without opening the code.
import type { PipelineStatus } from '../../common/contract';

const icons: Record<string, string> = {
  pending: '⏳',
  'waiting-approval': '✋',
  deploying: '🚀',
  healthy: '✅',
  failed: '❌',
  'rolled-back': '↩️',
  skipped: '⏭️',
  frozen: '🧊',
};

export function describePipeline(status: PipelineStatus): string {
  const lines = [`**${status.service}** @ \`${status.commit.slice(0, 12)}\` — **${status.state}**`];
  if (status.image) lines.push(`Image: \`${status.image}\``);
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
        e.error ?? [e.imageTag && `tagged :${e.imageTag}`, e.warning && `⚠️ ${e.warning}`].filter(Boolean).join('; ');
      lines.push(
        `| ${e.name} | ${icons[e.state] ?? ''} ${e.state} | ${e.version ?? ''} | ${note.replace(/\|/g, '/').slice(0, 120)} |`,
      );
    }
  }
  if (status.error) lines.push('', `**Error:** ${status.error}`);
  return lines.join('\n');
}
