// Notifications of delivery events to the targets `notify:` names in the worker's deploy config
// (slipway.yaml for all services, a service file for its own): a Slack-compatible incoming webhook
// (`{ "text": ... }`, which Slack, Mattermost and Rocket.Chat all accept) or a generic JSON
// webhook signed with HMAC-SHA256. URLs and signing keys are resolved here, on the worker, from
// secret references: they never travel through a workflow, and no error or log names them.
import { createHash, createHmac } from 'node:crypto';
import type { NotifyTarget } from '../../common/config';
import type { DeliveryEvent } from '../../common/contract';
import { resolveSecretValues } from '../secrets';
import { linksFor, messageText, type EventLinks } from './messages';

/** A notification that is not answered within this is given up (a slow chat must not hold a worker). */
export const defaultSendTimeoutMs = 5000;

export interface SelectedTarget {
  target: NotifyTarget;
  /** Stable while the config entry is unchanged: the sent-ledger's key. Names no URL. */
  key: string;
  kind: 'slack' | 'webhook';
  /** Where in the config it came from, for logs and errors. */
  where: string;
}

/** The targets of `targets` (from `where`) that want this event. */
export function selectTargets(targets: NotifyTarget[], where: string, event: DeliveryEvent): SelectedTarget[] {
  return targets.flatMap((target, i) => {
    if (target.events && !target.events.includes(event.kind)) return [];
    if (target.services && !target.services.includes(event.service)) return [];
    if (target.environments && !(event.environment && target.environments.includes(event.environment))) return [];
    const kind = target.slack ? 'slack' : 'webhook';
    const key = `${kind}-${createHash('sha256').update(JSON.stringify(target)).digest('hex').slice(0, 16)}`;
    return [{ target, key, kind, where: `${where}.notify.${i}` }];
  });
}

/** The JSON a generic webhook receives. */
export interface WebhookBody {
  event: DeliveryEvent;
  text: string;
  links: EventLinks;
}

/**
 * The webhook signature: HMAC-SHA256, keyed with the target's secret, of
 * `<X-Slipway-Timestamp>.<raw body>`, sent as `X-Slipway-Signature: sha256=<hex>`. The timestamp
 * (Unix seconds) is inside the signed text so a receiver can refuse an old delivery replayed.
 */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** A send that did not work; `retryable` is false for what only a config change fixes. */
export class SendFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** Sends one event to one target; throws SendFailure. */
export async function sendNotification(
  selected: SelectedTarget,
  event: DeliveryEvent,
  opts: { env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<void> {
  const links = linksFor(event, opts.env);
  const text = messageText(event, links);
  let url: string;
  let headers: Record<string, string> = { 'Content-Type': 'application/json' };
  let body: string;
  try {
    const { slack, webhook } = selected.target;
    if (slack) {
      url = resolveSecretValues({ url: slack.url }, `${selected.where}.slack`, opts.env).url!;
      body = JSON.stringify({ text });
    } else {
      const resolved = resolveSecretValues(webhook!, `${selected.where}.webhook`, opts.env);
      url = resolved.url!;
      body = JSON.stringify({ event, text, links } satisfies WebhookBody);
      const timestamp = String(Math.floor(Date.now() / 1000));
      headers = {
        ...headers,
        'X-Slipway-Event': event.kind,
        'X-Slipway-Delivery': event.id,
        'X-Slipway-Timestamp': timestamp,
        'X-Slipway-Signature': webhookSignature(resolved.secret!, timestamp, body),
      };
    }
  } catch (err) {
    throw new SendFailure((err as Error).message, false);
  }
  await post(url, headers, body, selected, opts.timeoutMs);
}

async function post(
  url: string,
  headers: Record<string, string>,
  body: string,
  selected: SelectedTarget,
  timeoutMs: number,
): Promise<void> {
  let status: number;
  try {
    // No redirects: a signed body goes to the configured address or nowhere.
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.status;
    await res.arrayBuffer().catch(() => undefined);
  } catch (err) {
    // The URL may hold a token (Slack's do): name the target and the kind of error, not the URL.
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new SendFailure(`${selected.where} (${selected.kind}): not delivered: ${cause}`, true);
  }
  if (status < 200 || status > 299) {
    // 4xx other than 408/429 is the receiver refusing this message: sending it again changes nothing.
    const retryable = status >= 500 || status === 408 || status === 429;
    throw new SendFailure(`${selected.where} (${selected.kind}): the receiver answered HTTP ${status}`, retryable);
  }
}
