// Blue/green, as marathon-lb's zdd.py does it: the new colour starts as a second Marathon app in
// the deployment group while the old colour keeps serving; once it is healthy (and verified) the
// switch goes in steps — wait while marathon-lb drains as many old tasks as the new colour has
// healthy ones, kill exactly those, grow the new colour by about half — until the old colour has
// no instance left; then it is deleted. Every step is an activity or a durable timer, so a worker
// that dies mid-switch resumes at the step it was in. Until the old colour is deleted, any failure
// (unhealthy, cancelled, refused) returns to it: it is scaled back to its size, healthy, and the new
// colour is deleted.
import { sleep } from '@temporalio/workflow';
import type { DeployOutcome, DeploymentGroupPorts } from '../../../common/contract';
import { nextScaleUp } from '../../../common/deployment-group';
import { describeError } from '../../failures';
import { marathonStrategySteps as steps } from '../../proxies';
import {
  abortReason,
  deleteLeftover,
  nonCancellable,
  scaleAndWait,
  startApp,
  targetOf,
  verifyStage,
  waitHealthy,
} from './run';
import type { Deployed, StrategyRun } from './run';

type Plan = Awaited<ReturnType<typeof steps.prepareBlueGreen>>;

/** More steps than any real switch needs (each at least doubles the new colour): a stuck switch aborts. */
const maxShiftSteps = 40;

export async function runBlueGreen(run: StrategyRun, ports: DeploymentGroupPorts): Promise<DeployOutcome> {
  run.step('plan the new colour');
  const plan = await steps.prepareBlueGreen({
    ...targetOf(run),
    app: run.req.app,
    ports,
    ...(run.liveAppId ? { liveAppId: run.liveAppId } : {}),
  });
  const started: { deployed?: Deployed } = {};
  try {
    run.step(`start ${plan.next.colour} (${plan.next.appId})`);
    started.deployed = await startApp(run, plan.next.app);
    await waitHealthy(run, plan.next.appId, started.deployed);
    await verifyStage(run, plan.next.appId, started.deployed.version, 'started');
    if (plan.old) await shift(run, plan, ports.drainSeconds);
  } catch (err) {
    return abort(run, plan, started.deployed, err);
  }
  if (plan.old) run.step(`delete ${plan.old.colour ?? 'old'} (${plan.old.appId})`);
  const deleted = plan.old ? await deleteLeftover(run, plan.old.appId) : {};
  const { deploymentId, version } = started.deployed;
  return {
    kind: 'healthy',
    deploymentId,
    version,
    previousVersion: plan.old?.version ?? null,
    live: { appId: plan.next.appId, colour: plan.next.colour },
    ...deleted,
  };
}

/** Moves the instances over: drain and kill old tasks, grow the new colour, until the old one is empty. */
async function shift(run: StrategyRun, plan: Plan, drainSeconds: number): Promise<void> {
  const old = plan.old!;
  const target = plan.targetInstances;
  let newInstances = Number(plan.next.app.instances);
  let oldInstances = old.instances;
  for (let i = 0; newInstances < target || oldInstances > 0; i++) {
    if (i >= maxShiftSteps)
      throw new Error(`the switch made no progress in ${maxShiftSteps} steps (${old.appId} keeps ${oldInstances})`);
    run.step(`switch: ${plan.next.colour} ${newInstances}/${target}, ${old.colour ?? 'old'} ${oldInstances}: draining`);
    // marathon-lb drains as many old tasks as the new colour has healthy ones; they finish their requests.
    await sleep(drainSeconds * 1000);
    ({ oldInstances } = await steps.killDrainedTasks({
      ...targetOf(run),
      oldAppId: old.appId,
      newAppId: plan.next.appId,
    }));
    if (newInstances < target) {
      newInstances = nextScaleUp(newInstances, oldInstances, target);
      run.step(`switch: ${plan.next.colour} to ${newInstances}/${target}`);
      await scaleAndWait(run, plan.next.appId, newInstances);
    }
  }
}

/** Back to the old colour (scaled to its size, healthy), then the new colour deleted. */
async function abort(
  run: StrategyRun,
  plan: Plan,
  deployed: Deployed | undefined,
  err: unknown,
): Promise<DeployOutcome> {
  const { reason, cancelled, unhealthy } = abortReason(run, err);
  const old = plan.old;
  try {
    await nonCancellable(async () => {
      if (old) {
        run.step(`abort: back to ${old.colour ?? 'old'} (${old.appId})`);
        await scaleAndWait(run, old.appId, old.instances);
      }
      run.step(`abort: delete ${plan.next.colour} (${plan.next.appId})`);
      await steps.deleteMarathonApp({ ...targetOf(run), appId: plan.next.appId });
    });
  } catch (undoErr) {
    return {
      kind: 'failed',
      error: `${reason}; returning to ${old?.appId ?? 'nothing'} failed too: ${describeError(undoErr)}`,
    };
  }
  const back = old?.version ?? null;
  if (cancelled) return { kind: 'cancelled', rolledBackTo: back };
  if (!unhealthy && !deployed) return { kind: 'failed', error: reason };
  return {
    kind: 'rolled-back',
    error: reason,
    deploymentId: deployed?.deploymentId ?? null,
    version: deployed?.version,
    rolledBackTo: back,
  };
}
