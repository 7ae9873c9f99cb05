// What a delivery event says to people: one line of text per kind, plus for "waiting for
// approval" the pipeline's page in the Temporal UI and the exact command that approves. The text
// uses only what Slack, Mattermost and Rocket.Chat all render: `code`, *bold* and bare URLs.
import { temporalUiLink } from '../../client/pipelines';
import type { DeliveryEvent } from '../../common/contract';

export interface EventLinks {
  /** The workflow's page in the Temporal UI, when the worker knows the UI (SLIPWAY_TEMPORAL_UI_URL). */
  temporalUi?: string;
  /** For waiting-approval: the command line that approves. */
  approveCommand?: string;
}

export function linksFor(event: DeliveryEvent, env: NodeJS.ProcessEnv = process.env): EventLinks {
  const links: EventLinks = {};
  const ui = temporalUiLink(
    env.SLIPWAY_TEMPORAL_UI_URL || undefined,
    env.TEMPORAL_NAMESPACE || 'default',
    event.pipelineId,
  );
  if (ui) links.temporalUi = ui;
  if (event.kind === 'waiting-approval' && event.environment)
    links.approveCommand = `slipway approve ${event.pipelineId} --env ${event.environment} --token "$SLIPWAY_TOKEN"`;
  return links;
}

const short = (commit: string | undefined) => (commit ? ` \`${commit.slice(0, 12)}\`` : '');

/** One sentence saying what happened. */
export function headline(event: DeliveryEvent): string {
  const what = `*${event.service}*${short(event.commit)}`;
  const into = event.environment ? ` into *${event.environment}*` : '';
  const in_ = event.environment ? ` in *${event.environment}*` : '';
  const by = event.actor ? ` by ${event.actor}` : '';
  const why = event.reason ? `: ${event.reason}` : '';
  switch (event.kind) {
    case 'waiting-approval': {
      const who = event.approvers?.length ? ` (approvers: ${event.approvers.join(', ')})` : '';
      const until = event.deadline ? `, until ${event.deadline}` : '';
      return `✋ ${what} waits for approval${into}${who}${until}`;
    }
    case 'approved':
      return `👍 ${what} approved${into}${by}${why}`;
    case 'rejected':
      return `⛔ ${what} rejected${into}${by}${why}`;
    case 'approval-expired':
      return `⌛ ${what}: no decision${into} in time${why}`;
    case 'deployed':
      return `✅ ${what} deployed${in_} and healthy`;
    case 'failed':
      return `❌ ${what} failed${in_}${why}`;
    case 'rolled-back': {
      const to = event.rolledBackTo ? ` to ${event.rolledBackTo}` : '';
      return `↩️ ${what} rolled back${in_}${to}${by}${why}`;
    }
    case 'cancelled':
      return `🛑 ${what} cancelled${in_}${why}`;
    case 'superseded':
      return `⏭️ ${what} superseded${in_}${why}`;
    case 'frozen':
      return `🧊 ${what} waits: ${event.reason ?? `${event.environment ?? ''} is frozen`}`;
    case 'freeze-overridden':
      return `🔥 ${what}: freeze${in_} overridden${by}${why}`;
    case 'drift':
      return `🔀 ${what} drifted${in_}${why}`;
    default:
      return `${String(event.kind)}: ${what}${in_}${by}${why}`;
  }
}

/** The full message text: the headline, then the links that help act on it. */
export function messageText(event: DeliveryEvent, links: EventLinks): string {
  const lines = [headline(event)];
  if (links.approveCommand) lines.push(`Approve: \`${links.approveCommand}\``);
  if (links.temporalUi) lines.push(`Temporal UI: ${links.temporalUi}`);
  return lines.join('\n');
}
