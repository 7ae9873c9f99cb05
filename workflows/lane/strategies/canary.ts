// Canary: the new version runs as a second Marathon app (<app>-canary) in the stable app's
// marathon-lb deployment group, so it takes a share of the traffic beside the stable app, stepped
// up through the configured steps with a durable wait (a Temporal timer) and a health check (plus
// the verify hook) after each. The last step promotes: the stable app takes the new version (a
// rolling deploy, rolled back on its own if unhealthy) and the canary is deleted. A failed or
// cancelled step deletes the canary; the stable app never changed. On the group's first deploy
// (no stable app in the group yet) there is nothing to compare with: the stable app is deployed
// rolling, into the group.
import { sleep } from '@temporalio/workflow';
import type { CanaryStep, DeployOutcome, DeploymentGroupPorts } from '../../../common/contract';
import { marathonStrategySteps as steps } from '../../proxies';
import { abortReason, deleteLeftover, scaleAndWait, startApp, targetOf, verifyStage, waitHealthy } from './run';
import type { Deployed, StrategyRun } from './run';

type Plan = Awaited<ReturnType<typeof steps.prepareCanary>>;

/** Canary instances per step before the promotion: `instances`, or `percent` of the target rounded up; at most the target. */
export function canaryCounts(stepList: CanaryStep[], target: number): number[] {
  return stepList
    .slice(0, -1)
    .map((s) => Math.max(1, Math.min(target, s.instances ?? Math.ceil((target * (s.percent ?? 100)) / 100))));
}

export async function runCanary(
  run: StrategyRun,
  strategy: DeploymentGroupPorts & { steps: CanaryStep[] },
): Promise<DeployOutcome> {
  run.step('plan the canary');
  const plan = await steps.prepareCanary({ ...targetOf(run), app: run.req.app, ports: strategy });
  const counts = canaryCounts(strategy.steps, plan.targetInstances);
  if (plan.stable && counts.length > 0) {
    const started: { deployed?: Deployed } = {};
    try {
      await stepThrough(run, plan, strategy.steps, counts, started);
    } catch (err) {
      return dropCanary(run, plan, started.deployed, err);
    }
  }
  run.step(`promote: ${plan.stableApp.id as string} takes the new version`);
  const outcome = await run.rolling(plan.stableApp);
  // Promoted or rolled back, the stable app serves alone again.
  const deleted = plan.stable ? await deleteLeftover(run, plan.canary.appId) : {};
  return outcome.kind === 'healthy'
    ? { ...outcome, live: { appId: plan.stable?.appId ?? String(plan.stableApp.id) }, ...deleted }
    : outcome;
}

async function stepThrough(
  run: StrategyRun,
  plan: Plan,
  stepList: CanaryStep[],
  counts: number[],
  started: { deployed?: Deployed },
): Promise<void> {
  const { appId } = plan.canary;
  for (const [i, count] of counts.entries()) {
    const stage = `canary step ${i + 1} of ${stepList.length}: ${count} instance(s) beside ${plan.stable!.instances}`;
    run.step(stage);
    if (i === 0) {
      started.deployed = await startApp(run, { ...plan.canary.app, instances: count });
      await waitHealthy(run, appId, started.deployed);
    } else {
      await scaleAndWait(run, appId, count);
    }
    const version = started.deployed!.version;
    await verifyStage(run, appId, version, stage);
    const wait = stepList[i]?.verifySeconds ?? 0;
    if (wait > 0) {
      const since = new Date(Date.now()).toISOString();
      run.step(`${stage}: verifying for ${wait} s`);
      await sleep(wait * 1000);
      await steps.checkCanaryHealth({ ...targetOf(run), appId, since });
      await verifyStage(run, appId, version, `${stage}: after ${wait} s`);
    }
  }
}

/** A failed or cancelled step: the canary is deleted, the stable app never changed. */
async function dropCanary(
  run: StrategyRun,
  plan: Plan,
  deployed: Deployed | undefined,
  err: unknown,
): Promise<DeployOutcome> {
  const { reason, cancelled } = abortReason(run, err);
  run.step(`abort: delete the canary (${plan.canary.appId})`);
  const { warning } = await deleteLeftover(run, plan.canary.appId);
  if (warning) return { kind: 'failed', error: `${reason}; ${warning}` };
  const stableVersion = plan.stable?.version ?? null;
  if (cancelled) return { kind: 'cancelled', rolledBackTo: stableVersion };
  return {
    kind: 'rolled-back',
    error: `canary ${plan.canary.appId} failed: ${reason}`,
    deploymentId: deployed?.deploymentId ?? null,
    version: deployed?.version,
    rolledBackTo: stableVersion,
  };
}
