// Marathon deploy activities: deploy a rendered app, wait until it is healthy, roll back, read.
// Marathon decides nothing for us here: it never fails a stuck deployment and keeps an app locked
// while one runs (409 with the blocking `deployments`), so the timeout, the lock handling and the idempotency
// across retries and worker crashes are Slipway's:
// - every deployed definition carries the labels SLIPWAY_PIPELINE_ID and SLIPWAY_ENVIRONMENT, so a
//   retried attempt recognises "already sent by us" on the app itself and never deploys twice;
// - a 409 lock held by our own deployment is adopted, a foreign one waited out (forced only when
//   the environment allows it);
// - waits heartbeat their progress and resume their deadline from the last heartbeat.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { NonRetryable } from '../common/errors';
import { createLogger } from '../common/log';
import { MarathonClient, MarathonLockedError, MarathonUnavailableError } from './marathon-client';
import { resolveAppSecrets } from './secrets';
import {
  absoluteAppId,
  imageOf,
  labelsOf,
  validateMarathonApp,
  viewApp,
  type MarathonApp,
  type MarathonAppView,
} from './marathon-app';
import { fieldsIgnoredBy, marathonVersionOf } from './marathon-version';
import { waitingReason } from './marathon-queue';

export type { MarathonApp } from './marathon-app';

export const pipelineLabel = 'SLIPWAY_PIPELINE_ID';
export const environmentLabel = 'SLIPWAY_ENVIRONMENT';

export interface DeployToMarathonInput {
  marathonUrl: string;
  environment: string;
  pipelineId: string;
  /** Rendered definition; `container.docker.image` is a digest reference (repo@sha256:...). */
  app: MarathonApp;
  forceOverForeignDeployment?: boolean;
}

export interface DeployToMarathonResult {
  appId: string;
  deploymentId: string | null;
  version: string;
  previousVersion: string | null;
  previousImage: string | null;
  /** Marathon already ran exactly this definition: nothing was sent, nothing to roll back. */
  unchanged: boolean;
}

export interface AwaitHealthyInput {
  marathonUrl: string;
  environment: string;
  appId: string;
  version: string;
  deploymentId: string | null;
  timeoutSeconds: number;
}

export interface AwaitHealthyResult {
  appId: string;
  version: string;
  instances: number;
  healthy: number;
  running: number;
  tookMs: number;
}

export interface RollbackMarathonAppInput {
  marathonUrl: string;
  environment: string;
  appId: string;
  toVersion: string;
  timeoutSeconds: number;
  reason: string;
}

/** Heartbeat details of the waits; a retried attempt reads them back to keep its deadline. */
export interface HealthProgress {
  startedAt: number;
  healthy: number;
  instances: number;
  running?: number;
  /** With a readiness check: healthy new tasks that are also ready. */
  ready?: number;
  /** Marathon's launch queue on why tasks are not started (e.g. "waiting for offers: insufficient memory on all 3 agents"). */
  waitingReason?: string;
  /** Rollback only: the version and deployment the first attempt created. */
  version?: string;
  deploymentId?: string | null;
}

export interface MarathonActivityOptions {
  clientFor?: (marathonUrl: string, environment?: string) => MarathonClient;
  /** Between polls of /v2/deployments and the app. */
  pollIntervalMs?: number;
  /** How long a foreign deployment's lock is waited out before forcing (if allowed) or failing. */
  foreignLockWaitSeconds?: number;
}

const log = createLogger('marathon');

/** The activity context, or undefined when called outside an activity (plain unit tests). */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

function heartbeat(details: unknown): void {
  activityContext()?.heartbeat(details);
}

