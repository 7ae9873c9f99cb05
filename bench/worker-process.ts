// A Slipway worker for the benchmarks, run as its own process (so its RSS is its own): the real
// workflows and activities from worker/index.ts, with three optional substitutions that the
// parent asks for through BENCH_WORKER (JSON):
//  - noop: checkout, build and push do no work and return a tiny image pre-pushed to the registry;
//  - marathonPollMs: the real Marathon activities, polling faster than the default 2 s;
//  - configShards: planning and rendering read <configShards>/<service>/ instead of one directory
//    holding every service (see bench/README.md: the scale section and config loading).
// It prints "bench-worker ready" on stdout once it polls.
import { createMarathonActivities } from '../activities/marathon';
import { createLaneChecks, deploysFromConfig } from '../activities/lane-checks';
import { planPipeline, renderMarathonApp } from '../activities/plan';
import type { BuildActivities, DeployActivities } from '../activities';

type Activities = DeployActivities & BuildActivities;
import { connectClient, temporalSettingsFromEnv } from '../common/temporal-connection';
import { createWorkers, type QueueRole } from '../worker';
import { installRuntimeLogging } from '../worker/runtime';
import type { Client } from '@temporalio/client';
import type { WorkerOptions } from '@temporalio/worker';

export interface BenchWorkerSpec {
  roles: QueueRole[];
  noop?: { image: string; digestRef: string };
  marathonPollMs?: number;
  configShards?: string;
  tuning?: Partial<
    Pick<
      WorkerOptions,
      'maxCachedWorkflows' | 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions'
    >
  >;
}

/**
 * Runs `fn` with SLIPWAY_CONFIG_DIR pointing at the service's own shard. Safe without a lock:
 * planPipeline runs synchronously to its end (no await inside), so no
 * other activity can run between setting and restoring the variable.
 */
function inShard<T>(root: string, service: string, fn: () => T): T {
  const before = process.env.SLIPWAY_CONFIG_DIR;
  process.env.SLIPWAY_CONFIG_DIR = `${root}/${service}`;
  try {
    return fn();
  } finally {
    process.env.SLIPWAY_CONFIG_DIR = before;
  }
}

function overrides(spec: BenchWorkerSpec, client: Client): Partial<Activities> {
  const out: Partial<Activities> = {};
  if (spec.noop) {
    const { image, digestRef } = spec.noop;
    const digest = digestRef.split('@')[1] as string;
    Object.assign(out, {
      checkoutSource: async (input: { buildId: string; commit: string }) => ({
        workdir: `/nonexistent/slipway-bench/${input.buildId}`,
        commit: input.commit,
        committedAt: new Date().toISOString(),
        author: 'bench',
      }),
      removeWorkdir: async () => undefined,
      buildImage: async () => ({ image, imageId: digest, durationMs: 0, steps: 0, cachedSteps: 0 }),
      pushImage: async () => ({ digestRef, digest, alreadyPresent: true }),
    } satisfies Partial<Activities>);
  }
  if (spec.marathonPollMs) Object.assign(out, createMarathonActivities({ pollIntervalMs: spec.marathonPollMs }));
  const shards = spec.configShards;
  if (shards) {
    Object.assign(out, {
      planPipeline: (input) => inShard(shards, input.service, () => planPipeline(input)),
      renderMarathonApp: (input) => renderMarathonApp(input, `${shards}/${input.service}`),
      ...createLaneChecks({ client, deploys: deploysFromConfig((lane) => `${shards}/${lane.service}`) }),
    } satisfies Partial<Activities>);
  }
  return out;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.BENCH_WORKER ?? '{}') as BenchWorkerSpec;
  installRuntimeLogging();
  const settings = temporalSettingsFromEnv();
  const client = await connectClient(settings);
  const set = await createWorkers({
    roles: spec.roles,
    settings,
    client,
    tuning: spec.tuning,
    activityOverrides: overrides(spec, client),
  });
  const stop = () => set.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stdout.write('bench-worker ready\n');
  // Where the memory is (this thread's heap against the RSS, which also holds the workflow
  // thread's heap and the Rust core), into the worker's log under .slipway/logs/.
  const memoryLog = setInterval(() => {
    const m = process.memoryUsage();
    const mb = (n: number) => Math.round(n / 2 ** 20);
    console.error(
      `bench worker memory: rss ${mb(m.rss)} MiB, main heap ${mb(m.heapUsed)}/${mb(m.heapTotal)} MiB, external ${mb(m.external)} MiB`,
    );
  }, 5000);
  memoryLog.unref();
  try {
    await set.run();
  } finally {
    await client.connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(`bench worker: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
