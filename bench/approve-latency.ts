// 6. Approve -> Marathon PUT: pipelines with no-op activities (as in the overhead section) wait
// for approval into production; the bench approves each through the validated Update (what the
// CLI and the HTTP API send) and finds, in the emulator's request log, the PUT of that pipeline's
// production app. Latency = PUT received - Update returned (the decision accepted and recorded);
// also shown from the moment the Update was sent. One pipeline at a time.
import { sendDecision } from '../client/pipelines';
import { startPipeline } from '../client/pipelines';
import { statusQuery } from '../common/contract';
import { randomSha } from './fixtures';
import { startNoopWorld } from './noop-world';
import { atMost, info, ms, percentile, sleep } from './stats';
import type { BenchContext, BenchResult } from './types';

const section = 'approve-latency';

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
      const deadline = Date.now() + 60_000;
      while ((await handle.query(statusQuery)).state !== 'waiting-approval') {
        if (Date.now() > deadline) throw new Error(`${workflowId} did not reach the approval gate within 60 s`);
        await sleep(50);
      }
      await sleep(200); // let the gate's own activity (announcing the wait to the lane) finish
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
