// Real Slipway workflows on the harness's real Temporal dev server, with the outside world (build,
// registry, Marathon) faked at the activity boundary by test/workflows/fake-world.ts. Lets the
// webhook, API and CLI tests drive whole pipelines — approvals included — in seconds.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { temporalAddress } from '../helpers/env';
import { quietTemporalRuntime } from '../helpers/runtime';
import { createFakeWorld, type WorldOptions as FakeWorldOptions } from '../workflows/fake-world';
import type { DeployActivities } from '../../activities';

export interface World {
  client: Client;
  fake: ReturnType<typeof createFakeWorld>;
  unhealthyCommits: Set<string>;
  stop(services: string[]): Promise<void>;
}

export interface WorldOptions {
  activities?: Partial<DeployActivities>;
  /** The environment chain and approval rules the fake plan gives (default: test, integration, production). */
  environments?: FakeWorldOptions['environments'];
  /** Commits whose health wait takes this long (ms). */
  slowCommits?: Map<string, number>;
  /** The freeze windows the worker's config holds (services named frozen-* check them). */
  freezeWindows?: FakeWorldOptions['freezeWindows'];
}

export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  quietTemporalRuntime();
  process.env.SLIPWAY_APPROVAL_KEY ??= `approval-key-${randomUUID()}`;
  const connection = await Connection.connect({ address: temporalAddress() });
  const client = new Client({ connection });
  const native = await NativeConnection.connect({ address: temporalAddress() });
  const unhealthyCommits = new Set<string>();
  const fake = createFakeWorld({
    client,
    unhealthyCommits,
    healthDelayMs: 20,
    environments: opts.environments,
    slowCommits: opts.slowCommits,
    freezeWindows: opts.freezeWindows,
  });
  const build = { connection: native, activities: fake.build };
  const workers = [
    await Worker.create({
      connection: native,
      activities: { ...fake.deploy, ...opts.activities },
      taskQueue: 'slipway',
      workflowsPath: require.resolve('../../workflows'),
    }),
    await Worker.create({ ...build, taskQueue: 'slipway-build' }),
    await Worker.create({ ...build, taskQueue: 'slipway-build@test-host' }),
  ];
  const running = Promise.all(workers.map((w) => w.run()));
  return {
    client,
    fake,
    unhealthyCommits,
    async stop(services) {
      // Leave nothing running for later test files: pipelines and the lanes they started.
      for (const service of services) {
        const query = `SlipwayService = '${service}' OR WorkflowId STARTS_WITH 'lane/${service}/'`;
        for await (const info of client.workflow.list({ query: `(${query}) AND ExecutionStatus = 'Running'` })) {
          await client.workflow
            .getHandle(info.workflowId)
            .terminate('test over')
            .catch(() => undefined);
        }
      }
      for (const w of workers) w.shutdown();
      await running;
      await native.close();
      await connection.close();
    },
  };
}

/** Shared with the whole-stack tests: see test/helpers/status.ts. */
export { waitForStatus } from '../helpers/status';

export const randomSha = () => (randomUUID() + randomUUID()).replace(/-/g, '').slice(0, 40);
