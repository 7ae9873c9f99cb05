// Worker wiring: which task queues a process serves. Deploy workers (queue "slipway") run the
// workflows and the light activities; build workers (queue "slipway-build" plus their own host
// queue) run checkout, build and push next to a Docker daemon. One process may serve both.
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type Dockerode from 'dockerode';
import {
  createBuildActivities,
  createDeployActivities,
  type BuildActivities,
  type DeployActivities,
} from '../activities';
import { buildHostId } from '../activities/build-host';
import type { TemporalSettings } from '../common/temporal-connection';
import { wholeNumberFromEnv } from '../common/env-number';
import { buildHostQueue, taskQueues } from '../common/contract';
import { activityMetricsInterceptor } from './activity-metrics';

/** Workflows a deploy worker keeps in memory; SLIPWAY_WORKFLOW_CACHE overrides it. */
export const defaultWorkflowCache = 500;
/**
 * How the README says to start deploy workers. Without a heap limit V8 collects lazily and the
 * RSS of a busy worker approaches 1 GiB; the limit holds it well below at the same throughput
 * (bench/README.md, "Scale tuning").
 */
export const recommendedDeployWorkerNodeOptions = '--max-old-space-size=512';

export type QueueRole = 'deploy' | 'build';

export interface WorkerSetOptions {
  roles: QueueRole[];
  settings: TemporalSettings;
  client: Client;
  docker?: Dockerode;
  /** Overrides for benchmarks and tests (cache size, concurrency). */
  tuning?: Partial<WorkerOptions>;
  /** Replaces some activities, the rest stay real (the benchmarks' no-op build and push). */
  activityOverrides?: Partial<DeployActivities & BuildActivities>;
}

export interface WorkerSet {
  workers: Worker[];
  connection: NativeConnection;
  run(): Promise<void>;
  shutdown(): void;
}

export async function createWorkers(opts: WorkerSetOptions): Promise<WorkerSet> {
  // Settings first: a typo must fail before anything is connected.
  const workflowCache = wholeNumberFromEnv('SLIPWAY_WORKFLOW_CACHE', defaultWorkflowCache, { min: 0 });
  const buildConcurrency = wholeNumberFromEnv('SLIPWAY_BUILD_CONCURRENCY', 2);
  const connection = await NativeConnection.connect(opts.settings.connectionOptions);
  const base = {
    connection,
    namespace: opts.settings.namespace,
    interceptors: { activity: [activityMetricsInterceptor] },
  };
  // Each role registers only its own activities: a deploy worker does not offer a build step.
  const overridden = <T extends object>(activities: T): T => {
    const picked = Object.entries(opts.activityOverrides ?? {}).filter(([name]) => name in activities);
    return { ...activities, ...Object.fromEntries(picked) };
  };
  const workers: Worker[] = [];
  try {
    if (opts.roles.includes('deploy')) {
      workers.push(
        await Worker.create({
          ...base,
          activities: overridden(createDeployActivities({ client: opts.client })),
          taskQueue: taskQueues.deploy,
          workflowsPath: require.resolve('../workflows'),
          // Bounded cache: a thousand waiting pipelines must not exhaust the worker's heap
          // (bench/README.md, "Scale tuning", has the measurements behind the default).
          maxCachedWorkflows: workflowCache,
          maxConcurrentActivityTaskExecutions: 200,
          maxConcurrentWorkflowTaskExecutions: 100,
          ...opts.tuning,
        }),
      );
    }
    if (opts.roles.includes('build')) {
      // Few concurrent builds per host: each one is CPU- and disk-heavy.
      const buildOptions = {
        ...base,
        activities: overridden(createBuildActivities({ docker: opts.docker })),
        maxConcurrentActivityTaskExecutions: buildConcurrency,
      };
      workers.push(await Worker.create({ ...buildOptions, taskQueue: taskQueues.build }));
      workers.push(await Worker.create({ ...buildOptions, taskQueue: buildHostQueue(buildHostId()) }));
    }
  } catch (err) {
    // Workers already created keep a reference to the connection, so closing it may fail too;
    // the process is about to exit, and the first error is the one worth reading.
    await connection.close().catch(() => undefined);
    throw err;
  }
  return {
    workers,
    connection,
    async run() {
      try {
        await Promise.all(workers.map((w) => w.run()));
      } finally {
        await connection.close();
      }
    },
    shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}
