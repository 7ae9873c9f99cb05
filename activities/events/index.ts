// Delivery events on the deploy worker: each one is appended to the audit log and sent to the
// notification targets that want it. `recordDeliveryEvent` is a plain function, so a caller
// outside a workflow (a drift check, a script) records events exactly the way workflows do; the
// activity of the same name wraps it for workflows (workflows/events.ts).
//
// Once per event: the audit log skips an id it already holds, and the sent-ledger beside it
// (`<audit dir>/sent/<day>.jsonl`) holds one line per (event, target) delivered, so a retried
// activity or a worker that crashed between two targets sends only what is missing. The ledger
// line is written right AFTER a target accepted the message: at-least-once. The other order
// (write, then send) would lose a "waiting for approval" message for good whenever a worker died
// mid-send, and a lost message is worse than a repeated one. A repeat can only happen when the
// worker dies in the milliseconds between the receiver's answer and the ledger write; webhook
// receivers can drop it by X-Slipway-Delivery (the event id), which stays the same.
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { AuditLog, DayLedger, auditDir } from '../../common/audit-log';
import { cachedDeployConfig } from '../../common/config-cache';
import { deliveryEventKinds, type DeliveryEvent } from '../../common/contract';
import { createLogger } from '../../common/log';
import { notifications } from '../../common/prometheus';
import { configDir } from '../plan';
import { defaultSendTimeoutMs, selectTargets, sendNotification, SendFailure, type SelectedTarget } from './notify';

export interface EventRecorderOptions {
  /** Default: SLIPWAY_AUDIT_DIR, else .slipway/audit. */
  auditDir?: string;
  /** The deploy config naming the targets. Default: SLIPWAY_CONFIG_DIR. */
  configDir?: string;
  /** Where secret references and SLIPWAY_TEMPORAL_UI_URL are read. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  sendTimeoutMs?: number;
}

export interface RecordResult {
  /** False when the audit log already held this event. */
  audited: boolean;
  /** Target keys sent to now, and those the ledger says were sent before. */
  sent: string[];
  alreadySent: string[];
  failed: { where: string; error: string; retryable: boolean }[];
}

interface SentEntry {
  id: string;
  at: string;
  event: string;
  target: string;
  sentAt: string;
}

const log = createLogger('events');
/** One ledger object per directory, so each file is read once per process. */
const ledgers = new Map<string, { audit: AuditLog; sent: DayLedger<SentEntry> }>();
/** Sends under way in this process: a retry overlapping a slow first attempt waits for it. */
const inFlight = new Map<string, Promise<void>>();

function ledgersFor(dir: string) {
  let found = ledgers.get(dir);
  if (!found) {
    found = { audit: new AuditLog(dir), sent: new DayLedger<SentEntry>(path.join(dir, 'sent')) };
    ledgers.set(dir, found);
  }
  return found;
}

function checkEvent(event: DeliveryEvent): void {
  const kinds: readonly string[] = deliveryEventKinds;
  if (!event || typeof event.id !== 'string' || !event.id || !kinds.includes(event.kind) || !event.service)
    throw new Error(`not a delivery event: expected id, kind (one of ${kinds.join(', ')}), service and at`);
}

/** Appends `event` to the audit log and sends it to every target that wants it and has not had it. */
export async function recordDeliveryEvent(
  event: DeliveryEvent,
  opts: EventRecorderOptions = {},
): Promise<RecordResult> {
  checkEvent(event);
  const env = opts.env ?? process.env;
  const { audit, sent } = ledgersFor(opts.auditDir ?? auditDir(env));
  const result: RecordResult = { audited: audit.append(event), sent: [], alreadySent: [], failed: [] };
  let targets: SelectedTarget[];
  try {
    targets = targetsFor(event, opts.configDir ?? configDir());
  } catch (err) {
    result.failed.push({ where: 'notify', error: (err as Error).message, retryable: false });
    log.warn('no notifications: the deploy config does not load', { event: event.id, error: (err as Error).message });
    return result;
  }
  const sendOpts = { env, timeoutMs: opts.sendTimeoutMs ?? defaultSendTimeoutMs };
  await Promise.all(
    targets.map(async (selected) => {
      const ledgerId = `${event.id} -> ${selected.key}`;
      if (sent.has(ledgerId, event.at)) return void result.alreadySent.push(selected.key);
      try {
        await once(ledgerId, async () => {
          await sendNotification(selected, event, sendOpts);
          sent.append({
            id: ledgerId,
            at: event.at,
            event: event.id,
            target: selected.key,
            sentAt: new Date().toISOString(),
          });
        });
        result.sent.push(selected.key);
        notifications.inc({ target: selected.kind, outcome: 'sent' });
      } catch (err) {
        const retryable = err instanceof SendFailure ? err.retryable : true;
        result.failed.push({ where: selected.where, error: (err as Error).message, retryable });
        notifications.inc({ target: selected.kind, outcome: 'failed' });
        log.warn('notification not delivered', {
          event: event.id,
          target: selected.where,
          error: (err as Error).message,
        });
      }
    }),
  );
  return result;
}

function once(key: string, send: () => Promise<void>): Promise<void> {
  const running = inFlight.get(key);
  if (running) return running;
  const started = send().finally(() => inFlight.delete(key));
  inFlight.set(key, started);
  return started;
}

/** slipway.yaml's targets and the service's own. */
function targetsFor(event: DeliveryEvent, dir: string): SelectedTarget[] {
  const config = cachedDeployConfig(dir);
  const service = config.services.get(event.service);
  return [
    ...selectTargets(config.notify, 'slipway.yaml', event),
    ...(service ? selectTargets(service.notify, path.basename(service.file), event) : []),
  ];
}

/** The deploy worker's activity. A send that may work later fails the attempt, so Temporal retries it. */
export function createEventActivities(opts: EventRecorderOptions = {}) {
  return {
    async recordDeliveryEvent(event: DeliveryEvent): Promise<{ audited: boolean; sent: number }> {
      const result = await recordDeliveryEvent(event, opts);
      const retry = result.failed.filter((f) => f.retryable);
      if (retry.length > 0)
        throw ApplicationFailure.retryable(
          `${retry.length} notification(s) of ${event.id} not delivered: ${retry.map((f) => f.error).join('; ')}`,
          'NotificationFailed',
        );
      return { audited: result.audited, sent: result.sent.length };
    },
  };
}
