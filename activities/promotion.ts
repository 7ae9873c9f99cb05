// What a promotion (and a rollback to a commit) needs to know before it deploys anything, found on
// a deploy worker with its own Temporal client and config — never taken from whoever asked: the
// build pipeline of that commit (its pushed digest, its order, its GitLab project), which
// environments' lanes ran the commit, and for a rollback whether Marathon still holds the app
// version that ran it. The digest itself is then checked in the registry by a build worker
// (promotion-registry.ts).
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  laneQuery,
  laneWorkflowId,
  pipelineOrder,
  pipelineWorkflowId,
  statusQuery,
  type CommitRollbackPlan,
  type LaneState,
  type LaneTarget,
  type PipelineStatus,
  type PromotionSource,
} from '../common/contract';
import { NonRetryable } from '../common/errors';
import { deploysFromConfig, type DeploySource, type LaneAddress } from './lane-checks';
import { configuredMarathonClient } from './marathon-guard';

const notPromotable = (message: string) => ApplicationFailure.nonRetryable(message, NonRetryable.NotPromotable);

/** The app versions Marathon still holds for (service, environment), from this worker's config. */
export type MarathonVersions = (target: LaneTarget, environment: string) => Promise<string[]>;

const marathonVersions: MarathonVersions = (target, environment) =>
  configuredMarathonClient(target.marathonUrl, environment).listVersions(target.appId);

export function createPromotionActivities({
  client,
  deploys = deploysFromConfig(),
  versions = marathonVersions,
}: {
  client: Client;
  deploys?: Pick<DeploySource, 'targetOf'>;
  versions?: MarathonVersions;
}) {
  async function laneOf(lane: LaneAddress): Promise<LaneState | undefined> {
    try {
      return await client.workflow.getHandle(laneWorkflowId(lane.service, lane.environment)).query(laneQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /** The status of `pipelineId` if it is a deliveryPipeline; undefined when there is none. */
  async function pipelineStatusOf(pipelineId: string): Promise<PipelineStatus | undefined> {
    const handle = client.workflow.getHandle(pipelineId);
    try {
      const description = await handle.describe();
      if (description.type !== 'deliveryPipeline')
        throw notPromotable(`"${pipelineId}" is a ${description.type}, not a deliveryPipeline`);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
    // A closed pipeline answers the query too (a worker replays it).
    return handle.query(statusQuery);
  }

  return {
    /**
     * The build pipeline of (service, commit) — `from` when given — and the environments whose
     * lanes ran the commit. No pipeline (its history expired) is not an error: the registry's
     * commit tag decides next.
     */
    async findPromotionSource(input: {
      service: string;
      commit: string;
      from?: string;
      environments: string[];
    }): Promise<PromotionSource> {
      const { service, commit } = input;
      const pipelineId = input.from ?? pipelineWorkflowId(service, commit);
      const status = await pipelineStatusOf(pipelineId);
      if (!status && input.from) throw notPromotable(`no pipeline "${input.from}" to promote from`);
      if (status && (status.service !== service || status.commit !== commit))
        throw notPromotable(`${pipelineId} delivers ${status.service}@${status.commit}, not ${service}@${commit}`);
      if (status && !status.image && input.from)
        throw notPromotable(`${pipelineId} never pushed an image (it ended ${status.state}): nothing to promote`);
      const lanes = await Promise.all(input.environments.map((environment) => laneOf({ service, environment })));
      const ranIn = input.environments.filter((_, i) => ranCommit(lanes[i], commit));
      if (!status?.image) return { ranIn };
      const trigger = status.trigger;
      return {
        pipelineId,
        image: status.image,
        order: pipelineOrder(status),
        ...(trigger.kind !== 'manual' ? { project: trigger.project } : {}),
        ...(status.ref ? { ref: status.ref } : {}),
        ...(status.changedBy ? { changedBy: status.changedBy } : {}),
        ...(status.author ? { author: status.author } : {}),
        ...(status.committedAt ? { committedAt: status.committedAt } : {}),
        ranIn,
      };
    },

    /**
     * How to return (service, environment) to the version that ran `commit`: the lane's history
     * names the Marathon version and the image; Marathon may have dropped that version since.
     */
    async planRollbackToCommit(input: LaneAddress & { commit: string }): Promise<CommitRollbackPlan> {
      const { service, environment, commit } = input;
      const lane = await laneOf(input);
      if (lane?.current?.commit === commit)
        throw notPromotable(`${service}@${commit.slice(0, 12)} already runs in ${environment}: nothing to roll back`);
      const ran = lane?.history.find((h) => h.commit === commit);
      if (!ran) {
        const known = [...new Set((lane?.history ?? []).map((h) => h.commit.slice(0, 12)))];
        throw notPromotable(
          `${service}@${commit.slice(0, 12)} never ran in ${environment}` +
            (known.length ? ` (the lane remembers ${known.join(', ')})` : ' (the lane remembers no earlier commit)'),
        );
      }
      const target = deploys.targetOf(input);
      const kept = await versions(target, environment);
      if (kept.includes(ran.version)) {
        const build = await pipelineStatusOf(pipelineWorkflowId(service, commit)).catch(() => undefined);
        const project = build && build.trigger.kind !== 'manual' ? build.trigger.project : undefined;
        const gitlab = project && build?.ref ? { gitlab: { project, ref: build.ref } } : {};
        return { kind: 'version', version: ran.version, image: ran.image, ...gitlab };
      }
      if (!ran.image.includes('@sha256:'))
        throw notPromotable(
          `Marathon no longer holds version ${ran.version} of ${target.appId}, and the lane does not know the image that ran ${commit.slice(0, 12)}`,
        );
      return { kind: 'redeploy', version: ran.version, image: ran.image };
    },
  };
}

function ranCommit(lane: LaneState | undefined, commit: string): boolean {
  return lane?.current?.commit === commit || (lane?.history ?? []).some((h) => h.commit === commit);
}
