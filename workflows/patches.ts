// Every patch ID the workflow code branches on, in one place. A patch keeps a workflow that
// started on older code replaying the steps it took while new runs take the new ones. How a patch
// is added, deprecated and removed, and which recorded histories prove each branch:
// docs/versioning.md. test/workflows/versioning.test.ts holds the code, this list and that
// document together.
export const patches = {
  /** deliveryPipeline: quick steps as local activities; build folder removed while deploys go on. */
  orchestrationV2: 'orchestration-v2',
  /** deliveryPipeline: GitLab commit status "pending" as soon as the pipeline starts. */
  gitlabPendingStatus: 'gitlab-pending-status',
  /**
   * deliveryPipeline: "authorMayApprove: false" compares stable identities (GitLab user IDs,
   * usernames, emails of the pusher and commit authors) and refuses when the authors are unknown.
   */
  approverIdentities: 'approver-identities',
  /**
   * Both workflows: lane requests carry references only and are checked against the pipeline they
   * name; the lane deploys what the worker's config renders; pipelines check outcomes and
   * "superseded" notes with the lane. A forged message changes nothing.
   */
  laneReferences: 'lane-references',
  /** environmentLane: the health wait starts without waiting for the progress note's delivery. */
  progressSignalInParallel: 'progress-signal-in-parallel',
  /** environmentLane: the environment's registry tag follows a healthy deploy and a rollback. */
  environmentImageTags: 'environment-image-tags',
  /**
   * Both workflows: delivery events (waiting for approval, decisions, deployed, failed, rolled
   * back, cancelled, an operator's rollback) go to the audit log and the notification targets.
   */
  deliveryEvents: 'delivery-events',
  /**
   * environmentLane: a healthy deploy with config `verify` is verified (smoke checks, metrics, a
   * soak on durable timers) and rolled back when that fails; the pipeline hears "verifying".
   */
  deployVerification: 'deploy-verification',
  /**
   * deliveryPipeline, only when the plan says the config has `freeze:`: each environment is
   * checked for a freeze window before its approval gate and before its deploy, and waits frozen.
   */
  freezeWindows: 'freeze-windows',
  /**
   * environmentLane: a deploy whose config names `strategy: blue-green` or `canary` runs that
   * strategy (workflows/lane/strategies/); rolling deploys issue the same commands as before.
   */
  deployStrategies: 'deploy-strategies',
} as const;
