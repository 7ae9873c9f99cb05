// Collecting drift: for each (service, environment) of the deploy config, what the lane deployed
// (its laneQuery: commit, image, pipeline), what the config renders for that image today
// (plan.ts, for the Marathon version that environment runs), and what Marathon runs now
// (GET /v2/apps/{id}), compared by diffApps (drift.ts). Used by the `checkDrift` activity, which
// both `slipway drift` and the Schedule reach through the driftCheck workflow: the check runs on a
// deploy worker, with the worker's config, Marathon credentials and secrets, and only findings
// (never a secret value) leave it.
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { marathonAppId, type DeployConfig, type EnvironmentConfig, type ServiceConfig } from '../common/config';
import {
  laneQuery,
  laneWorkflowId,
  type DeliveryEvent,
  type DriftCheckInput,
  type DriftEnvironmentReport,
  type DriftReport,
  type LaneState,
} from '../common/contract';
import { NonRetryable } from '../common/errors';
import { createLogger } from '../common/log';
import { diffApps, isSlipwaySecretRef } from './drift';
import { environmentLabel, pipelineLabel } from './marathon';
import type { MarathonClient } from './marathon-client';
import { configuredMarathonClient } from './marathon-guard';
import { marathonVersionOf } from './marathon-version';
import { recordDeliveryEvent } from './events';
import { renderMarathonAppFromConfig, withConfig } from './plan';
import { resolveSecretValues } from './secrets';

const log = createLogger('drift');

export interface DriftSources {
  config: DeployConfig;
  /** The lane's state, undefined when the lane was never started. */
  laneState(service: string, environment: string): Promise<LaneState | undefined>;
  marathon(url: string, environment: string): MarathonClient;
  /** Where secret references are resolved (the worker's environment). */
  env?: NodeJS.ProcessEnv;
}

