// Checks behind every message between a pipeline and a lane. Temporal lets anyone with access to
// the namespace (every Temporal UI user) send any signal with any payload, so no message decides
// anything by itself: a lane acts on a request only once the pipeline it names confirms it (its
// status query says it is deploying that image into that environment, or waiting there, or being
// cancelled), and takes where and what to deploy from this worker's deploy config; a pipeline acts
// on an outcome only once the lane confirms it gave that answer. A forged message changes nothing.
import { ApplicationFailure } from '@temporalio/activity';
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import {
  getEnvironment,
  getService,
  marathonAppId,
  resolveAppSettings,
  resolveStrategy,
  verifyPlanOf,
} from '../common/config';
import {
  deployOutcomeQuery,
  laneQuery,
  laneWorkflowId,
  pipelineOrder,
  statusQuery,
  type DeployOutcome,
  type LaneAdmission,
  type LaneDeploy,
  type LaneRequest,
  type LaneTarget,
  type PipelineClaim,
  type PipelineStatus,
} from '../common/contract';
import { NonRetryable } from '../common/errors';
import { configDir, renderMarathonApp, withConfig } from './plan';

export interface LaneAddress {
  service: string;
  environment: string;
}

type Verdict = { ok: true } | { ok: false; reason: string };

/** Where the answers about what to deploy come from: the worker's deploy config, or a test's world. */
export interface DeploySource {
  /** What to deploy for an admitted request; throws when the config cannot render it. */
  deployFor(lane: LaneAddress, request: LaneRequest): Promise<LaneDeploy>;
  /** Where (service, environment) lives. */
  targetOf(lane: LaneAddress): LaneTarget;
}

/** The deploy config on this worker: SLIPWAY_CONFIG_DIR, or per lane (the benchmarks' shards). */
export const deploysFromConfig = (dirOf: (lane: LaneAddress) => string = () => configDir()): DeploySource => ({
  async deployFor(lane, request) {
    const dir = dirOf(lane);
    const settings = withConfig((config) => {
      const env = getEnvironment(config, lane.environment);
      const service = getService(config, lane.service);
      // Where the image came from is the pipeline's word (its own build, confirmed before this);
      // here it must at least be one immutable digest, never a moving tag.
      if (!/^[^\s@]+@sha256:[0-9a-f]{64}$/.test(request.image))
        throw ApplicationFailure.nonRetryable(
          `image ${request.image} is not a digest reference (repository@sha256:<64 hex>)`,
          NonRetryable.BadConfig,
        );
      const settings = resolveAppSettings(config, service, env.name);
      const verify = verifyPlanOf(settings.verify);
      // Rolling (the default) adds nothing, so a rolling lane's requests stay as they were.
      const strategy = resolveStrategy(config, service, env.name);
      return {
        marathonUrl: env.marathon,
        healthTimeoutSeconds: settings.healthTimeoutSeconds,
        forceOverForeignDeployment: env.forceOverForeignDeployments,
        ...(env.imageTag ? { imageTag: env.imageTag } : {}),
        ...(verify ? { verify } : {}),
        ...(strategy.type !== 'rolling' ? { strategy } : {}),
      };
    }, dir);
    // Rendered for the version that Marathon says it runs (renderMarathonApp asks it).
    return { ...settings, app: await renderMarathonApp({ ...lane, ...request }, dir) };
  },
  targetOf(lane) {
    return withConfig((config) => {
      const env = getEnvironment(config, lane.environment);
      const service = getService(config, lane.service);
      return {
        marathonUrl: env.marathon,
        appId: marathonAppId(env, service.name),
        healthTimeoutSeconds: resolveAppSettings(config, service, env.name).healthTimeoutSeconds,
        ...(env.imageTag ? { imageTag: env.imageTag } : {}),
      };
    }, dirOf(lane));
  },
});

