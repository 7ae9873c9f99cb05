// Activity stubs for workflow code, with timeouts and retry policy declared once (STYLE habit 1).
// Types only come from activities/: the workflow bundle never pulls in dockerode, axios or fs.
import { proxyActivities, proxyLocalActivities, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { nonRetryableErrorTypes } from '../common/errors';
import { taskQueues } from '../common/types';

const retry: RetryPolicy = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  nonRetryableErrorTypes,
};

/** Planning, rendering, lane messages, attestation checks: quick and local. */
export const quick = proxyActivities<Activities>({
  taskQueue: taskQueues.deploy,
  startToCloseTimeout: '30s',
  retry: { ...retry, maximumAttempts: 10 },
});

/**
 * The same quick steps as local activities: the worker that runs the workflow task runs them
 * at once and records only their result, with no task queue round trip. For steps that take
 * milliseconds and touch only the config, the templates and Temporal itself.
 */
export const quickLocal = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { ...retry, maximumAttempts: 10 },
});

/** Marathon calls: deploy and rollback wait on locks; awaitHealthy runs up to our health timeout. */
export const marathon = proxyActivities<Activities>({
  taskQueue: taskQueues.deploy,
  startToCloseTimeout: '2h',
  heartbeatTimeout: '30s',
  retry,
});

/** The first step of a build: any build worker answers with its own host queue. */
export const buildClaim = proxyActivities<Activities>({
  taskQueue: taskQueues.build,
  startToCloseTimeout: '30s',
  retry: { ...retry, maximumAttempts: 5 },
});

/**
 * Steps on one build host: long, heartbeating; a host that stays away is given up on. Checkout
 * and build get 3 attempts; the push passes `pushAttempts`, because a registry restart is common
 * and passing and should not fail a delivery.
 */
export function buildHost(taskQueue: string, maximumAttempts = 3) {
  return proxyActivities<Activities>({
    taskQueue,
    scheduleToStartTimeout: '5m',
    startToCloseTimeout: '45m',
    heartbeatTimeout: '60s',
    retry: { ...retry, maximumAttempts },
  });
}

/** Push attempts: with the backoff (1 s doubling to 30 s) about five minutes of registry outage. */
export const pushAttempts = 14;

/** Registry tags on any build worker (they hold the registry credentials); best effort. */
export const registryTags = proxyActivities<Activities>({
  taskQueue: taskQueues.build,
  scheduleToCloseTimeout: '2m',
  startToCloseTimeout: '30s',
  retry: { ...retry, maximumAttempts: 5 },
});

/** GitLab reporting is best effort: a GitLab outage must not fail a delivery. */
export const reporting = proxyActivities<Activities>({
  taskQueue: taskQueues.deploy,
  startToCloseTimeout: '30s',
  retry: { ...retry, maximumAttempts: 5 },
});
