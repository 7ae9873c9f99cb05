// The verification side of the fake world (config `verify`): which commits are verified and how
// their new version behaves while it is — a task that restarts after a few looks, smoke checks
// that fail, a metric over its threshold. Records every look, so tests assert what the lane did.
import { ApplicationFailure } from '@temporalio/common';
import type { DeployActivities } from '../../activities';
import { judgeMetric } from '../../activities/verify';
import type { VerifyPlan } from '../../common/contract';

export interface VerifyScript {
  plan: VerifyPlan;
  /** From this look of the soak on, the version's task has a new ID (it was restarted). */
  restartAtLook?: number;
  /** Every smoke attempt fails with this message. */
  smokeFailure?: string;
  /** The value every metric query of this commit answers. */
  metricValue?: number;
}

export interface VerifyRecord {
  /** Soak looks per app version. */
  looks: Map<string, number>;
  smokeAttempts: Map<string, number>;
  metricQueries: string[];
}

/** Scripts by commit; `commitOf(version)` says which commit a deployed version carries. */
export function createFakeVerify(scripts: Map<string, VerifyScript>, commitOf: (version: string) => string) {
  const record: VerifyRecord = { looks: new Map(), smokeAttempts: new Map(), metricQueries: [] };
  const scriptOf = (version: string) => scripts.get(commitOf(version));
  const activities: Partial<DeployActivities> = {
    async observeDeployment({ appId, version }) {
      const look = (record.looks.get(version) ?? 0) + 1;
      record.looks.set(version, look);
      const restarted = look >= (scriptOf(version)?.restartAtLook ?? Infinity);
      const id = `${appId.slice(1).replace(/\//g, '_')}.${version}.${restarted ? 'second' : 'first'}`;
      return {
        instances: 1,
        tasks: [{ id, state: 'TASK_RUNNING', healthy: true }],
        ...(restarted ? { lastTaskFailure: `TASK_FAILED: exited with 137 (task ${id})` } : {}),
      };
    },
    async runSmokeChecks({ version, checks }) {
      record.smokeAttempts.set(version, (record.smokeAttempts.get(version) ?? 0) + 1);
      const failure = scriptOf(version)?.smokeFailure;
      if (failure) throw ApplicationFailure.retryable(failure, 'SmokeCheckFailed');
      return { checked: checks.length };
    },
    async evaluateMetric({ check }) {
      record.metricQueries.push(check.query);
      const script = [...scripts.values()].find((s) => s.plan.metrics.some((m) => m.query === check.query));
      return judgeMetric(check, [{ metric: {}, value: script?.metricValue ?? Number.NaN }]);
    },
  };
  return { activities, record, planFor: (commit: string) => scripts.get(commit)?.plan };
}
