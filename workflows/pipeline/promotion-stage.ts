// The promotion stage, in place of the build: find the digest that commit's build pushed (its
// pipeline's status, else the registry's commit tag), have a build worker confirm it is in the
// registry under the service's repository from the config, and work out which environments of
// the chain to deploy. Nothing is built; the deploys then go through the lanes and approval gates
// exactly as a build pipeline's do.
import type { EnvironmentPlan, PipelinePlan } from '../../common/contract';
import { registryCheck } from '../proxies';
import type { DeploySteps } from './deploy-stage';
import { applyPromotion, promotionChain } from './promotion-plan';
import type { PipelineRun } from './run';

export async function promoteBuiltImage(
  run: PipelineRun,
  plan: PipelinePlan,
  steps: DeploySteps,
): Promise<{ image: string; environments: EnvironmentPlan[] }> {
  const { service, commit, promotion } = run.input;
  const chain = promotionChain(run, plan);
  const source = await steps.quick.findPromotionSource({
    service,
    commit,
    ...(promotion?.from ? { from: promotion.from } : {}),
    environments: chain.map((e) => e.name),
  });
  const image = await registryCheck.verifyPromotionImage({
    imageRepository: plan.imageRepository,
    tag: plan.tag,
    ...(source.image ? { digestRef: source.image } : {}),
  });
  const environments = applyPromotion(run, plan, source, image);
  // The build pipeline's GitLab project is known now: deployments are reported there.
  steps.gitlab.start();
  steps.publish();
  return { image: image.digestRef, environments };
}
