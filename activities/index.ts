// All activities, built over injected clients: the worker passes real ones, tests
// pass real ones against local servers or small fakes of outside APIs. Workflows import only the
// *type* of this object.
import type { Client } from '@temporalio/client';
import type Dockerode from 'dockerode';
import { verifyDecisionAttestation } from './attestation';
import { claimBuildHost } from './build-host';
import { createDockerActivities } from './docker';
import { createGitlabActivities } from './gitlab';
import { createLaneActivities } from './lanes';
import { createMarathonActivities } from './marathon';
import { planPipeline, renderMarathonApp } from './plan';
import { checkoutSource, removeWorkdir } from './source';

export interface ActivityDeps {
  client: Client;
  docker?: Dockerode;
}

export function createActivities(deps: ActivityDeps) {
  return {
    planPipeline,
    renderMarathonApp,
    verifyDecisionAttestation,
    claimBuildHost,
    checkoutSource,
    removeWorkdir,
    ...createDockerActivities({ docker: deps.docker }),
    ...createMarathonActivities({}),
    ...createLaneActivities({ client: deps.client }),
    ...createGitlabActivities(),
  };
}

export type Activities = ReturnType<typeof createActivities>;
