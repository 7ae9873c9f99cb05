// 6. Approve -> Marathon PUT: pipelines with no-op activities (as in the overhead section) wait
// for approval into production; the bench approves each through the validated Update (what the
// CLI and the HTTP API send) and finds, in the emulator's request log, the PUT of that pipeline's
// production app. Latency = PUT received - Update returned (the decision accepted and recorded);
// also shown from the moment the Update was sent. One pipeline at a time.
import { sendDecision } from '../client/pipelines';
import { startPipeline } from '../client/pipelines';
import { laneQuery, laneWorkflowId } from '../common/contract';
import { until } from '../test/helpers/wait';
import { randomSha } from './fixtures';
import { startNoopWorld } from './noop-world';
import { atMost, info, ms, percentile } from './stats';
import type { BenchContext, BenchResult } from './types';

const section = 'approve-latency';

/**
 * Waits until the pipeline sits at production's approval gate with nothing left to do: the lane
 * lists it as waiting (the gate's announcing activity has signalled it), and the pipeline has no
 * pending activity or workflow task (that activity's completion has been handled). Only then is
 * the time from the approval to the PUT the approval's own.
 */
async function idleAtTheGate(ctx: BenchContext, service: string, workflowId: string): Promise<void> {
  const lane = ctx.client.workflow.getHandle(laneWorkflowId(service, 'production'));
  const pipeline = ctx.client.workflow.getHandle(workflowId);
  await until(
    `${workflowId} to wait at the approval gate into production`,
    60_000,
    async () => {
      if (!(await lane.query(laneQuery)).waitingApproval.some((w) => w.pipelineId === workflowId)) return undefined;
      const { raw } = await pipeline.describe();
      return !raw.pendingActivities?.length && !raw.pendingWorkflowTask ? true : undefined;
    },
    { intervalMs: 50 },
  );
}

export default async function approveLatency(ctx: BenchContext): Promise<BenchResult[]> {
  const count = Number(process.env.BENCH_APPROVE_PIPELINES ?? 20);
  const world = await startNoopWorld(ctx, section, { prefix: 'apl', count: count + 1, approvers: ['alice'] });
  const { emulator, services } = world;
  try {
    const fromAccepted: number[] = [];
    const fromSent: number[] = [];
    for (const [i, service] of services.entries()) {
      const { workflowId } = await startPipeline(ctx.client, {
        service,
        commit: randomSha(),
        trigger: { kind: 'manual', user: 'bench' },
      });
      const handle = ctx.client.workflow.getHandle(workflowId);
      await idleAtTheGate(ctx, service, workflowId);
      const sent = Date.now();
      const decision = await sendDecision(ctx.client, workflowId, 'approve', {
        environment: 'production',
        approver: 'alice',
        comment: 'bench',
      });
      const accepted = Date.now();
      if (!decision.ok) throw new Error(`approval of ${workflowId} refused: ${decision.reason}`);
      await handle.result();
      const put = emulator
        .requests()
        .find((r) => r.method === 'PUT' && r.pipelineId === workflowId && r.appId?.startsWith('/production/'));
      if (!put) throw new Error(`no PUT of the production app by ${workflowId} in the emulator's request log`);
      if (i === 0) continue; // warm-up
      fromAccepted.push(Date.parse(put.time) - accepted);
      fromSent.push(Date.parse(put.time) - sent);
    }
    return [
      atMost(section, 'approval accepted → production PUT, p50', percentile(fromAccepted, 50), 100, ms),
      info(section, 'approval accepted → production PUT, p99', ms(percentile(fromAccepted, 99))),
      info(section, 'approval sent → production PUT, p50', ms(percentile(fromSent, 50))),
      info(section, 'sample', `${count} pipelines, one at a time, approved by Update`),
    ];
  } finally {
    await world.stop();
  }
}
