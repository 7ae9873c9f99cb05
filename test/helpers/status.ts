// Following a pipeline through its `status` query, for every test that drives pipelines on the
// real Temporal server (the webhook world with faked activities and the whole-stack tests alike).
import type { Client } from '@temporalio/client';
import { statusQuery, type PipelineStatus } from '../../common/contract';
import { until } from './wait';

/** The `status` query, or undefined when no worker answers within `ms` (workers may be dead). */
export async function queryStatus(client: Client, workflowId: string, ms = 5000): Promise<PipelineStatus | undefined> {
  try {
    return await client.connection.withDeadline(Date.now() + ms, () =>
      client.workflow.getHandle(workflowId).query(statusQuery),
    );
  } catch {
    return undefined;
  }
}

const finalStates = new Set(['succeeded', 'failed', 'rejected', 'approval-expired', 'cancelled', 'superseded']);

/**
 * Polls the `status` query until `predicate` holds. A pipeline that ends in another state fails
 * the wait at once, naming that state; a timeout names the last status seen.
 */
export async function waitForStatus(
  client: Client,
  workflowId: string,
  predicate: (s: PipelineStatus) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<PipelineStatus> {
  let last: PipelineStatus | undefined;
  return await until(
    () => `${what} (${workflowId}); last status ${JSON.stringify(last)}`,
    timeoutMs,
    async () => {
      last = (await queryStatus(client, workflowId)) ?? last;
      if (last && predicate(last)) return last;
      if (last && finalStates.has(last.state))
        throw new Error(
          `${workflowId} ended ${last.state} while waiting for ${what}: ${last.error ?? JSON.stringify(last)}`,
        );
      return undefined;
    },
    { intervalMs: 200, failFast: true },
  );
}
