// Why a deployment is not getting its tasks, in Marathon's words: GET /v2/queue lists every app
// with tasks it wants but has not launched. `delay` says whether it is backing off after failed
// tasks; `processedOffersSummary.rejectSummaryLastOffers` (Marathon 1.4 and later) counts, for the
// last offer of each agent, the first reason it was declined, as a funnel in Marathon's order
// (role, constraint, cpus, memory, disk, gpus, ports). Slipway turns that into one line such as
// "waiting for offers: insufficient memory on all 3 agents" for its heartbeat and timeout error.

export interface QueueView {
  appId: string;
  /** Tasks left to launch. */
  count: number;
  /** Seconds of launch backoff left; 0 when waiting on offers. */
  delaySeconds: number;
  /** The funnel of the last offers (one per agent); null when this Marathon does not report it. */
  lastOffers: { reason: string; declined: number; processed: number }[] | null;
  /** The app's constraints, for naming an unmet one. */
  constraints: string[][];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Reads the body of GET /v2/queue (apps only; pods are not Slipway's). */
export function viewQueue(body: unknown): QueueView[] {
  return asArray(isObject(body) ? body.queue : undefined).flatMap((raw) => {
    if (!isObject(raw) || !isObject(raw.app)) return [];
    const delay = isObject(raw.delay) ? raw.delay : {};
    const summary = isObject(raw.processedOffersSummary) ? raw.processedOffersSummary : undefined;
    return [
      {
        appId: String(raw.app.id ?? ''),
        count: typeof raw.count === 'number' ? raw.count : 0,
        delaySeconds: typeof delay.timeLeftSeconds === 'number' && delay.overdue !== true ? delay.timeLeftSeconds : 0,
        lastOffers: summary
          ? asArray(summary.rejectSummaryLastOffers).flatMap((s) =>
              isObject(s)
                ? [{ reason: String(s.reason), declined: Number(s.declined ?? 0), processed: Number(s.processed ?? 0) }]
                : [],
            )
          : null,
        constraints: asArray(raw.app.constraints).map((c) => asArray(c).map(String)),
      },
    ];
  });
}

const phrases: Record<string, string> = {
  UnfulfilledRole: 'unfulfilled role (acceptedResourceRoles)',
  NoCorrespondingReservationFound: 'no matching reservation',
  AgentMaintenance: 'agent in maintenance',
  InsufficientCpus: 'insufficient cpus',
  InsufficientMemory: 'insufficient memory',
  InsufficientDisk: 'insufficient disk',
  InsufficientGpus: 'insufficient gpus',
  InsufficientPorts: 'no free host ports',
  DeclinedScarceResources: 'declined scarce resources (gpus)',
};

function reasonText(reason: string, constraints: string[][]): string {
  if (reason === 'UnfulfilledConstraint') {
    const named = constraints.map(([field, op, value]) => [op, field, value].filter(Boolean).join(' ')).join(', ');
    return named ? `constraint ${named} unmet` : 'constraint unmet';
  }
  return phrases[reason] ?? reason;
}

/** One line on why the app's tasks are not launched; undefined when the queue does not say. */
export function waitingReason(entry: QueueView): string | undefined {
  if (entry.count <= 0) return undefined;
  if (entry.delaySeconds > 0)
    return `launch of ${entry.count} task(s) delayed ${entry.delaySeconds} s (backoff after failed tasks)`;
  const offers = entry.lastOffers ?? [];
  const total = offers[0]?.processed ?? 0;
  const declined = offers.filter((s) => s.declined > 0);
  if (total === 0 || declined.length === 0) return `waiting for offers to launch ${entry.count} task(s)`;
  const parts = declined.map(
    (s) =>
      `${reasonText(s.reason, entry.constraints)} on ${s.declined === total ? `all ${total}` : `${s.declined} of ${total}`} agent${total === 1 ? '' : 's'}`,
  );
  return `waiting for offers: ${parts.join('; ')}`;
}