export function createLaneChecks({
  client,
  deploys = deploysFromConfig(),
}: {
  client: Client;
  deploys?: DeploySource;
}) {
  /** The pipeline as it stands now: running, of the right type, and its status. */
  async function pipelineNamed(
    pipelineId: string,
  ): Promise<{ description: WorkflowExecutionDescription; status?: PipelineStatus } | string> {
    let description: WorkflowExecutionDescription;
    try {
      description = await client.workflow.getHandle(pipelineId).describe();
    } catch {
      return `no workflow "${pipelineId}"`;
    }
    if (description.type !== 'deliveryPipeline')
      return `"${pipelineId}" is a ${description.type}, not a deliveryPipeline`;
    if (description.status.name !== 'RUNNING') return { description };
    return { description, status: await client.workflow.getHandle(pipelineId).query(statusQuery) };
  }

  /** Does the running pipeline say it is deploying this image into this environment? */
  function deployingThere(lane: LaneAddress, req: LaneRequest, status: PipelineStatus): Verdict {
    const env = status.environments.find((e) => e.name === lane.environment);
    const mismatch =
      status.service !== lane.service
        ? `it delivers ${status.service}, not ${lane.service}`
        : status.commit !== req.commit
          ? `its commit is ${status.commit}, not ${req.commit}`
          : status.image !== req.image
            ? `its image is ${status.image ?? '(not built)'}, not ${req.image}`
            : pipelineOrder(status) !== req.order
              ? `its order is ${pipelineOrder(status)}, not ${req.order}`
              : env?.state !== 'deploying'
                ? `it is not deploying into ${lane.environment} (${env?.state ?? 'no such environment'})`
                : undefined;
    return mismatch ? { ok: false, reason: mismatch } : { ok: true };
  }

  return {
    /**
     * A deploy request, checked against the pipeline it names; admitted with what this worker's
     * config says to deploy. `verified: true` on a refusal: the pipeline is genuine, tell it why.
     */
    async admitDeployRequest(
      input: LaneAddress & { request: LaneRequest },
    ): Promise<LaneAdmission & { verified?: boolean }> {
      const { request } = input;
      const found = await pipelineNamed(request.pipelineId);
      if (typeof found === 'string') return { admitted: false, reason: found };
      if (!found.status)
        return { admitted: false, reason: `${request.pipelineId} is ${found.description.status.name.toLowerCase()}` };
      const claim = deployingThere(input, request, found.status);
      if (!claim.ok)
        return { admitted: false, reason: `${request.pipelineId} does not confirm the request: ${claim.reason}` };
      try {
        const deploy = await deploys.deployFor(input, request);
        return { admitted: true, deploy };
      } catch (err) {
        // A Marathon that does not answer its version now (a 503 during a leader election) is
        // retried with the activity; what retrying cannot fix fails the pipeline's deploy.
        if (!(err instanceof ApplicationFailure && err.nonRetryable)) throw err;
        return { admitted: false, verified: true, reason: err.message };
      }
    },

    /** A cancel or an approval wait, checked against the pipeline it names. */
    async verifyPipelineClaim(input: LaneAddress & { pipelineId: string; claim: PipelineClaim }): Promise<Verdict> {
      const found = await pipelineNamed(input.pipelineId);
      if (typeof found === 'string') return { ok: false, reason: found };
      const { claim } = input;
      const status = found.status;
      if (claim.kind === 'cancel') {
        // A closed pipeline has nothing left to deploy; a running one says it is being cancelled.
        if (!status || status.state === 'cancelling') return { ok: true };
        return { ok: false, reason: `${input.pipelineId} is ${status.state}, not being cancelled` };
      }
      if (claim.kind === 'done-waiting') return { ok: true };
      const env = status?.environments.find((e) => e.name === input.environment);
      if (
        status &&
        status.service === input.service &&
        env?.state === 'waiting-approval' &&
        pipelineOrder(status) === claim.order
      )
        return { ok: true };
      return {
        ok: false,
        reason: `${input.pipelineId} does not wait for approval into ${input.environment} with order ${claim.order}`,
      };
    },

    /** The answer the lane really gave this pipeline (null: none yet). */
    async confirmLaneOutcome(input: LaneAddress & { pipelineId: string }): Promise<DeployOutcome | null> {
      return client.workflow
        .getHandle(laneWorkflowId(input.service, input.environment))
        .query(deployOutcomeQuery, input.pipelineId);
    },

    /** Is `by` really newer and waiting for (or running in) this environment, as the lane says? */
    async confirmSuperseded(input: LaneAddress & { order: number; by: string }): Promise<boolean> {
      const lane = await client.workflow.getHandle(laneWorkflowId(input.service, input.environment)).query(laneQuery);
      const waiting = lane.waitingApproval.find((w) => w.pipelineId === input.by);
      if (waiting) return waiting.order > input.order;
      return lane.current?.pipelineId === input.by && lane.current.order > input.order;
    },

    /** Where (service, environment) lives, from this worker's config: what a rollback needs. */
    async resolveLaneTarget(input: LaneAddress): Promise<LaneTarget> {
      return deploys.targetOf(input);
    },
  };
}
