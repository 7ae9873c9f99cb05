// What a promotion decides, as plain deterministic code over the pipeline's run: which
// environments of the chain it may touch, which of them the commit already passed, the order it
// takes among the service's pipelines, and what its status says about where the image came from.
import type { EnvironmentPlan, PipelinePlan, PromotionSource, VerifiedImage } from '../../common/contract';
import type { PipelineRun } from './run';

/** The environments a promotion may touch: the chain up to `to`, or `to` alone; refused when `to` is not in it. */
export function promotionChain(run: PipelineRun, plan: PipelinePlan): EnvironmentPlan[] {
  const promotion = run.input.promotion;
  if (!promotion) throw new Error('not a promotion');
  const names = plan.environments.map((e) => e.name);
  const at = names.indexOf(promotion.to);
  if (at < 0) throw new Error(`environment "${promotion.to}" is not in ${plan.service}'s chain (${names.join(', ')})`);
  return promotion.only ? [plan.environments[at]!] : plan.environments.slice(0, at + 1);
}

/**
 * A promotion found its image. Records where from, takes its build's order (unless it may be
 * older than what runs), and returns what to deploy: `to`, after the chain's earlier
 * environments the commit never ran in (those it ran in are skipped, as already passed).
 */
export function applyPromotion(
  run: PipelineRun,
  plan: PipelinePlan,
  source: PromotionSource,
  image: VerifiedImage,
): EnvironmentPlan[] {
  const promotion = run.input.promotion!;
  const status = run.status;
  const chain = promotionChain(run, plan);
  if (!promotion.allowOlder) {
    const order = source.order ?? (image.createdAt ? Date.parse(image.createdAt) : undefined);
    if (order === undefined)
      throw new Error(`the build time of ${image.digestRef} is unknown: promote it with allowOlder (--allow-older)`);
    run.order = order;
  }
  status.order = run.order;
  const alreadyRan = chain.filter((e) => e.name !== promotion.to && source.ranIn.includes(e.name)).map((e) => e.name);
  const from = source.pipelineId ?? `registry ${plan.imageRepository}:${plan.tag}`;
  status.promotion = {
    ...promotion,
    source: source.pipelineId ? 'pipeline' : 'registry',
    ...(source.pipelineId ? { pipelineId: source.pipelineId } : {}),
    alreadyRan,
    ...(source.project ? { project: source.project } : {}),
    note: `promoted from ${from}, no build`,
  };
  if (source.ref) status.ref = source.ref;
  // The build's authors: `authorMayApprove: false` refuses them here too (unknown from the registry alone).
  const { changedBy, author, committedAt } = source;
  Object.assign(status, {
    ...(changedBy && { changedBy }),
    ...(author && { author }),
    ...(committedAt && { committedAt }),
  });
  status.image = image.digestRef;
  status.build = { digestRef: image.digestRef, finishedAt: run.now() };
  status.environments = status.environments.filter((e) => chain.some((c) => c.name === e.name));
  for (const name of alreadyRan)
    Object.assign(run.environment(name), { state: 'skipped', warning: `already ran ${run.input.commit.slice(0, 12)}` });
  return chain.filter((e) => !alreadyRan.includes(e.name));
}
