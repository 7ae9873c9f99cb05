// Orchestration overhead read from workflow histories, where Temporal's server stamps every event:
// per activity step, the time from scheduled to started (dispatch to a worker) plus the time from
// its completion to the workflow's next completed workflow task (the workflow reacting to it);
// per pipeline, its wall time minus the time activities spent running (its own and those its
// lanes ran for it), i.e. what the orchestration itself added.
import type { Client } from '@temporalio/client';

type HistoryEvent = Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events'] extends
  (infer E)[] | null | undefined
  ? E
  : never;

function timeOf(e: HistoryEvent): number {
  const t = e.eventTime;
  if (!t) return NaN;
  return Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
}

export interface ActivityStep {
  type: string;
  scheduledAt: number;
  startedAt: number;
  completedAt: number;
  /** Completion to the next completed workflow task. */
  reactionMs: number;
}

export interface WorkflowTimeline {
  workflowId: string;
  startedAt: number;
  closedAt: number;
  steps: ActivityStep[];
}

export async function readTimeline(client: Client, workflowId: string): Promise<WorkflowTimeline> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const byId = new Map<string, { type: string; scheduledAt: number; startedAt?: number }>();
  const steps: ActivityStep[] = [];
  let startedAt = NaN;
  let closedAt = NaN;
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as HistoryEvent;
    const id = String(e.eventId);
    if (e.workflowExecutionStartedEventAttributes) startedAt = timeOf(e);
    if (
      e.workflowExecutionCompletedEventAttributes ||
      e.workflowExecutionFailedEventAttributes ||
      e.workflowExecutionContinuedAsNewEventAttributes
    )
      closedAt = timeOf(e);
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) byId.set(id, { type: scheduled.activityType?.name ?? '?', scheduledAt: timeOf(e) });
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const s = byId.get(String(started.scheduledEventId));
      if (s) s.startedAt = timeOf(e);
    }
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed) {
      const s = byId.get(String(completed.scheduledEventId));
      if (!s || s.startedAt === undefined) continue;
      const completedAt = timeOf(e);
      const next = events.slice(i + 1).find((x) => x.workflowTaskCompletedEventAttributes);
      steps.push({
        type: s.type,
        scheduledAt: s.scheduledAt,
        startedAt: s.startedAt,
        completedAt,
        reactionMs: next ? timeOf(next) - completedAt : NaN,
      });
    }
  }
  return { workflowId, startedAt, closedAt, steps };
}

/** Per-step orchestration overhead: dispatch (scheduled -> started) + reaction (completed -> next task done). */
export function stepOverheads(timeline: WorkflowTimeline): number[] {
  return timeline.steps
    .filter((s) => Number.isFinite(s.reactionMs))
    .map((s) => s.startedAt - s.scheduledAt + s.reactionMs);
}

/** Time activities spent running, within [from, to] (a lane's history also holds other pipelines' steps). */
export function activityRunMs(timeline: WorkflowTimeline, from = -Infinity, to = Infinity): number {
  return timeline.steps
    .filter((s) => s.startedAt >= from && s.completedAt <= to)
    .reduce((sum, s) => sum + (s.completedAt - s.startedAt), 0);
}
