// Activities by worker role, each built over injected clients: the worker passes real ones, tests
// pass real ones against local servers or small fakes of outside APIs. A deploy worker registers
// only the deploy activities and a build worker only the build ones, so a build step can never run
// (or type-check) on a deploy worker. Workflows import only the *types* of these objects.
import type { Client } from '@temporalio/client';
import type Dockerode from 'dockerode';
import { verifyDecisionAttestation } from './attestation';
import { claimBuildHost } from './build-host';
import { createDockerActivities } from './docker';
import { createDriftActivities } from './drift-check';
import { createEventActivities } from './events';
import { createFreezeActivities } from './freeze';
import { createGitlabActivities } from './gitlab';
import { createLaneChecks } from './lane-checks';
import { createLaneActivities } from './lanes';
import { createMarathonActivities } from './marathon';
import { configuredMarathonClient } from './marathon-guard';
import { createMarathonStrategyActivities } from './marathon-strategies';
import { planPipeline, renderMarathonApp } from './plan';
import { createPromotionActivities } from './promotion';
import { verifyPromotionImage } from './promotion-registry';
import { checkoutSource, removeWorkdir } from './source';
import { createVerifyActivities } from './verify';

/** Task queue "slipway": planning, rendering, lane messages, Marathon, GitLab reporting, audit and notifications. */
export function createDeployActivities(deps: { client: Client }) {
  return {
    planPipeline,
    renderMarathonApp,
    verifyDecisionAttestation,
    ...createMarathonActivities({ clientFor: configuredMarathonClient }),
    ...createMarathonStrategyActivities({ clientFor: configuredMarathonClient }),
    ...createLaneActivities({ client: deps.client }),
    ...createLaneChecks({ client: deps.client }),
    ...createGitlabActivities(),
    ...createDriftActivities({ client: deps.client }),
    ...createEventActivities(),
    ...createVerifyActivities({ clientFor: configuredMarathonClient }),
    ...createPromotionActivities({ client: deps.client }),
    ...createFreezeActivities(),
  };
}

/** Task queue "slipway-build" and each build host's own queue: checkout, build, push, tag. */
export function createBuildActivities(deps: { docker?: Dockerode }) {
  return {
    claimBuildHost,
    checkoutSource,
    removeWorkdir,
    ...createDockerActivities({ docker: deps.docker }),
    verifyPromotionImage,
  };
}

export type DeployActivities = ReturnType<typeof createDeployActivities>;
export type BuildActivities = ReturnType<typeof createBuildActivities>;
