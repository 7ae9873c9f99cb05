// Verification of a deploy that Marathon reports healthy (config `verify`): smoke checks against
// the new version's tasks, Prometheus thresholds, and a soak — the version watched for a while on
// a durable timer, so a worker that dies mid-soak is replaced by one that resumes the same soak
// (same deadline, same baseline) from history instead of deploying again. The decisions are the
// plain classes below; verifyDeployment only wires timers and activities to them. Any deploy
// strategy calls verifyDeployment once its new version is healthy and rolls back when it fails.
import { isCancellation, patched, sleep } from '@temporalio/workflow';
import type { MetricCheck, VerifyPlan } from '../../common/contract';
import type { DeploymentSnapshot, MetricReading } from '../../activities/verify';
import { describeError } from '../failures';
import { patches } from '../patches';
import { smokeSteps, verifySteps } from '../proxies';
import { formatSeconds } from '../pipeline/run';

/** Which version of which app to verify, and where. */
export interface VerifyTarget {
  marathonUrl: string;
  environment: string;
  appId: string;
  version: string;
}

export type VerifyVerdict = { ok: true } | { ok: false; reason: string };

/** A deploy whose verification failed: the lane rolls it back as it does an unhealthy one. */
export class VerificationFailed extends Error {
  override name = 'VerificationFailed';
  constructor(reason: string) {
    super(`verification failed: ${reason}`);
  }
}

/**
 * What the soak compares each look at the new version with: the tasks it had when it became
 * healthy. A task gone from that set was restarted or replaced; a failed health check is a flap.
 */
export class SoakWatch {
  private readonly baseline: Set<string>;

  constructor(first: DeploymentSnapshot) {
    this.baseline = new Set(first.tasks.map((t) => t.id));
  }

  /** Why the version fails the soak now; undefined while it holds. */
  judge(now: DeploymentSnapshot): string | undefined {
    if (now.changedTo) return `the app was changed to version ${now.changedTo} by another deployment`;
    const ids = new Set(now.tasks.map((t) => t.id));
    const gone = [...this.baseline].filter((id) => !ids.has(id));
    const failure = now.lastTaskFailure ? ` (last task failure: ${now.lastTaskFailure})` : '';
    if (gone.length > 0) return `task ${gone.join(', ')} stopped and was restarted or replaced${failure}`;
    const flapping = now.tasks.filter((t) => t.healthy === false).map((t) => t.id);
    if (flapping.length > 0) return `task ${flapping.join(', ')} failed its health check`;
    // Health not known yet (after a Marathon leader change) is not counted against the version.
    const up = now.tasks.filter((t) => t.state === 'TASK_RUNNING' && t.healthy !== false).length;
    if (up < now.instances) return `${up} of ${now.instances} instances running and healthy${failure}`;
    return undefined;
  }
}

/**
 * Metric breaches over time: a breach fails the deploy once it has lasted the check's `for`
 * (workflow time). Without a soak there is one look only, so a breach fails at once.
 */
export class MetricWatch {
  private readonly since = new Map<number, number>();

  constructor(
    readonly checks: MetricCheck[],
    private readonly soaking: boolean,
  ) {}

  note(index: number, reading: MetricReading, nowMs: number): string | undefined {
    if (!reading.breach) {
      this.since.delete(index);
      return undefined;
    }
    const since = this.since.get(index) ?? nowMs;
    this.since.set(index, since);
    const forMs = this.soaking ? (this.checks[index]?.forSeconds ?? 0) * 1000 : 0;
    if (nowMs - since < forMs) return undefined;
    return forMs > 0 ? `${reading.breach} for ${formatSeconds(Math.round((nowMs - since) / 1000))}` : reading.breach;
  }
}

/**
 * Verifies the healthy version `target` against `verify`: smoke checks, then metrics, then (with
 * a soak) a look every interval until the soak's deadline. `onStart` learns when the verification
 * ends. Resolves with the verdict; cancellation (the pipeline was cancelled) propagates.
 * No `verify`, or a lane replaying a history from before verification existed: no commands at all.
 */
export async function verifyDeployment(
  target: VerifyTarget,
  verify: VerifyPlan | undefined,
  onStart?: (until: string) => void,
): Promise<VerifyVerdict> {
  if (!verify || !patched(patches.deployVerification)) return { ok: true };
  const soakMs = (verify.soakSeconds ?? 0) * 1000;
  const started = Date.now();
  const deadline = started + soakMs;
  onStart?.(new Date(deadline).toISOString());
  const soakAt = () =>
    soakMs
      ? ` (${formatSeconds(Math.round((Date.now() - started) / 1000))} into the ${formatSeconds(soakMs / 1000)} soak)`
      : '';
  try {
    if (verify.smoke.length > 0) await smokeSteps.runSmokeChecks({ ...target, checks: verify.smoke });
    const metrics = new MetricWatch(verify.metrics, soakMs > 0);
    let failure = await lookAtMetrics(target, metrics);
    if (failure || !soakMs) return failure ? { ok: false, reason: failure } : { ok: true };
    const watch = new SoakWatch(await verifySteps.observeDeployment(target));
    while (Date.now() < deadline) {
      await sleep(Math.min(verify.intervalSeconds * 1000, deadline - Date.now()));
      failure = watch.judge(await verifySteps.observeDeployment(target)) ?? (await lookAtMetrics(target, metrics));
      if (failure) return { ok: false, reason: failure + soakAt() };
    }
    return { ok: true };
  } catch (err) {
    if (isCancellation(err)) throw err;
    // A smoke check that kept failing, or a Marathon or Prometheus that stayed away or refused.
    return { ok: false, reason: describeError(err) + soakAt() };
  }
}

/** Every metric check once; the first that has breached for long enough. */
async function lookAtMetrics(target: VerifyTarget, metrics: MetricWatch): Promise<string | undefined> {
  for (const [index, check] of metrics.checks.entries()) {
    const reading = await verifySteps.evaluateMetric({ environment: target.environment, check });
    const failure = metrics.note(index, reading, Date.now());
    if (failure) return failure;
  }
  return undefined;
}
