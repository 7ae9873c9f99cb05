// A real stack with services already delivered, for the inventory tests (`slipway envs`, the
// board): the harness's Temporal server, two Marathon emulators (test and integration on one in
// Marathon 1.5's shape, production on one in 1.4's, so a test can take production's Marathon away
// alone), two services, and one worker process running the real workflows and Marathon activities.
// Only checkout, build and push are no-ops returning a tiny image pushed once to the registry (the
// benchmarks' worker, bench/worker-process.ts): what the inventory reads — lanes, pipelines,
// Marathon apps — is made by real deploys, in seconds instead of a Docker build.
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import type { PipelineStatus } from '../../common/contract';
import { sendDecision, startPipeline } from '../../client/pipelines';
import { ensureNoopImage, randomSha } from '../../bench/fixtures';
import { startBenchWorker, type BenchChild } from '../../bench/processes';
import { registryAddress } from './env';
import { startStack, type Stack } from './stack';
import { waitForStatus } from './status';

export interface DeliveredStack {
  stack: Stack;
  /** Starts a pipeline of `service` and waits until production waits for approval. */
  toProductionGate(service: string): Promise<PipelineStatus>;
  /** Approves production (validated Update, as `slipway approve --as`) and waits for the pipeline to succeed. */
  approveProduction(workflowId: string, approver: string): Promise<PipelineStatus>;
  /**
   * Makes the next deploy of `service` into test unhealthy (the simulated emulator's
   * SLIPWAY_SIMULATE_UNHEALTHY in the app's env, through the deploy config), starts a pipeline
   * and waits until it failed: the lane rolls test back to what ran before.
   */
  failInTest(service: string): Promise<PipelineStatus>;
  stop(): Promise<void>;
}

export async function startDeliveredStack(name: string): Promise<DeliveredStack> {
  const stack = await startStack({
    marathonMode: 'simulated',
    example: 'hello-node',
    marathon14For: ['production'],
    // Long enough for a simulated task to become healthy (200 ms), short for the failing one.
    healthTimeout: '6s',
    extraServices: 1,
    emulator: { simulatedHealthyAfterMs: 200, simulatedLaunchMs: 20 },
  });
  let worker: BenchChild | undefined;
  const pipelines: string[] = [];
  try {
    worker = await startBenchWorker(
      name,
      { roles: ['deploy', 'build'], noop: ensureNoopImage(registryAddress()), marathonPollMs: 100 },
      stack.workerEnv,
    );
  } catch (err) {
    await stack.stop();
    throw err;
  }
  const client = stack.client;
  const start = async (service: string) => {
    const { workflowId } = await startPipeline(client, {
      service,
      commit: randomSha(),
      ref: 'refs/heads/main',
      trigger: { kind: 'manual', user: 'carol' },
      author: { name: 'Carol', username: 'carol' },
      // Production may not be approved by the change's authors, so they must be known.
      changedBy: { gitlabUsernames: ['carol'], emails: ['carol@example.com'] },
    });
    pipelines.push(workflowId);
    return workflowId;
  };
  return {
    stack,
    async toProductionGate(service) {
      return await waitForStatus(
        client,
        await start(service),
        (s) => s.environments.find((e) => e.name === 'production')?.state === 'waiting-approval',
        'production to wait for approval',
        60_000,
      );
    },
    async failInTest(service) {
      const file = path.join(stack.configDir, 'services', `${service}.yaml`);
      appendFileSync(file, "  test: { env: { SLIPWAY_SIMULATE_UNHEALTHY: '1' } }\n");
      return await waitForStatus(
        client,
        await start(service),
        (s) => s.state === 'failed',
        'the pipeline to fail',
        60_000,
      );
    },
    async approveProduction(workflowId, approver) {
      const outcome = await sendDecision(client, workflowId, 'approve', {
        environment: 'production',
        approver,
        comment: 'ship it',
      });
      if (!outcome.ok) throw new Error(`approval of ${workflowId} refused: ${outcome.reason}`);
      return await waitForStatus(client, workflowId, (s) => s.state === 'succeeded', 'the pipeline to succeed', 60_000);
    },
    async stop() {
      const lanes = stack.services.map((s) => `WorkflowId STARTS_WITH 'lane/${s}/'`);
      const ids = pipelines.map((id) => `WorkflowId = '${id}'`);
      const query = `(${[...lanes, ...ids].join(' OR ')}) AND ExecutionStatus = 'Running'`;
      for await (const info of client.workflow.list({ query }))
        await client.workflow
          .getHandle(info.workflowId)
          .terminate('test over')
          .catch(() => undefined);
      await worker?.stop();
      await stack.stop();
    },
  };
}
