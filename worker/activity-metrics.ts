// Counts and times the activities behind Slipway's delivery metrics (common/prometheus.ts) as a
// worker runs them: an activity interceptor, so no activity carries metrics code of its own.
// Each attempt counts: a retried deploy shows as a failure and then a success.
import { CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { DriftReport } from '../common/contract';
import { buildDuration, deployDuration, deploys, driftFields, rollbacks, type Outcome } from '../common/prometheus';

function outcomeOf(err: unknown): Outcome {
  return err instanceof CancelledFailure ? 'canceled' : 'failure';
}

/** What an activity's first argument says about where it deploys. */
function environmentOf(args: readonly unknown[]): string {
  const input = args[0] as { environment?: unknown } | undefined;
  return typeof input?.environment === 'string' ? input.environment : 'unknown';
}

/**
 * The drift gauge follows each check: a count where the comparison ran, 1 for an app Marathon lost,
 * no series where Slipway never deployed; a busy or failed check leaves the last value.
 */
function recordDrift(report: DriftReport | undefined): void {
  for (const e of report?.environments ?? []) {
    const labels = { service: e.service, environment: e.environment };
    if (e.state === 'drifted' || e.state === 'in-sync') driftFields.set(labels, e.fields.length);
    else if (e.state === 'missing') driftFields.set(labels, 1);
    else if (e.state === 'not-deployed') driftFields.remove(labels);
  }
}

function record(activityType: string, args: readonly unknown[], outcome: Outcome, seconds: number, result: unknown) {
  switch (activityType) {
    case 'buildImage':
      buildDuration.observe({ outcome }, seconds);
      break;
    case 'deployToMarathon':
      deploys.inc({ environment: environmentOf(args), outcome });
      break;
    case 'awaitHealthy': {
      // A resumed wait (after a worker crash) reports the whole wait, not only this attempt.
      const tookMs = (result as { tookMs?: unknown } | undefined)?.tookMs;
      const total = typeof tookMs === 'number' ? tookMs / 1000 : seconds;
      deployDuration.observe({ environment: environmentOf(args), outcome }, total);
      break;
    }
    case 'rollbackMarathonApp':
      rollbacks.inc({ environment: environmentOf(args), outcome });
      break;
    case 'checkDrift':
      if (outcome === 'success') recordDrift(result as DriftReport);
      break;
  }
}

export const activityMetricsInterceptor: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const started = performance.now();
      let outcome: Outcome = 'success';
      let result: unknown;
      try {
        result = await next(input);
        return result;
      } catch (err) {
        outcome = outcomeOf(err);
        throw err;
      } finally {
        record(ctx.info.activityType, input.args, outcome, (performance.now() - started) / 1000, result);
      }
    },
  },
});
