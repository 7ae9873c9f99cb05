// Shared by the attack tests: pipelines started as the webhook would, and the point after which a
// message sent to a workflow has been handled (so "it changed nothing" is asserted after the fact,
// not after a sleep).
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { pipelineWorkflowId, type PipelineInput } from '../../common/contract';
import { deliveryPipeline } from '../../workflows';
import { until } from '../helpers/wait';

export const sha = () => randomUUID().replace(/-/g, '').padEnd(40, 'c');

export async function startPipeline(
  client: Client,
  service: string,
  extra: Partial<PipelineInput> = {},
): Promise<WorkflowHandle<typeof deliveryPipeline>> {
  const commit = sha();
  return client.workflow.start(deliveryPipeline, {
    taskQueue: 'slipway',
    workflowId: pipelineWorkflowId(service, commit),
    args: [{ service, commit, trigger: { kind: 'manual', user: 'test' }, ...extra }],
  });
}

/**
 * Waits until the workflow has received the signal `name` and checked it: a local activity (the
 * check with the other workflow) recorded its result after the signal.
 */
export async function signalChecked(handle: WorkflowHandle, name: string): Promise<void> {
  await until(`${handle.workflowId} to check signal ${name}`, 20_000, async () => {
    const events = (await handle.fetchHistory()).events ?? [];
    const at = events.findIndex((e) => e.workflowExecutionSignaledEventAttributes?.signalName === name);
    if (at < 0) return undefined;
    const checked = events.slice(at).some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    return checked ? true : undefined;
  });
}