/** Sleeps, but ends early (throwing) when the activity is cancelled. */
async function pause(ms: number): Promise<void> {
  const ctx = activityContext();
  if (ctx) await ctx.sleep(ms);
  else await new Promise((r) => setTimeout(r, ms));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when every field `wanted` sets has the same value in `current` (Marathon fills defaults in). */
function contains(current: unknown, wanted: unknown): boolean {
  if (Array.isArray(wanted))
    return (
      Array.isArray(current) && current.length === wanted.length && wanted.every((w, i) => contains(current[i], w))
    );
  if (isObject(wanted))
    return isObject(current) && Object.entries(wanted).every(([k, v]) => v === undefined || contains(current[k], v));
  return current === wanted;
}

const readOnlyFields = [
  'version',
  'versionInfo',
  'tasks',
  'tasksStaged',
  'tasksRunning',
  'tasksHealthy',
  'tasksUnhealthy',
  'deployments',
  'lastTaskFailure',
  'taskStats',
  'readinessCheckResults',
];

/** Would sending `wanted` change nothing? Labels and env must match exactly: a full replacement drops extras. */
function sameDefinition(
  wanted: Record<string, unknown>,
  current: Record<string, unknown>,
  ignoreLabels: string[] = [],
): boolean {
  const strip = (app: Record<string, unknown>) => {
    const copy: Record<string, unknown> = { ...app };
    for (const f of readOnlyFields) delete copy[f];
    const labels = { ...labelsOf(app) };
    for (const l of ignoreLabels) delete labels[l];
    copy.labels = labels;
    return copy;
  };
  const w = strip(wanted);
  const c = strip(current);
  const sameKeys = (a: unknown, b: unknown) =>
    Object.keys(isObject(a) ? a : {})
      .sort()
      .join('\n') ===
    Object.keys(isObject(b) ? b : {})
      .sort()
      .join('\n');
  return sameKeys(w.labels, c.labels) && sameKeys(w.env, c.env) && contains(c, w);
}

/**
 * Why Marathon is not launching the app's tasks, from GET /v2/queue; '' when it does not say.
 * Best effort: an old Marathon without the queue, or a refused read, only loses the explanation.
 */
async function queueReason(client: MarathonClient, appId: string): Promise<string> {
  try {
    const entry = (await client.launchQueue()).find((q) => q.appId === appId);
    return (entry && waitingReason(entry)) ?? '';
  } catch {
    return '';
  }
}

export function createMarathonActivities(opts: MarathonActivityOptions = {}) {
  const clientFor = opts.clientFor ?? ((url: string, environment?: string) => MarathonClient.fromEnv(url, environment));
  const pollMs = opts.pollIntervalMs ?? 2000;
  const foreignWaitMs = (opts.foreignLockWaitSeconds ?? 600) * 1000;

  /** The newest stored version not sent by `pipelineId`: what ran before this pipeline's deploy. */
  async function versionBefore(
    client: MarathonClient,
    appId: string,
    pipelineId: string,
  ): Promise<{ version: string; image: string | null } | null> {
    const versions = await client.listVersions(appId);
    for (const v of versions.slice(0, 10)) {
      const def = await client.getVersion(appId, v);
      if (def && labelsOf(def)[pipelineLabel] !== pipelineId) return { version: v, image: imageOf(def) };
    }
    return null;
  }

  /** Polls until the given deployments are gone from /v2/deployments or the deadline passes. */
  async function waitForDeploymentsGone(
    client: MarathonClient,
    ids: string[],
    deadline: number,
    appId: string,
  ): Promise<boolean> {
    for (;;) {
      const running = (await client.listDeployments()).filter((d) => ids.includes(d.id));
      if (running.length === 0) return true;
      if (Date.now() >= deadline) return false;
      heartbeat({ waitingForForeignDeployments: ids, appId });
      await pause(Math.min(pollMs, Math.max(0, deadline - Date.now())));
    }
  }

  interface WaitSpec {
    client: MarathonClient;
    environment: string;
    appId: string;
    version: string;
    deploymentId: string | null;
    startedAt: number;
    timeoutSeconds: number;
    /** Fields kept in every heartbeat (the rollback's own version and deployment). */
    extra?: Partial<HealthProgress>;
  }

  /** The health wait shared by awaitHealthy and rollback: see awaitHealthy. */
  async function waitHealthy(spec: WaitSpec): Promise<AwaitHealthyResult> {
    const { client, appId, version, deploymentId } = spec;
    const deadline = spec.startedAt + spec.timeoutSeconds * 1000;
    let last = {
      healthy: 0,
      instances: 0,
      running: 0,
      old: 0,
      unknown: 0,
      unreachable: 0,
      inFlight: deploymentId !== null,
      failure: null as string | null,
      transient: '',
      ready: null as number | null,
      waiting: '',
    };
    for (;;) {
      try {
        const deployments = await client.listDeployments();
        const raw = await client.getApp(appId);
        if (!raw) {
          throw ApplicationFailure.nonRetryable(
            `${appId} was deleted from ${client.baseUrl} while Slipway waited for version ${version}`,
            NonRetryable.ForeignDeployment,
          );
        }
        const app: MarathonAppView = viewApp(raw);
        if (app.lastConfigChangeAt && app.lastConfigChangeAt > version) {
          throw ApplicationFailure.nonRetryable(
            `${appId} was changed to version ${app.lastConfigChangeAt} by another deployment while Slipway waited for version ${version} to become healthy`,
            NonRetryable.ForeignDeployment,
          );
        }
        // Tasks of our configuration: launched at our version or later (a later scale keeps the
        // config). Marathon's counters mix old and new tasks, so count per task.
        const since = app.lastConfigChangeAt && app.lastConfigChangeAt < version ? app.lastConfigChangeAt : version;
        const ours = app.tasks.filter((t) => t.version !== null && t.version >= since);
        // Tasks whose agent stopped answering (TASK_UNREACHABLE, 1.4+) or that were lost: Marathon
        // replaces them and cannot kill them, so an old one must not hold the wait up.
        const gone = (t: { state: string }) =>
          /^TASK_(UNREACHABLE|LOST|GONE|GONE_BY_OPERATOR|UNKNOWN|DROPPED)$/.test(t.state);
        const oldTasks = app.tasks.filter((t) => !ours.includes(t) && !gone(t));
        const running = ours.filter((t) => t.state === 'TASK_RUNNING');
        const healthyTasks =
          app.healthCheckCount > 0
            ? running.filter(
                (t) =>
                  t.healthCheckResults.length >= app.healthCheckCount && t.healthCheckResults.every((r) => r.alive),
              )
            : running;
        const healthy = healthyTasks.length;
        const inFlight =
          deploymentId !== null
            ? deployments.some((d) => d.id === deploymentId) || app.deploymentIds.includes(deploymentId)
            : app.deploymentIds.length > 0;
        // Readiness as Marathon counts it: during a deployment a new task counts once it is healthy
        // and its readiness check passed (results live with the deployment, embed=app.readiness);
        // the deployment ends only when every new task is ready, so afterwards healthy is ready.
        const readyIds = new Set(app.readiness.filter((r) => r.ready).map((r) => r.taskId));
        const ready =
          app.readinessCheckCount === 0
            ? null
            : inFlight
              ? healthyTasks.filter((t) => readyIds.has(t.id)).length
              : healthy;
        last = {
          healthy,
          instances: app.instances,
          running: running.length,
          old: oldTasks.length,
          // Running without (all) health results: unknown, as for a while after a leader change.
          unknown:
            app.healthCheckCount > 0
              ? running.filter((t) => t.healthCheckResults.length < app.healthCheckCount).length
              : 0,
          unreachable: app.tasks.filter(gone).length,
          inFlight,
          failure: app.lastTaskFailure,
          transient: '',
          ready,
          waiting: running.length < app.instances ? await queueReason(client, appId) : '',
        };
        if (!inFlight && healthy >= app.instances && (ready ?? healthy) >= app.instances && last.old === 0) {
          return {
            appId,
            version,
            instances: app.instances,
            healthy,
            running: running.length,
            tookMs: Date.now() - spec.startedAt,
          };
        }
      } catch (err) {
        // A Marathon hiccup during a long wait is not a failed deploy: the deadline decides.
        if (!(err instanceof MarathonUnavailableError)) throw err;
        last.transient = err.message;
      }
      heartbeat({
        ...spec.extra,
        startedAt: spec.startedAt,
        healthy: last.healthy,
        instances: last.instances,
        running: last.running,
        ...(last.ready !== null ? { ready: last.ready } : {}),
        ...(last.waiting ? { waitingReason: last.waiting } : {}),
      } satisfies HealthProgress);
      const left = deadline - Date.now();
      if (left <= 0) {
        const parts = [
          `healthy ${last.healthy}/${last.instances}`,
          last.ready !== null ? `ready ${last.ready}/${last.instances} (readiness check)` : '',
          `running ${last.running}`,
          last.old > 0 ? `${last.old} task(s) of older versions still running` : '',
          last.unknown > 0
            ? `health unknown for ${last.unknown} task(s) (no check results yet, as after a Marathon leader change)`
            : '',
          last.unreachable > 0 ? `${last.unreachable} task(s) unreachable or lost` : '',
          last.inFlight ? `deployment ${deploymentId ?? ''} still in progress`.replace('  ', ' ') : '',
          last.waiting,
          last.failure ? `last task failure: ${last.failure}` : '',
          last.transient ? `last poll failed: ${last.transient}` : '',
        ].filter(Boolean);
        throw ApplicationFailure.create({
          message: `${appId} version ${version} in ${spec.environment} not healthy within ${spec.timeoutSeconds} s (${parts.join(', ')})`,
          type: NonRetryable.HealthTimeout,
          nonRetryable: true,
          details: [
            {
              appId,
              version,
              deploymentId,
              healthy: last.healthy,
              instances: last.instances,
              running: last.running,
              ...(last.waiting ? { waitingReason: last.waiting } : {}),
            },
          ],
        });
      }
      await pause(Math.min(pollMs, left));
    }
  }

  async function deployToMarathon(input: DeployToMarathonInput): Promise<DeployToMarathonResult> {
    const { pipelineId, environment } = input;
    const client = clientFor(input.marathonUrl, environment);
    const appId = absoluteAppId(String(input.app.id ?? ''));
    // The shape was chosen at render time; the target may have changed since (a Marathon
    // downgraded, an environment pointed elsewhere): what it would ignore is never sent.
    const target = await marathonVersionOf(client);
    const problems = [...validateMarathonApp(input.app), ...fieldsIgnoredBy(input.app, target)];
    if (problems.length > 0) {
      throw ApplicationFailure.nonRetryable(
        `app definition ${appId} for ${environment} is invalid, not sent to ${client.baseUrl} (Marathon ${target.version}): ${problems.join('; ')}`,
        NonRetryable.MarathonRejected,
      );
    }
    const image = imageOf(input.app);
    const outgoing: MarathonApp = {
      // Secret references in env become values only here, in the request to Marathon (secrets.ts).
      ...resolveAppSecrets(input.app),
      id: appId,
      labels: { ...labelsOf(input.app), [pipelineLabel]: pipelineId, [environmentLabel]: environment },
    };
    const lockDeadline = Date.now() + foreignWaitMs;
    let force = false;
    for (;;) {
      const current = await client.getApp(appId);
      const view = current ? viewApp(current) : null;
      if (current && view && view.labels[pipelineLabel] === pipelineId && view.image === image) {
        // An earlier attempt of this very deploy reached Marathon (maybe a worker died right after):
        // adopt what it started instead of deploying again.
        const before = await versionBefore(client, appId, pipelineId);
        log.info('deploy already sent by this pipeline: adopting it', { appId, pipelineId, version: view.version });
        return {
          appId,
          deploymentId: view.deploymentIds[0] ?? null,
          version: view.version ?? '',
          previousVersion: before?.version ?? null,
          previousImage: before?.image ?? null,
          unchanged: false,
        };
      }
      if (
        current &&
        view?.version &&
        view.deploymentIds.length === 0 &&
        sameDefinition(outgoing, current, [pipelineLabel])
      ) {
        // Same image and settings already run: a PUT would only change our label and restart every task.
        log.info('app already runs this definition: nothing to deploy', { appId, pipelineId, version: view.version });
        return {
          appId,
          deploymentId: null,
          version: view.version,
          previousVersion: view.version,
          previousImage: view.image,
          unchanged: true,
        };
      }
      try {
        const result = await client.putApp(outgoing, { force });
        log.info('deployment started', {
          appId,
          environment,
          pipelineId,
          deploymentId: result.deploymentId,
          version: result.version,
          forced: force,
        });
        return {
          appId,
          deploymentId: result.deploymentId,
          version: result.version,
          previousVersion: view?.version ?? null,
          previousImage: view?.image ?? null,
          unchanged: false,
        };
      } catch (err) {
        if (!(err instanceof MarathonLockedError)) throw err;
        // Ours (a racing earlier attempt)? The next GET at the top of the loop adopts it.
        const now = await client.getApp(appId);
        if (now && labelsOf(now)[pipelineLabel] === pipelineId && imageOf(now) === image) continue;
        log.info('app locked by a foreign deployment: waiting', { appId, deployments: err.deploymentIds, pipelineId });
        const gone = await waitForDeploymentsGone(client, err.deploymentIds, lockDeadline, appId);
        if (gone) continue;
        if (!input.forceOverForeignDeployment) {
          throw ApplicationFailure.nonRetryable(
            `${appId} in ${environment} is locked by deployment(s) ${err.deploymentIds.join(', ')} that Slipway did not start, still running after ${Math.round(foreignWaitMs / 1000)} s; ` +
              `finish or cancel it in Marathon (DELETE /v2/deployments/<id>), or allow forcing for this environment`,
            NonRetryable.ForeignDeployment,
          );
        }
        log.warn('forcing over a foreign deployment', { appId, deployments: err.deploymentIds, pipelineId });
        force = true;
      }
    }
  }

  async function awaitHealthy(input: AwaitHealthyInput): Promise<AwaitHealthyResult> {
    const resumed = activityContext()?.info.heartbeatDetails as HealthProgress | undefined;
    return waitHealthy({
      client: clientFor(input.marathonUrl, input.environment),
      environment: input.environment,
      appId: absoluteAppId(input.appId),
      version: input.version,
      deploymentId: input.deploymentId,
      startedAt: typeof resumed?.startedAt === 'number' ? resumed.startedAt : Date.now(),
      timeoutSeconds: input.timeoutSeconds,
    });
  }

  async function rollbackMarathonApp(
    input: RollbackMarathonAppInput,
  ): Promise<{ deploymentId: string | null; version: string }> {
    const client = clientFor(input.marathonUrl, input.environment);
    const appId = absoluteAppId(input.appId);
    const resumed = activityContext()?.info.heartbeatDetails as HealthProgress | undefined;
    let version = resumed?.version;
    let deploymentId = resumed?.deploymentId ?? null;
    const startedAt = typeof resumed?.startedAt === 'number' ? resumed.startedAt : Date.now();
    if (!version) {
      const target = await client.getVersion(appId, input.toVersion);
      if (!target) {
        throw ApplicationFailure.nonRetryable(
          `cannot roll ${appId} back in ${input.environment}: Marathon no longer has version ${input.toVersion}`,
          NonRetryable.MarathonRejected,
        );
      }
      const current = await client.getApp(appId);
      if (current && sameDefinition(target, current) && typeof current.version === 'string') {
        // Already back on that definition (an earlier attempt got through): do not restart again.
        version = current.version;
        deploymentId = viewApp(current).deploymentIds[0] ?? null;
      } else {
        // force: the stuck deployment being rolled back holds the app's lock.
        const result = await client.putVersion(appId, input.toVersion, { force: true });
        version = result.version;
        deploymentId = result.deploymentId;
      }
      log.warn('rolling back', {
        appId,
        environment: input.environment,
        toVersion: input.toVersion,
        version,
        deploymentId,
        reason: input.reason,
      });
      heartbeat({ startedAt, healthy: 0, instances: 0, version, deploymentId } satisfies HealthProgress);
    }
    await waitHealthy({
      client,
      environment: input.environment,
      appId,
      version,
      deploymentId,
      startedAt,
      timeoutSeconds: input.timeoutSeconds,
      extra: { version, deploymentId },
    });
    return { deploymentId, version };
  }

  return { deployToMarathon, awaitHealthy, rollbackMarathonApp };
}
