// The activities behind a deploy's verification (config `verify`), each one look at the new
// version; the workflow (workflows/lane/verify.ts) decides what the looks mean and when to look:
// - observeDeployment: the new version's tasks as Marathon lists them now (ids, state, health),
//   for the soak to compare with what it saw when the version became healthy;
// - runSmokeChecks: HTTP checks sent straight to every running task of the new version, at the
//   host and port Marathon's GET /v2/apps/{id}/tasks gives for it;
// - evaluateMetric: one Prometheus instant query against the threshold, at the URL this worker's
//   own deploy config names for the environment (never one from the workflow).
import { ApplicationFailure } from '@temporalio/activity';
import axios from 'axios';
import { getEnvironment, prometheusUrlOf } from '../common/config';
import type { MetricCheck, SmokeCheck } from '../common/contract';
import { NonRetryable } from '../common/errors';
import { absoluteAppId, viewApp, type TaskView } from './marathon-app';
import type { MarathonClient } from './marathon-client';
import { withConfig } from './plan';
import { prometheusQuery, type Sample } from './prometheus-query';

export interface VersionAddress {
  marathonUrl: string;
  environment: string;
  appId: string;
  version: string;
}

/** One task of the new version as the soak sees it. `healthy` null: no health results yet. */
export interface ObservedTask {
  id: string;
  state: string;
  healthy: boolean | null;
}

export interface DeploymentSnapshot {
  instances: number;
  tasks: ObservedTask[];
  /** The app now runs another configuration (someone deployed over it). */
  changedTo?: string;
  lastTaskFailure?: string;
}

export interface MetricReading {
  /** The worst value over all series (highest against `max`, lowest against `min`); null: no data. */
  value: number | null;
  series: number;
  /** Why the value is out of bounds; absent when it is within them. */
  breach?: string;
}

export interface VerifyActivityOptions {
  clientFor: (marathonUrl: string, environment?: string) => MarathonClient;
  /** Where the environment's metric queries go; default: this worker's deploy config, then SLIPWAY_PROMETHEUS_URL. */
  prometheusUrlFor?: (environment: string) => string | undefined;
  env?: NodeJS.ProcessEnv;
}

const bodyLimit = 64 * 1024;

/** Tasks of `version` or later (a later scale keeps the configuration): what runs the new version. */
function ofVersion(tasks: TaskView[], version: string): TaskView[] {
  return tasks.filter((t) => t.version !== null && t.version >= version);
}

function healthOf(task: TaskView, checks: number): boolean | null {
  if (checks === 0) return task.state === 'TASK_RUNNING';
  if (task.healthCheckResults.some((r) => !r.alive)) return false;
  return task.healthCheckResults.length >= checks ? true : null;
}

/** The worst sample against the check's bounds, and whether it breaches them. */
export function judgeMetric(check: MetricCheck, samples: Sample[]): MetricReading {
  const values = samples.map((s) => s.value).filter((v) => !Number.isNaN(v));
  const shown = `metric \`${check.query}\``;
  if (values.length === 0)
    return {
      value: null,
      series: 0,
      ...(check.noData === 'fail' ? { breach: `${shown} returned no data (noData: fail)` } : {}),
    };
  const high = Math.max(...values);
  const low = Math.min(...values);
  if (check.max !== undefined && high > check.max)
    return { value: high, series: values.length, breach: `${shown} is ${high}, above max ${check.max}` };
  if (check.min !== undefined && low < check.min)
    return { value: low, series: values.length, breach: `${shown} is ${low}, below min ${check.min}` };
  return { value: check.max !== undefined ? high : low, series: values.length };
}

async function smokeOne(check: SmokeCheck, host: string, port: number): Promise<string | undefined> {
  const where = `smoke GET ${check.path} on ${host}:${port}`;
  try {
    const res = await axios.get(`http://${host}:${port}${check.path}`, {
      timeout: check.timeoutSeconds * 1000,
      maxRedirects: 0,
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: (d: unknown) => d,
      maxContentLength: bodyLimit,
    });
    if (res.status !== check.status) return `${where} returned ${res.status}, expected ${check.status}`;
    if (check.body !== undefined && !new RegExp(check.body).test(String(res.data)))
      return `${where} returned a body that does not match /${check.body}/`;
    return undefined;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return `${where} failed: ${e.code ?? e.message ?? String(err)}`;
  }
}

export function createVerifyActivities(opts: VerifyActivityOptions) {
  const env = opts.env ?? process.env;
  const prometheusUrlFor =
    opts.prometheusUrlFor ??
    ((environment: string) =>
      withConfig((config) => {
        getEnvironment(config, environment);
        return prometheusUrlOf(config, environment, env);
      }));

  return {
    /** The new version's tasks now, and whether the app still runs that configuration. */
    async observeDeployment(input: VersionAddress): Promise<DeploymentSnapshot> {
      const client = opts.clientFor(input.marathonUrl, input.environment);
      const appId = absoluteAppId(input.appId);
      const raw = await client.getApp(appId);
      if (!raw) return { instances: 0, tasks: [], changedTo: '(deleted)' };
      const app = viewApp(raw);
      const changed = app.lastConfigChangeAt && app.lastConfigChangeAt > input.version;
      return {
        instances: app.instances,
        tasks: ofVersion(app.tasks, input.version).map((t) => ({
          id: t.id,
          state: t.state,
          healthy: healthOf(t, app.healthCheckCount),
        })),
        ...(changed ? { changedTo: app.lastConfigChangeAt ?? '' } : {}),
        ...(app.lastTaskFailure ? { lastTaskFailure: app.lastTaskFailure } : {}),
      };
    },

    /**
     * Every check against every running task of the version. The first failure fails the attempt
     * (retried by the activity's policy: a task may answer 503 for a moment after turning healthy).
     */
    async runSmokeChecks(input: VersionAddress & { checks: SmokeCheck[] }): Promise<{ checked: number }> {
      const client = opts.clientFor(input.marathonUrl, input.environment);
      const running = ofVersion(await client.listTasks(input.appId), input.version).filter(
        (t) => t.state === 'TASK_RUNNING' && t.host && t.ports.length > 0,
      );
      if (running.length === 0)
        throw ApplicationFailure.retryable(
          `smoke: no running task of ${absoluteAppId(input.appId)} version ${input.version} with a host and port to check`,
          'SmokeCheckFailed',
        );
      let checked = 0;
      for (const task of running) {
        for (const check of input.checks) {
          const failure = await smokeOne(check, task.host as string, task.ports[0] as number);
          if (failure) throw ApplicationFailure.retryable(failure, 'SmokeCheckFailed');
          checked++;
        }
      }
      return { checked };
    },

    /** One metric check now: its worst value and whether it breaches the threshold. */
    async evaluateMetric(input: { environment: string; check: MetricCheck }): Promise<MetricReading> {
      const url = prometheusUrlFor(input.environment);
      if (!url)
        throw ApplicationFailure.nonRetryable(
          `no Prometheus for environment ${input.environment}: set verify.prometheus for it in slipway.yaml or SLIPWAY_PROMETHEUS_URL on the deploy worker`,
          NonRetryable.BadConfig,
        );
      const samples = await prometheusQuery(url, input.check.query, { token: env.SLIPWAY_PROMETHEUS_TOKEN });
      return judgeMetric(input.check, samples);
    },
  };
}