/** The lane's state through its query; a lane that never ran has none. */
export function laneStateFrom(client: Client) {
  return async (service: string, environment: string): Promise<LaneState | undefined> => {
    try {
      return await client.workflow.getHandle(laneWorkflowId(service, environment)).query(laneQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  };
}

/** Values of the rendered env's secret references that this process can read; the rest stay out. */
function readableSecrets(env: Record<string, unknown>, processEnv: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (!isSlipwaySecretRef(value)) continue;
    try {
      Object.assign(out, resolveSecretValues({ [key]: value }, 'env', processEnv));
    } catch {
      // Reported by diffApps as unchecked: a secret this worker cannot read is no drift.
    }
  }
  return out;
}

async function checkOne(
  sources: DriftSources,
  service: ServiceConfig,
  env: EnvironmentConfig,
): Promise<DriftEnvironmentReport> {
  const appId = marathonAppId(env, service.name);
  const base = { service: service.name, environment: env.name, appId, fields: [] };
  const lane = await sources.laneState(service.name, env.name);
  const current = lane?.current;
  if (!current) return { ...base, state: 'not-deployed', reason: 'Slipway has not deployed it here' };
  const deployed = { commit: current.commit, image: current.image };
  if (lane.inFlight) {
    const what = lane.inFlight.kind === 'deploy' ? `deploying ${lane.inFlight.pipelineId}` : 'rolling back';
    return { ...base, ...deployed, state: 'busy', reason: `the lane is ${what}` };
  }
  const client = sources.marathon(env.marathon, env.name);
  const live = await client.getApp(appId);
  if (!live) return { ...base, ...deployed, state: 'missing', reason: `Marathon has no app ${appId}` };
  const deployments = Array.isArray(live.deployments) ? live.deployments.length : 0;
  if (deployments > 0)
    return { ...base, ...deployed, state: 'busy', reason: `Marathon is running ${deployments} deployment(s) of it` };
  const target = await marathonVersionOf(client);
  const rendered = renderMarathonAppFromConfig(sources.config, {
    service: service.name,
    environment: env.name,
    image: current.image,
    commit: current.commit,
    pipelineId: current.pipelineId,
    target,
  });
  // The deploy adds these two labels to what it sends (marathon.ts): they are part of the app.
  rendered.labels = {
    ...(rendered.labels as Record<string, string>),
    [pipelineLabel]: current.pipelineId,
    [environmentLabel]: env.name,
  };
  const resolvedSecrets = readableSecrets((rendered.env ?? {}) as Record<string, unknown>, sources.env ?? process.env);
  const diff = diffApps(rendered, live, { resolvedSecrets });
  return {
    ...base,
    ...deployed,
    state: diff.fields.length > 0 ? 'drifted' : 'in-sync',
    fields: diff.fields,
    ...(diff.unchecked.length > 0 ? { unchecked: diff.unchecked } : {}),
  };
}

/** Checks at once: a hundred services must not become hundreds of simultaneous GETs on Marathon. */
const parallelChecks = 8;

/** `fn` over `items`, at most `limit` at a time, results in the order of `items`. */
async function mapWithLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Every (service, environment) of the config, or the one service / environment the input names. */
export async function collectDrift(sources: DriftSources, input: DriftCheckInput = {}): Promise<DriftReport> {
  const { config } = sources;
  const services = [...config.services.values()].filter((s) => !input.service || s.name === input.service);
  if (input.service && services.length === 0) {
    const known = [...config.services.keys()].join(', ') || 'none';
    throw ApplicationFailure.nonRetryable(
      `unknown service "${input.service}": expected one of ${known}`,
      NonRetryable.BadConfig,
    );
  }
  const environments = config.environments.filter((e) => !input.environment || e.name === input.environment);
  if (input.environment && environments.length === 0) {
    const known = config.environments.map((e) => e.name).join(', ');
    throw ApplicationFailure.nonRetryable(
      `unknown environment "${input.environment}": expected one of ${known}`,
      NonRetryable.BadConfig,
    );
  }
  const checks = services.flatMap((s) => environments.map((e) => ({ s, e })));
  const environmentsChecked = await mapWithLimit(
    checks,
    parallelChecks,
    async ({ s, e }): Promise<DriftEnvironmentReport> => {
      try {
        return await checkOne(sources, s, e);
      } catch (err) {
        // One environment that cannot be checked (Marathon away, a template that no longer
        // renders) must not hide the others.
        const reason = (err as Error).message;
        log.warn('drift check failed', { service: s.name, environment: e.name, error: reason });
        return {
          service: s.name,
          environment: e.name,
          appId: marathonAppId(e, s.name),
          state: 'error',
          fields: [],
          reason,
        };
      }
    },
  );
  return { checkedAt: new Date().toISOString(), environments: environmentsChecked };
}

/**
 * The delivery event for one drifted environment. Its id names the drift itself (image and the
 * differing fields), so the same drift found by every scheduled run is audited and notified once,
 * and a new difference is news again.
 */
export function driftEvent(f: DriftEnvironmentReport, at: string): DeliveryEvent {
  const fields = f.fields.map((x) => x.field).sort();
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([f.image ?? '', f.fields.map((x) => x.summary).sort()]))
    .digest('hex')
    .slice(0, 16);
  return {
    id: `drift/${f.service}/${f.environment}/${fingerprint}`,
    kind: 'drift',
    service: f.service,
    environment: f.environment,
    ...(f.commit ? { commit: f.commit } : {}),
    ...(f.image ? { image: f.image } : {}),
    pipelineId: laneWorkflowId(f.service, f.environment),
    // Summaries carry no secret values: a secret field says only that it differs.
    reason: `${fields.length} field(s) differ from what the config renders: ${f.fields.map((x) => x.summary).join('; ')}`,
    at,
  };
}

/**
 * Where found drift is announced, called by the scheduled check: one delivery event per drifted
 * environment (the audit log and the `notify:` targets that want `drift`). Best effort, like every
 * notification: a failure is logged, never fails the check.
 */
export async function onDriftFound(findings: DriftEnvironmentReport[]): Promise<void> {
  const at = new Date().toISOString();
  for (const f of findings) {
    log.warn('drift found', { service: f.service, environment: f.environment, fields: f.fields.map((x) => x.field) });
    try {
      await recordDeliveryEvent(driftEvent(f, at));
    } catch (err) {
      log.warn('drift event not recorded', { service: f.service, error: (err as Error).message });
    }
  }
}

/** The deploy worker's drift activity, over its own config and Temporal client. */
export function createDriftActivities({ client }: { client: Client }) {
  return {
    async checkDrift(input: DriftCheckInput): Promise<DriftReport> {
      const report = await withConfig((config) =>
        collectDrift(
          { config, laneState: laneStateFrom(client), marathon: (url, env) => configuredMarathonClient(url, env) },
          input,
        ),
      );
      const drifted = report.environments.filter((e) => e.state === 'drifted');
      if (input.announce && drifted.length > 0) await onDriftFound(drifted);
      return report;
    },
  };
}
