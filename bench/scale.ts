// 2. Scale: 1,000 pipelines in flight on ONE worker process (deploy and build queues), every
// activity a no-op as in the overhead section, all waiting for approval into production; then
// all approved (Signals, 100 in flight) and timed until the last one has finished. The worker is
// a child process: its RSS (VmHWM, the kernel's peak) and the Temporal dev server's come from
// /proc. Each pipeline has its own service (pipelines of one service supersede each other at the
// approval gate), and each service its own config directory (see bench/README.md).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startPipeline } from '../client/pipelines';
import { startMarathonEmulator } from '../dev/marathon-emulator';
import { approveSignal } from '../common/contract';
import { benchTempDir, ensureNoopImage, randomSha, standardEnvironments, writeDeployConfig } from './fixtures';
import { startBenchWorker, watchMemory } from './processes';
import { atMost, inParallel, info, mib, seconds } from './stats';
import { measureGateFloor, waitForCount } from './floor/measure';
import type { BenchContext, BenchResult } from './types';
import type { BenchWorkerSpec } from './worker-process';
import { defaultWorkflowCache, recommendedDeployWorkerNodeOptions } from '../worker';

const section = 'scale';

/**
 * The worker options this section runs with (see bench/README.md): the defaults of
 * worker/index.ts. 1,000 pipelines keep ~4,000 workflows open (each pipeline and its three
 * lanes). Measured on 2 cores: a cache of 2,000 finished in 104 s but peaked at 1,538 MiB; 1,000
 * peaked at 1,332 MiB; 500 finished in 99.6 s at 898 MiB; 200 held 793 MiB but took 125 s, the
 * extra replays costing more than the memory saved. Of the RSS, the main thread's heap is
 * ~100-230 MiB; the rest is mostly the workflow thread's heap, which V8 lets fill with garbage
 * under Node's default limit: with --max-old-space-size=512 (the README's advice for deploy
 * workers) the same run peaks at 667 MiB in 94 s.
 */
export const scaleTuning: NonNullable<BenchWorkerSpec['tuning']> = {
  maxCachedWorkflows: defaultWorkflowCache,
  maxConcurrentWorkflowTaskExecutions: 100,
  maxConcurrentActivityTaskExecutions: 200,
};

export default async function scale(ctx: BenchContext): Promise<BenchResult[]> {
  const count = Number(process.env.BENCH_SCALE_PIPELINES ?? 1000);
  const results = await pipelinesAtScale(ctx, count);
  // After Slipway's worker has stopped, so the two never share the CPU.
  const floorMs = await measureGateFloor(ctx.client, ctx.temporalAddress, count, ctx.runId);
  return [
    ...results,
    info(
      section,
      `floor: ${count} bare workflows at a gate, released by Signal (2 no-op steps each) → all finished`,
      seconds(floorMs),
    ),
  ];
}

async function pipelinesAtScale(ctx: BenchContext, count: number): Promise<BenchResult[]> {
  const tuning = process.env.BENCH_SCALE_TUNING
    ? (JSON.parse(process.env.BENCH_SCALE_TUNING) as BenchWorkerSpec['tuning'])
    : scaleTuning;
  // The worker runs with the Node flags the README recommends for deploy workers (a V8 heap
  // limit); BENCH_SCALE_NODE_OPTIONS replaces them, and an empty value runs without.
  const nodeOptions = process.env.BENCH_SCALE_NODE_OPTIONS ?? recommendedDeployWorkerNodeOptions;
  const emulator = await startMarathonEmulator({
    mode: 'simulated',
    simulatedHealthyAfterMs: 0,
    simulatedLaunchMs: 0,
    tickMs: 50,
    timeScale: 0.01,
  });
  const noop = ensureNoopImage(ctx.registry);
  const services = Array.from({ length: count }, (_, i) => `scl-${ctx.runId}-${i}`);
  const shards = path.join(benchTempDir(section), 'shards');
  for (const name of services) {
    const dir = path.join(shards, name);
    mkdirSync(dir, { recursive: true });
    writeDeployConfig(dir, {
      registry: ctx.registry,
      marathonUrl: emulator.url,
      environments: standardEnvironments(['alice']),
      services: [{ name }],
    });
  }
  const worker = await startBenchWorker(
    section,
    { roles: ['deploy', 'build'], noop, marathonPollMs: 200, configShards: shards, tuning },
    {
      SLIPWAY_BUILD_HOST_ID: `bench-${section}-${ctx.runId}`,
      SLIPWAY_LOG_LEVEL: 'warn',
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
    },
  );
  const workerMemory = watchMemory(worker.pid);
  const temporalMemory = watchMemory(ctx.temporalPid);
  const count$ = async (query: string) => (await ctx.client.workflow.count(query)).count;
  try {
    const completedBefore = await count$(`WorkflowType = 'deliveryPipeline' AND ExecutionStatus = 'Completed'`);
    const startedAt = Date.now();
    const ids = await inParallel(services, 50, async (service) => {
      const { workflowId } = await startPipeline(ctx.client, {
        service,
        commit: randomSha(),
        trigger: { kind: 'manual', user: 'bench' },
      });
      return workflowId;
    });
    const allWaiting = await waitForCount(
      ctx.client,
      'the pipelines to wait for approval',
      `WorkflowType = 'deliveryPipeline' AND SlipwayState = 'waiting-approval'`,
      count,
      15 * 60_000,
    );
    const waitingAfter = Date.now() - startedAt;
    const memoryWhileWaiting = workerMemory.stop();
    const workerMemory2 = watchMemory(worker.pid);
    const approvedAt = Date.now();
    await inParallel(ids, 100, (id) =>
      ctx.client.workflow.getHandle(id).signal(approveSignal, { environment: 'production', approver: 'alice' }),
    );
    const signalsMs = Date.now() - approvedAt;
    const allDone = await waitForCount(
      ctx.client,
      'the pipelines to finish',
      `WorkflowType = 'deliveryPipeline' AND ExecutionStatus = 'Completed'`,
      completedBefore + count,
      15 * 60_000,
    );
    const finishMs = Date.now() - approvedAt;
    const w = workerMemory2.stop();
    const t = temporalMemory.stop();
    const peak = Math.max(w.peakBytes, memoryWhileWaiting.peakBytes);
    const finished =
      (await count$(`WorkflowType = 'deliveryPipeline' AND ExecutionStatus = 'Completed'`)) - completedBefore;
    return [
      {
        ...atMost(section, `approve all → all ${count} finished`, allDone ? finishMs : NaN, 120_000, seconds),
        ...(allDone ? {} : { value: `${finished} of ${count} in ${seconds(finishMs)}` }),
      },
      atMost(section, 'worker peak RSS (VmHWM)', peak, 1024 ** 3, mib),
      info(section, 'worker RSS while all wait', mib(memoryWhileWaiting.rssBytes)),
      info(section, 'Temporal server peak RSS (VmHWM)', mib(t.peakBytes)),
      info(
        section,
        `start → all ${count} waiting for approval`,
        allWaiting ? seconds(waitingAfter) : `not all within ${seconds(waitingAfter)}`,
      ),
      info(section, `${count} approval signals sent in`, seconds(signalsMs)),
      info(
        section,
        'worker tuning',
        `cache ${tuning?.maxCachedWorkflows}, wft ${tuning?.maxConcurrentWorkflowTaskExecutions}, act ${tuning?.maxConcurrentActivityTaskExecutions}; NODE_OPTIONS ${nodeOptions || '(none)'}`,
      ),
    ];
  } finally {
    workerMemory.stop();
    temporalMemory.stop();
    await worker.stop();
    await emulator.close();
  }
}
