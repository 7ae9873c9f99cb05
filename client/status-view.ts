// How a pipeline looks on a terminal: the `slipway status` table and the stage lines `slipway
// watch` redraws. Pure functions of a PipelineStatus (and the clock), so tests compare text.
import { finalPipelineStates, type EnvironmentStatus, type PipelineStatus } from '../common/contract';
import { table } from './cli-support';

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

const since = (from: string | undefined, to: string | undefined, now: number) =>
  from ? formatDuration((to ? Date.parse(to) : now) - Date.parse(from)) : '';

const refName = (ref?: string) => ref?.replace(/^refs\/(heads|tags)\//, '');

function environmentNote(e: EnvironmentStatus, status: PipelineStatus, now: number): string {
  if (e.state === 'waiting-approval' && e.approval) {
    const left = e.approval.deadline ? `, ${formatDuration(Date.parse(e.approval.deadline) - now)} left` : '';
    return `waits for ${e.approval.approvers.join(' or ')}${left}`;
  }
  if (e.state === 'frozen' && e.freeze) return `frozen until ${e.freeze.untilLocal} (${e.freeze.reasons.join(', ')})`;
  if (e.error) return e.error;
  if (e.state === 'verifying') return verifyingText(e, now);
  const notes: string[] = [];
  const decision = [...status.decisions].reverse().find((d) => d.environment === e.name && d.accepted);
  if (decision)
    notes.push(
      `${decision.kind === 'approve' ? 'approved' : 'rejected'} by ${decision.approver}${decision.verified ? ' (verified)' : ''}`,
    );
  else if (e.approval && e.state === 'pending') notes.push(`needs approval by ${e.approval.approvers.join(' or ')}`);
  if (e.freeze?.overriddenBy) notes.push(`freeze overridden by ${e.freeze.overriddenBy}: ${e.freeze.overrideReason}`);
  if (e.imageTag) notes.push(`tagged :${e.imageTag}`);
  if (e.live) notes.push(`served by ${e.live.appId}${e.live.colour ? ` (${e.live.colour})` : ''}`);
  if (e.warning) notes.push(`warning: ${e.warning}`);
  return notes.join('; ');
}

/** "verifying, 4 min left" (config `verify`); the last minute counts as 1. */
export function verifyingText(e: EnvironmentStatus, now: number): string {
  if (!e.verifyingUntil) return 'verifying';
  const ms = Date.parse(e.verifyingUntil) - now;
  return ms > 0 ? `verifying, ${Math.ceil(ms / 60_000)} min left` : 'verifying, finishing';
}

export function renderStatusTable(status: PipelineStatus, now = Date.now()): string {
  const lines = [
    `Pipeline   ${status.workflowId}`,
    `Service    ${status.service} @ ${status.commit.slice(0, 12)}${status.ref ? ` (${refName(status.ref)})` : ''}`,
    `State      ${status.state}${status.error ? ` — ${status.error}` : ''}`,
    `Started    ${status.startedAt}${status.finishedAt ? `, finished after ${since(status.startedAt, status.finishedAt, now)}` : `, running ${since(status.startedAt, undefined, now)}`}`,
    `Trigger    ${status.trigger.kind}${status.trigger.user ? ` by ${status.trigger.user}` : ''}${status.author?.name || status.author?.username ? `; author ${status.author.username ?? status.author.name}` : ''}`,
    `Image      ${status.image ?? status.build.image ?? '(not built yet)'}`,
    `Build      ${status.promotion ? `${status.promotion.note} (requested by ${status.promotion.requestedBy})` : status.build.finishedAt ? `done in ${since(status.build.startedAt, status.build.finishedAt, now)}` : status.build.startedAt ? `running ${since(status.build.startedAt, undefined, now)}` : 'not started'}${status.build.host ? ` on ${status.build.host}` : ''}`,
    '',
  ];
  const rows = status.environments.map((e) => [
    e.name,
    e.state,
    since(e.startedAt, e.finishedAt, now),
    e.version ?? '',
    environmentNote(e, status, now),
  ]);
  lines.push(table(['ENVIRONMENT', 'STATE', 'TIME', 'MARATHON VERSION', 'NOTE'], rows).trimEnd());
  if (status.decisions.length) {
    lines.push('', 'Decisions');
    for (const d of status.decisions) {
      const how = `${d.channel}${d.verified ? ', verified' : ''}`;
      const words = d.kind === 'approve' ? 'approve' : 'reject';
      const text = d.accepted ? (d.comment ?? d.reason ?? '') : `refused: ${d.refusal}`;
      lines.push(`  ${d.at}  ${words} ${d.environment} by ${d.approver} (${how})${text ? ` — ${text}` : ''}`);
    }
  }
  if (status.freezeOverrides?.length) {
    lines.push('', 'Freeze overrides');
    for (const o of status.freezeOverrides) {
      const how = `${o.channel}${o.verified ? ', verified' : ''}`;
      lines.push(
        `  ${o.at}  ${o.environment} by ${o.approver} (${how}) — ${o.accepted ? o.reason : `refused: ${o.refusal}`}`,
      );
    }
  }
  if (status.supersededBy) lines.push('', `Superseded by ${status.supersededBy}`);
  return lines.join('\n') + '\n';
}

export type StageState = 'pending' | 'running' | 'waiting' | 'done' | 'failed' | 'skipped';

export interface Stage {
  name: string;
  state: StageState;
  detail: string;
}

/** The pipeline as stages in order: build, then each environment. */
export function stagesOf(status: PipelineStatus, now = Date.now()): Stage[] {
  const ended = finalPipelineStates.includes(status.state);
  const buildState: StageState = status.image
    ? 'done'
    : status.build.startedAt
      ? ended
        ? 'failed'
        : 'running'
      : status.state === 'failed'
        ? 'failed'
        : ended
          ? 'skipped'
          : 'pending';
  const stages: Stage[] = [
    {
      name: 'build',
      state: buildState,
      detail:
        buildState === 'done'
          ? `${status.image} (${status.promotion?.note ?? since(status.build.startedAt, status.build.finishedAt, now)})`
          : buildState === 'running'
            ? `building${status.build.host ? ` on ${status.build.host}` : ''} ${since(status.build.startedAt, undefined, now)}`
            : buildState === 'failed'
              ? (status.error ?? 'failed')
              : '',
    },
  ];
  for (const e of status.environments) {
    const state: StageState =
      e.state === 'healthy'
        ? 'done'
        : e.state === 'deploying' || e.state === 'verifying'
          ? 'running'
          : e.state === 'waiting-approval' || e.state === 'frozen'
            ? 'waiting'
            : e.state === 'failed' || e.state === 'rolled-back'
              ? 'failed'
              : e.state === 'skipped'
                ? 'skipped'
                : 'pending';
    const time = since(e.startedAt, e.finishedAt, now);
    const detail =
      state === 'done'
        ? `healthy${time ? ` (${time})` : ''}`
        : state === 'running'
          ? e.state === 'verifying'
            ? verifyingText(e, now)
            : `deploying ${time}`
          : state === 'failed'
            ? `${e.state}${e.error ? `: ${e.error}` : ''}`
            : environmentNote(e, status, now);
    stages.push({ name: e.name, state, detail });
  }
  return stages;
}

const marks: Record<StageState, string> = {
  pending: '·',
  running: '▶',
  waiting: '⏸',
  done: '✔',
  failed: '✘',
  skipped: '-',
};

export function renderStages(status: PipelineStatus, now = Date.now()): string[] {
  const stages = stagesOf(status, now);
  const width = Math.max(...stages.map((s) => s.name.length));
  const lines = [`${status.workflowId}  ${status.state}  ${since(status.startedAt, status.finishedAt, now)}`];
  for (const s of stages)
    lines.push(`  ${marks[s.state]} ${s.name.padEnd(width)}  ${s.state.padEnd(7)}  ${s.detail}`.trimEnd());
  if (finalPipelineStates.includes(status.state) && status.error) lines.push(`  ${status.error}`);
  return lines;
}
