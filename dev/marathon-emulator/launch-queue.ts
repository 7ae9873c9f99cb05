// The launch queue of one app as Marathon keeps it (LaunchQueue, OfferMatchStatistics): how many
// tasks are still to launch, since when, and what became of the offers — the last offer of each
// agent that did not fit with all its reasons, and per launch attempt the first reason of every
// declined offer. Rendered for GET /v2/queue as QueueInfoConversion.scala does, the summaries as a
// funnel in NoOfferMatchReason order (each step: offers declined there, offers that reached it).
import { reasonFunnel, type AgentSpec, type NoMatchReason } from './agents';

export interface QueueState {
  count: number;
  since: number;
  processedOffers: number;
  unusedOffers: number;
  lastUsedAt: number | null;
  lastUnusedAt: number | null;
  /** The last offer of each agent that did not fit, with every reason. */
  lastNoMatches: { agent: AgentSpec; reasons: NoMatchReason[]; at: number }[];
  /** First reason per declined offer since the entry appeared. */
  launchAttempt: Map<NoMatchReason, number>;
}

export function newQueueState(count: number, now: number): QueueState {
  return {
    count,
    since: now,
    processedOffers: 0,
    unusedOffers: 0,
    lastUsedAt: null,
    lastUnusedAt: null,
    lastNoMatches: [],
    launchAttempt: new Map(),
  };
}

const firstReason = (reasons: NoMatchReason[]) => reasonFunnel.find((r) => reasons.includes(r))!;

/** One round of offers (one per agent) for one task: launched (`true`) or declined by every agent. */
export function recordOffers(
  queue: QueueState,
  agents: number,
  result: true | { agent: AgentSpec; reasons: NoMatchReason[] }[],
  now: number,
): void {
  queue.processedOffers += agents;
  if (result === true) {
    queue.count--;
    queue.lastUsedAt = now;
    return;
  }
  queue.unusedOffers += result.length;
  queue.lastUnusedAt = now;
  queue.lastNoMatches = result.map((p) => ({ ...p, at: now }));
  for (const p of result) {
    const first = firstReason(p.reasons);
    queue.launchAttempt.set(first, (queue.launchAttempt.get(first) ?? 0) + 1);
  }
}

function funnel(processed: number, summary: Map<NoMatchReason, number>) {
  let remaining = processed;
  return reasonFunnel.map((reason) => {
    const declined = summary.get(reason) ?? 0;
    const step = { reason, declined, processed: remaining };
    remaining -= declined;
    return step;
  });
}

/** The queue entry without `app` (the API adds it); `lastUnusedOffers` is for embed=lastUnusedOffers. */
export function queueEntryJson(q: QueueState, nextLaunchAt: number, now: number): Record<string, unknown> {
  const left = Math.max(0, Math.ceil((nextLaunchAt - now) / 1000));
  const iso = (t: number | null) => (t === null ? undefined : new Date(t).toISOString());
  const lastSummary = new Map<NoMatchReason, number>();
  for (const m of q.lastNoMatches) {
    const first = firstReason(m.reasons);
    lastSummary.set(first, (lastSummary.get(first) ?? 0) + 1);
  }
  return {
    count: q.count,
    delay: { timeLeftSeconds: left, overdue: left === 0 },
    since: new Date(q.since).toISOString(),
    processedOffersSummary: {
      processedOffersCount: q.processedOffers,
      unusedOffersCount: q.unusedOffers,
      lastUnusedOfferAt: iso(q.lastUnusedAt),
      lastUsedOfferAt: iso(q.lastUsedAt),
      rejectSummaryLastOffers: funnel(q.lastNoMatches.length, lastSummary),
      rejectSummaryLaunchAttempt: funnel(q.unusedOffers, q.launchAttempt),
    },
    lastUnusedOffers: q.lastNoMatches.map((m) => ({
      offer: {
        id: `${m.agent.id}-offer`,
        agentId: m.agent.id,
        hostname: m.agent.hostname,
        resources: [
          { name: 'cpus', role: '*', scalar: m.agent.cpus },
          { name: 'mem', role: '*', scalar: m.agent.mem },
          { name: 'disk', role: '*', scalar: m.agent.disk },
          { name: 'ports', role: '*', ranges: m.agent.ports.map(([begin, end]) => ({ begin, end })) },
        ],
        attributes: Object.entries(m.agent.attributes).map(([name, text]) => ({ name, text })),
      },
      reason: m.reasons,
      timestamp: new Date(m.at).toISOString(),
    })),
  };
}
