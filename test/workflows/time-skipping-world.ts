// The set-up the workflow test files share: Temporal's time-skipping test server with Slipway's
// search attributes, the fake outside world (fake-world.ts) and workers for the deploy queue and
// the build queues, plus a wait on a pipeline's status query.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { temporalTestServerPath } from '../helpers/env';
import { until } from '../helpers/wait';
import { quietTemporalRuntime, registerSearchAttributes } from '../helpers/runtime';
import { statusQuery, type PipelineStatus } from '../../common/contract';
import { createFakeWorld, type WorldOptions } from './fake-world';

export interface TimeSkippingWorld {
  env: TestWorkflowEnvironment;
  /**
   * A client that never lets the server skip time. The environment's own client skips time while
   * it waits for a result; with only the lanes' run timeouts left (the test server's default is
   * ten years), a skip ends every lane.
   */
  client: Client;
  world: ReturnType<typeof createFakeWorld>;
  stop(): Promise<void>;
}

export async function startTimeSkippingWorld(options: Omit<WorldOptions, 'client'>): Promise<TimeSkippingWorld> {
  quietTemporalRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalTestServerPath() } },
  });
  await registerSearchAttributes(env.connection);
  const client = new Client({ connection: env.connection, namespace: env.namespace });
  const world = createFakeWorld({ client, ...options });
  const connection = env.nativeConnection;
  const workers = [
    await Worker.create({
      connection,
      activities: world.deploy,
      taskQueue: 'slipway',
      workflowsPath: require.resolve('../../workflows'),
    }),
    await Worker.create({ connection, activities: world.build, taskQueue: 'slipway-build' }),
    await Worker.create({ connection, activities: world.build, taskQueue: 'slipway-build@test-host' }),
  ];
  const running = Promise.all(workers.map((w) => w.run()));
  return {
    env,
    client,
    world,
    async stop() {
      for (const w of workers) w.shutdown();
      await running;
      await env.teardown();
    },
  };
}

/** Polls the pipeline's status query until `predicate` holds. */
export function waitForPipeline(handle: WorkflowHandle, predicate: (s: PipelineStatus) => boolean, what: string) {
  return until(
    what,
    20_000,
    async () => {
      const status = await handle.query(statusQuery);
      return predicate(status) ? status : undefined;
    },
    { intervalMs: 50 },
  );
}
