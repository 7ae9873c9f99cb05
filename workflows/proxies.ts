// Activity stubs for workflow code: one narrow proxy per task queue and kind of step, typed with
// only the activities that queue's workers register, with timeouts and retry policy declared once.
// Calling a build step through a deploy proxy is a type error. Types only come from activities/:
// the workflow bundle never pulls in dockerode, axios or fs.
import { proxyActivities, proxyLocalActivities, type RetryPolicy } from '@temporalio/workflow';
import type { BuildActivities, DeployActivities } from '../activities';
import type { Duration } from '@temporalio/common';
import { nonRetryableErrorTypes } from '../common/errors';
import { taskQueues } from '../common/contract';

const retry: RetryPolicy = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  nonRetryableErrorTypes,
};

/** Steps that take milliseconds and touch only the config, the templates and Temporal itself. */
type QuickSteps = Pick<
  DeployActivities,
  | 'planPipeline'
  | 'renderMarathonApp'
  | 'verifyDecisionAttestation'
  | 'requestDeploy'
  | 'cancelDeploy'
  | 'announceApprovalWait'
  | 'requestRollback'
  | 'admitDeployRequest'
  | 'verifyPipelineClaim'
  | 'confirmLaneOutcome'
  | 'confirmSuperseded'
  | 'resolveLaneTarget'
  | 'findPromotionSource'
  | 'planRollbackToCommit'
  | 'checkFreeze'
>;
const quickOptions = {
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '2m',
  retry: { ...retry, maximumAttempts: 10 },
} as const;

/** The quick steps on the deploy queue (how pipelines started before orchestration v2 ran them). */
export const quickRemote = proxyActivities<QuickSteps>({ taskQueue: taskQueues.deploy, ...quickOptions });

/**
 * The same quick steps as local activities: the worker that runs the workflow task runs them at
 * once and records only their result, with no task queue round trip.
 */
export const quickLocal = proxyLocalActivities<QuickSteps>(quickOptions);

export type Quick = typeof quickLocal;

/**
 * The PUT to Marathon (it may wait for a foreign deployment's lock). Bounded: a mistyped Marathon
 * URL or a Marathon that stays away fails the deploy instead of blocking the lane for ever.
 */
export const marathonDeploy = proxyActivities<Pick<DeployActivities, 'deployToMarathon'>>({
  taskQueue: taskQueues.deploy,
  startToCloseTimeout: '15m',
  scheduleToCloseTimeout: '30m',
  heartbeatTimeout: '30s',
  retry: { ...retry, maximumAttempts: 10 },
});

/**
 * The health wait and the rollback run up to the environment's health timeout: bounded by it,
 * with five minutes for one attempt and fifteen in all on top for a Marathon that hiccups.
 */
export function marathonWaits(healthTimeoutSeconds: number) {
  return proxyActivities<Pick<DeployActivities, 'awaitHealthy' | 'rollbackMarathonApp'>>({
    taskQueue: taskQueues.deploy,
    startToCloseTimeout: `${healthTimeoutSeconds + 300}s`,
    scheduleToCloseTimeout: `${healthTimeoutSeconds + 900}s`,
    heartbeatTimeout: '30s',
    retry: { ...retry, maximumAttempts: 10 },
  });
}

/**
 * A deploy's verification (config `verify`): each call is one look at the new version. Smoke
 * checks get three attempts (a task may answer 503 for a moment after turning healthy); a look at
 * Marathon or Prometheus rides out a minute of outage before it fails the verification.
 */
export const verifySteps = proxyActivities<Pick<DeployActivities, 'observeDeployment' | 'evaluateMetric'>>({
  taskQueue: taskQueues.deploy,
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '90s',
  retry: { ...retry, maximumAttempts: 6 },
});
export const smokeSteps = proxyActivities<Pick<DeployActivities, 'runSmokeChecks'>>({
  taskQueue: taskQueues.deploy,
  startToCloseTimeout: '2m',
  scheduleToCloseTimeout: '10m',
  retry: { ...retry, initialInterval: '2s', maximumAttempts: 3 },
});

