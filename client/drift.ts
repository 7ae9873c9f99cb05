// Drift from the client side: run a check now (the driftCheck workflow on a deploy worker, see
// workflows/drift.ts for why there), create or update the Temporal Schedule that runs it
// periodically, read what the Schedule's latest run found, and print a report. `checkDrift` and
// `lastScheduledDrift` are what other views (an environments inventory) call to fill a drift field.
import { randomUUID } from 'node:crypto';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsStartWorkflowAction,
} from '@temporalio/client';
import { parseDuration } from '../common/duration';
import {
  driftScheduleId,
  driftWorkflowIdPrefix,
  taskQueues,
  type DriftCheckInput,
  type DriftEnvironmentReport,
  type DriftReport,
} from '../common/contract';
import type { driftCheck } from '../workflows/drift';
import { table } from './cli-support';

/** Runs one drift check on a deploy worker and returns its findings. */
export async function checkDrift(client: Client, input: Omit<DriftCheckInput, 'announce'> = {}): Promise<DriftReport> {
  return client.workflow.execute<typeof driftCheck>('driftCheck', {
    workflowId: `${driftWorkflowIdPrefix}${new Date().toISOString()}-${randomUUID().slice(0, 8)}`,
    taskQueue: taskQueues.deploy,
    args: [{ ...input }],
    // No deploy worker, no answer: give up instead of waiting for ever.
    workflowExecutionTimeout: '10m',
    staticSummary: `Drift check${input.service ? `: ${input.service}` : ''}${input.environment ? ` in ${input.environment}` : ''}`,
  });
}

/** "15m", "every 15m", "1h": the Schedule's interval in seconds; an error names what was expected. */
export function parseDriftInterval(text: string): number {
  const seconds = parseDuration(text.replace(/^\s*every\s+/i, ''));
  if (seconds === undefined || seconds < 60) {
    throw new Error(`--schedule "${text}": expected an interval of at least a minute, like "15m" or "every 1h"`);
  }
  return seconds;
}

export interface ScheduleResult {
  scheduleId: string;
  created: boolean;
  everySeconds: number;
}

/**
 * Creates the Schedule "slipway-drift", or updates it when it exists (one Schedule whatever the
 * number of calls): every `everySeconds`, a driftCheck that announces what it finds. Overlapping
 * runs are skipped: a slow Marathon never piles up checks.
 */
export async function scheduleDriftCheck(
  client: Client,
  everySeconds: number,
  input: Omit<DriftCheckInput, 'announce'> = {},
): Promise<ScheduleResult> {
  const action: ScheduleOptionsStartWorkflowAction<typeof driftCheck> = {
    type: 'startWorkflow',
    workflowType: 'driftCheck',
    workflowId: `${driftWorkflowIdPrefix}scheduled`,
    taskQueue: taskQueues.deploy,
    args: [{ ...input, announce: true }],
    workflowExecutionTimeout: '10m',
  };
  const spec = { intervals: [{ every: everySeconds * 1000 }] };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP };
  try {
    await client.schedule.create({ scheduleId: driftScheduleId, spec, action, policies });
    return { scheduleId: driftScheduleId, created: true, everySeconds };
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(driftScheduleId).update((previous) => ({ ...previous, spec, action, policies }));
  return { scheduleId: driftScheduleId, created: false, everySeconds };
}

/** Deletes the Schedule; false when there was none. */
export async function unscheduleDriftCheck(client: Client): Promise<boolean> {
  try {
    await client.schedule.getHandle(driftScheduleId).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

/**
 * What the Schedule's latest finished run found, without running a check; undefined when there is
 * no Schedule or no run has finished yet.
 */
export async function lastScheduledDrift(client: Client): Promise<DriftReport | undefined> {
  let actions;
  try {
    actions = (await client.schedule.getHandle(driftScheduleId).describe()).info.recentActions;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
  for (const a of [...actions].reverse()) {
    const { workflowId, firstExecutionRunId } = a.action.workflow;
    const handle = client.workflow.getHandle<typeof driftCheck>(workflowId, firstExecutionRunId);
    const { status } = await handle.describe();
    if (status.name === 'COMPLETED') return handle.result();
  }
  return undefined;
}

/** True when any environment drifted or lost its app. */
export const driftFound = (report: DriftReport) =>
  report.environments.some((e) => e.state === 'drifted' || e.state === 'missing');

function detail(e: DriftEnvironmentReport): string {
  if (e.state === 'drifted') return `${e.fields.length} field${e.fields.length === 1 ? '' : 's'}`;
  return e.reason ?? '';
}

/** A table of every environment, then each drifted one's fields (secrets named, never shown). */
export function renderDriftReport(report: DriftReport): string {
  const rows = report.environments.map((e) => [
    e.service,
    e.environment,
    e.state,
    e.commit?.slice(0, 12) ?? '',
    detail(e),
  ]);
  let out = table(['SERVICE', 'ENVIRONMENT', 'STATE', 'COMMIT', 'DETAIL'], rows);
  for (const e of report.environments) {
    if (e.fields.length === 0 && !e.unchecked) continue;
    out += `\n${e.service} in ${e.environment} (${e.appId}), image ${e.image ?? '?'}:\n`;
    for (const f of e.fields) out += `  ${f.summary}\n`;
    for (const u of e.unchecked ?? []) out += `  not compared: ${u}\n`;
  }
  return `${out}\nchecked at ${report.checkedAt}\n`;
}
