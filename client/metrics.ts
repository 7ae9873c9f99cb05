// Delivery metrics (the four DORA keys) from Temporal's record of pipelines, per service and
// environment:
//   deployment frequency  healthy deploys per day in the window
//   lead time             commit time -> environment healthy (median, p90); "production" = last env of the chain
//   change failure rate   deploys that failed or were rolled back / all deploys that reached Marathon
//   time to restore       a failed deploy -> the next healthy deploy or completed rollback of that app (median)
// Collection (Temporal) and computation (pure) are separate, so the arithmetic is unit-tested.
import type { Client } from '@temporalio/client';
import type { PipelineStatus } from '../common/contract';
import { rollbackEnvironment } from '../workflows';
import { listPipelines, pipelineListQuery, pipelineStatus } from './pipelines';

export interface DeployEvent {
  service: string;
  environment: string;
  pipelineId: string;
  outcome: 'healthy' | 'failed';
  at: number;
  /** Commit time, or the pipeline start when the commit time is unknown. */
  committedAt: number;
  commitTimeKnown: boolean;
  isLastEnvironment: boolean;
  /** Place in the environment chain, for ordering the report like the chain. */
  position: number;
}

export interface RestoreEvent {
  service: string;
  environment: string;
  at: number;
}

export function deployEvents(statuses: PipelineStatus[]): DeployEvent[] {
  const out: DeployEvent[] = [];
  for (const s of statuses) {
    const committed = s.committedAt ? Date.parse(s.committedAt) : NaN;
    s.environments.forEach((e, i) => {
      const outcome =
        e.state === 'healthy' ? 'healthy' : e.state === 'failed' || e.state === 'rolled-back' ? 'failed' : undefined;
      if (!outcome || !e.finishedAt) return;
      out.push({
        service: s.service,
        environment: e.name,
        pipelineId: s.workflowId,
        outcome,
        at: Date.parse(e.finishedAt),
        committedAt: Number.isNaN(committed) ? Date.parse(s.startedAt) : committed,
        commitTimeKnown: !Number.isNaN(committed),
        isLastEnvironment: i === s.environments.length - 1,
        position: i,
      });
    });
  }
  return out.sort((a, b) => a.at - b.at);
}

export interface MetricsRow {
  service: string;
  environment: string;
  position: number;
  production: boolean;
  deployments: number;
  failures: number;
  deploymentsPerDay: number;
  leadTimeMedianMs: number | null;
  leadTimeP90Ms: number | null;
  changeFailureRate: number | null;
  restores: number;
  timeToRestoreMedianMs: number | null;
  /** Lead times measured from the pipeline start because the commit time was unknown. */
  leadTimesWithoutCommitTime: number;
}

export interface MetricsReport {
  since: string;
  until: string;
  days: number;
  pipelines: number;
  /** Pipelines whose status could not be read (e.g. no worker to answer a query). */
  unreadable: string[];
  rows: MetricsRow[];
}

function quantile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

export function computeMetrics(
  events: DeployEvent[],
  restoresFromRollbacks: RestoreEvent[],
  window: { since: Date; until: Date },
  pipelines = 0,
  unreadable: string[] = [],
): MetricsReport {
  const from = window.since.getTime();
  const to = window.until.getTime();
  const days = Math.max((to - from) / 86_400_000, 1 / 24);
  const groups = new Map<string, DeployEvent[]>();
  for (const e of events) {
    const key = `${e.service}\u0000${e.environment}`;
    groups.set(key, [...(groups.get(key) ?? []), e]);
  }
  const rows: MetricsRow[] = [];
  for (const [key, all] of groups) {
    const [service, environment] = key.split('\u0000') as [string, string];
    const inWindow = all.filter((e) => e.at >= from && e.at <= to);
    const healthy = inWindow.filter((e) => e.outcome === 'healthy');
    const failed = inWindow.filter((e) => e.outcome === 'failed');
    const leadTimes = healthy.map((e) => e.at - e.committedAt).filter((ms) => ms >= 0);
    // Restore: from a failure to the next healthy deploy or completed rollback of the same app.
    const recoveries = [
      ...all.filter((e) => e.outcome === 'healthy').map((e) => e.at),
      ...restoresFromRollbacks.filter((r) => r.service === service && r.environment === environment).map((r) => r.at),
    ].sort((a, b) => a - b);
    const restoreTimes: number[] = [];
    for (const f of failed) {
      const next = recoveries.find((t) => t > f.at);
      if (next !== undefined) restoreTimes.push(next - f.at);
    }
    const attempts = healthy.length + failed.length;
    rows.push({
      service,
      environment,
      position: Math.min(...all.map((e) => e.position)),
      production: all.some((e) => e.isLastEnvironment),
      deployments: healthy.length,
      failures: failed.length,
      deploymentsPerDay: healthy.length / days,
      leadTimeMedianMs: quantile(leadTimes, 0.5),
      leadTimeP90Ms: quantile(leadTimes, 0.9),
      changeFailureRate: attempts ? failed.length / attempts : null,
      restores: restoreTimes.length,
      timeToRestoreMedianMs: quantile(restoreTimes, 0.5),
      leadTimesWithoutCommitTime: healthy.filter((e) => !e.commitTimeKnown).length,
    });
  }
  rows.sort(
    (a, b) =>
      a.service.localeCompare(b.service) || a.position - b.position || a.environment.localeCompare(b.environment),
  );
  return { since: window.since.toISOString(), until: window.until.toISOString(), days, pipelines, unreadable, rows };
}

/** Runs `fn` over items with at most `n` at a time. */
async function mapLimit<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

export async function collectMetrics(
  client: Client,
  opts: { service?: string; since: Date; until?: Date; limit?: number },
): Promise<MetricsReport> {
  const until = opts.until ?? new Date();
  const summaries = await listPipelines(client, {
    service: opts.service,
    since: opts.since,
    limit: opts.limit ?? 2000,
  });
  const unreadable: string[] = [];
  const statuses = (
    await mapLimit(summaries, 8, async (p) => {
      try {
        return await client.withDeadline(Date.now() + 10_000, () => pipelineStatus(client, p.workflowId));
      } catch {
        unreadable.push(p.workflowId);
        return undefined;
      }
    })
  ).filter((s): s is PipelineStatus => s !== undefined);

  // Completed rollbacks restore service too (workflow ID rollback/<service>/<env>/<time>).
  const restores: RestoreEvent[] = [];
  const rollbackQuery = `${pipelineListQuery({ type: rollbackEnvironment.name, since: opts.since })} AND ExecutionStatus = 'Completed'`;
  for await (const info of client.workflow.list({ query: rollbackQuery })) {
    const [, service, environment] = info.workflowId.split('/');
    if (!service || !environment || !info.closeTime) continue;
    if (opts.service && service !== opts.service) continue;
    restores.push({ service, environment, at: info.closeTime.getTime() });
  }
  return computeMetrics(deployEvents(statuses), restores, { since: opts.since, until }, summaries.length, unreadable);
}
