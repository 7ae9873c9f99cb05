// Counts and times the activities behind Slipway's delivery metrics (common/prometheus.ts) as a
// worker runs them: an activity interceptor, so no activity carries metrics code of its own.
// Each attempt counts: a retried deploy shows as a failure and then a success.
import { CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { buildDuration, deployDuration, deploys, rollbacks, type Outcome } from '../common/prometheus';

function outcomeOf(err: unknown): Outcome {
  return err instanceof CancelledFailure ? 'canceled' : 'failure';
}

/** What an activity's first argument says about where it deploys. */
function environmentOf(args: readonly unknown[]): string {
  const input = args[0] as { environment?: unknown } | undefined;
  return typeof input?.environment === 'string' ? input.environment : 'unknown';
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
