// 1. Orchestration overhead: pipelines whose activities do no real work — the emulator in
// simulated mode with instant health, checkout/build/push replaced by a no-op that returns a
// pre-pushed tiny image, Marathon polled every 50 ms — run one at a time through test ->
// integration -> production (no approval gate). Figures come from the server's event timestamps
// (bench/history.ts): per activity step, dispatch + reaction; per pipeline, wall time minus the
// time its activities (and its lanes' activities for it) ran.
import { startPipeline } from '../client/pipelines';
import { laneWorkflowId } from '../common/contract';
import { randomSha, standardEnvironments } from './fixtures';
import { startNoopWorld } from './noop-world';
import { measureFloor } from './floor/measure';
import { activityRunMs, readTimeline, stepOverheads } from './history';
import { atMost, info, ms, percentile, seconds } from './stats';
import type { BenchContext, BenchResult } from './types';

const section = 'overhead';

export default async function overhead(ctx: BenchContext): Promise<BenchResult[]> {
  const count = Number(process.env.BENCH_OVERHEAD_PIPELINES ?? 20);
  const world = await startNoopWorld(ctx, section, { prefix: 'ovh', count: count + 1 });
  const { services } = world;
  try {
    const run = async (service: string) => {
      const { workflowId } = await startPipeline(ctx.client, {
        service,
        commit: randomSha(),
        trigger: { kind: 'manual', user: 'bench' },
      });
      await ctx.client.workflow.getHandle(workflowId).result();
      return workflowId;
    };
    await run(services[0] as string); // warm-up: worker bundle, connections, caches
    const perStep: number[] = [];
    const perPipeline: number[] = [];
    const walls: number[] = [];
    for (const service of services.slice(1)) {
      const workflowId = await run(service);
      const pipeline = await readTimeline(ctx.client, workflowId);
      const lanes = await Promise.all(
        standardEnvironments().map((e) => readTimeline(ctx.client, laneWorkflowId(service, e.name))),
      );
      perStep.push(...stepOverheads(pipeline), ...lanes.flatMap(stepOverheads));
      const wall = pipeline.closedAt - pipeline.startedAt;
      const working =
        activityRunMs(pipeline) +
        lanes.reduce((sum, l) => sum + activityRunMs(l, pipeline.startedAt, pipeline.closedAt), 0);
      walls.push(wall);
      perPipeline.push(wall - working);
    }
    const floor = await measureFloor(ctx.client, ctx.temporalAddress);
    return [
      atMost(section, 'per step p50 (dispatch + reaction)', percentile(perStep, 50), 40, ms),
      info(
        section,
        'floor: bare Temporal workflow, no-op activities, p50 / p99 per step',
        `${ms(percentile(floor, 50))} / ${ms(percentile(floor, 99))}`,
      ),
      info(section, 'per step p99', ms(percentile(perStep, 99))),
      atMost(section, 'per 3-env pipeline p50 (wall − activity time)', percentile(perPipeline, 50), 500, seconds),
      info(section, 'per 3-env pipeline p99 (wall − activity time)', seconds(percentile(perPipeline, 99))),
      info(section, 'pipeline wall time p50', seconds(percentile(walls, 50))),
      info(section, 'sample', `${count} pipelines one at a time, ${perStep.length} activity steps`),
    ];
  } finally {
    await world.stop();
  }
}