/** The blue/green and canary steps (marathon-strategies.ts): each one quick Marathon call or two, retried. */
export const marathonStrategySteps = proxyActivities<
  Pick<
    DeployActivities,
    | 'prepareBlueGreen'
    | 'prepareCanary'
    | 'scaleMarathonApp'
    | 'killDrainedTasks'
    | 'deleteMarathonApp'
    | 'checkCanaryHealth'
  >
>({
  taskQueue: taskQueues.deploy,
  startToCloseTimeout: '1m',
  scheduleToCloseTimeout: '15m',
  retry: { ...retry, maximumAttempts: 20 },
});

/** GitLab reporting is best effort: a GitLab outage must not fail a delivery. */
export const gitlab = proxyActivities<Pick<DeployActivities, 'reportCommitStatus' | 'reportDeployment'>>({
  taskQueue: taskQueues.deploy,
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '3m',
  retry: { ...retry, maximumAttempts: 5 },
});

/**
 * Delivery events: the audit line and the notifications (activities/events). Best effort and
 * short: a chat service that stays away costs a few seconds, never a delivery.
 */
export const deliveryEvents = proxyActivities<Pick<DeployActivities, 'recordDeliveryEvent'>>({
  taskQueue: taskQueues.deploy,
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '2m',
  retry: { ...retry, maximumAttempts: 3 },
});

/** The first step of a build: any build worker answers with its own host queue. */
export const buildClaim = proxyActivities<Pick<BuildActivities, 'claimBuildHost'>>({
  taskQueue: taskQueues.build,
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '10m',
  retry: { ...retry, maximumAttempts: 5 },
});

/** Push attempts: with the backoff (1 s doubling to 30 s) about five minutes of registry outage. */
export const pushAttempts = 14;

/** Checkout and build on one host: two hours in all, whatever the retries. */
const buildStepsBound: Duration = '2h';
/** The push: within half an hour, registry outages included. */
export const pushBound: Duration = '30m';

/**
 * Steps on one build host: long, heartbeating; a host that stays away is given up on. Checkout
 * and build get 3 attempts; the push passes `pushAttempts`, because a registry restart is common
 * and passing and should not fail a delivery.
 */
export function buildHost(taskQueue: string, maximumAttempts = 3, scheduleToCloseTimeout: Duration = buildStepsBound) {
  return proxyActivities<Pick<BuildActivities, 'checkoutSource' | 'buildImage' | 'pushImage' | 'removeWorkdir'>>({
    taskQueue,
    scheduleToStartTimeout: '5m',
    scheduleToCloseTimeout,
    startToCloseTimeout: '45m',
    heartbeatTimeout: '60s',
    retry: { ...retry, maximumAttempts },
  });
}

/** Registry tags on any build worker (they hold the registry credentials); best effort. */
export const registryTags = proxyActivities<Pick<BuildActivities, 'tagImageInRegistry'>>({
  taskQueue: taskQueues.build,
  scheduleToCloseTimeout: '2m',
  startToCloseTimeout: '30s',
  retry: { ...retry, maximumAttempts: 5 },
});

/**
 * The drift check: one GET per app and a render, in parallel; bounded so a Marathon that stays
 * away fails the check (reported per environment) instead of holding the Schedule's run.
 */
export const driftCheckStep = proxyActivities<Pick<DeployActivities, 'checkDrift'>>({
  taskQueue: taskQueues.deploy,
  startToCloseTimeout: '2m',
  scheduleToCloseTimeout: '5m',
  retry: { ...retry, maximumAttempts: 3 },
});

/** A promotion's image checked in the registry by any build worker (they hold the registry credentials). */
export const registryCheck = proxyActivities<Pick<BuildActivities, 'verifyPromotionImage'>>({
  taskQueue: taskQueues.build,
  scheduleToCloseTimeout: '2m',
  startToCloseTimeout: '30s',
  retry: { ...retry, maximumAttempts: 5 },
});
