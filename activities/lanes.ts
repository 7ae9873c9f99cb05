// Messages from a pipeline to the environment lanes it deploys through. Workflow code cannot
// signal-with-start, so these small activities do it with the worker's Temporal client: the lane
// for (service, environment) is started on first use and then lives on. Signals are idempotent on
// the lane's side (it deduplicates by pipeline ID), so a retried activity is harmless.
import type { Client } from '@temporalio/client';
import {
  awaitingApprovalSignal,
  cancelDeploySignal,
  deployRequestSignal,
  laneWorkflowId,
  rollbackRequestSignal,
  taskQueues,
  type DeployRequest,
  type LaneRequest,
  type RollbackRequest,
} from '../common/contract';
import { environmentLane } from '../workflows/lane';

export interface LaneAddress {
  service: string;
  environment: string;
}

export function createLaneActivities({ client }: { client: Client }) {
  function signalLane<T>(
    lane: LaneAddress,
    signal: Parameters<Client['workflow']['signalWithStart']>[1]['signal'],
    arg: T,
  ) {
    return client.workflow.signalWithStart(environmentLane, {
      workflowId: laneWorkflowId(lane.service, lane.environment),
      taskQueue: taskQueues.deploy,
      args: [{ service: lane.service, environment: lane.environment }],
      signal,
      signalArgs: [arg],
      staticSummary: `Lane: ${lane.service} in ${lane.environment}`,
    });
  }
  return {
    /**
     * Sends references only, whatever the caller passed (pipelines started before lane-references
     * pass the rendered app too): the lane renders what it deploys from the worker's config.
     */
    async requestDeploy(input: LaneAddress & { request: LaneRequest | DeployRequest }): Promise<void> {
      const { pipelineId, order, commit, image } = input.request;
      await signalLane(input, deployRequestSignal, { pipelineId, order, commit, image });
    },
    async cancelDeploy(input: LaneAddress & { pipelineId: string }): Promise<void> {
      await signalLane(input, cancelDeploySignal, { pipelineId: input.pipelineId });
    },
    async announceApprovalWait(
      input: LaneAddress & { pipelineId: string; order: number; done?: boolean },
    ): Promise<void> {
      await signalLane(input, awaitingApprovalSignal, {
        pipelineId: input.pipelineId,
        order: input.order,
        done: input.done,
      });
    },
    async requestRollback(input: LaneAddress & { request: RollbackRequest }): Promise<void> {
      await signalLane(input, rollbackRequestSignal, input.request);
    },
  };
}
