// The build stage: build the image once and push it, on one build host from checkout to push
// (the same Docker daemon), failing over to another host when one vanishes. Its result is the
// digest reference every environment receives.
import { CancellationScope, isCancellation, log, workflowInfo } from '@temporalio/workflow';
import type { PipelinePlan } from '../../common/contract';
import { describeError, isNonRetryable } from '../failures';
import { buildClaim, buildHost, pushAttempts, pushBound } from '../proxies';
import type { PipelineRun } from './run';

const maxBuildHosts = 3;

export interface BuildStageOptions {
  publish: () => void;
  /**
   * Where the build folder's removal goes: handed over so it runs while the deploys go on
   * (orchestration v2); without it the stage waits for the removal, as the first version did.
   */
  deferCleanup?: (cleanup: Promise<unknown>) => void;
}

export async function buildAndPush(run: PipelineRun, plan: PipelinePlan, opts: BuildStageOptions): Promise<string> {
  run.status.build.startedAt = run.now();
  for (let attempt = 1; ; attempt++) {
    const host = await buildClaim.claimBuildHost();
    run.status.build.host = host.hostId;
    opts.publish();
    try {
      return await buildOnHost(run, plan, host.taskQueue, opts);
    } catch (err) {
      // A build host that vanished (schedule-to-start or heartbeat timeout) is replaced by another.
      if (isCancellation(err) || isNonRetryable(err) || attempt >= maxBuildHosts) throw err;
      log.warn('build host failed; claiming another', { host: host.hostId, attempt, error: describeError(err) });
    }
  }
}

async function buildOnHost(
  run: PipelineRun,
  plan: PipelinePlan,
  taskQueue: string,
  opts: BuildStageOptions,
): Promise<string> {
  const { workflowId, runId } = workflowInfo();
  const steps = buildHost(taskQueue);
  const buildId = `${workflowId.replace(/[^\w.-]+/g, '_')}-${runId.slice(0, 8)}`;
  const commit = run.input.commit;
  // With the ref, the checkout proves the commit belongs to it (the branch head or an ancestor, the tag's commit).
  const { ref } = run.input;
  const source = await steps.checkoutSource({ buildId, repoUrl: plan.repository, commit, ...(ref ? { ref } : {}) });
  run.learnAuthor(source.authorEmail);
  try {
    const built = await steps.buildImage({
      buildId,
      workdir: source.workdir,
      service: plan.service,
      type: plan.type,
      pipelineId: workflowId,
      commit,
      repository: plan.imageRepository,
      tag: plan.tag,
      baseImages: plan.baseImages,
      port: plan.port,
      ...plan.build,
    });
    const build = run.status.build;
    build.image = built.image;
    build.durationMs = built.durationMs;
    const pushed = await buildHost(taskQueue, pushAttempts, pushBound).pushImage({ image: built.image });
    build.digestRef = pushed.digestRef;
    build.finishedAt = run.now();
    run.status.committedAt ??= source.committedAt;
    return pushed.digestRef;
  } finally {
    const cleanup = CancellationScope.nonCancellable(() => steps.removeWorkdir({ workdir: source.workdir })).catch(
      () => undefined,
    );
    if (opts.deferCleanup) opts.deferCleanup(cleanup);
    else await cleanup;
  }
}
