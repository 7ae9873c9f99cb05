// Marathon steps of the blue/green and canary strategies, following marathon-lb's zero-downtime
// deployment convention (common/deployment-group.ts; zdd.py in mesosphere/marathon-lb): each
// colour (or the canary) is its own Marathon app in one deployment group, scaled with
// PUT {"instances"}, drained old tasks killed with POST /v2/tasks/delete?scale=true, the app that
// lost deleted with DELETE /v2/apps/{id}. Each function is one durable step of the workflow and safe
// to retry: it reads Marathon first and acts on what it finds. Starting an app and the health waits
// are the rolling deploy's own activities (deployToMarathon, awaitHealthy), run on these definitions.
import { ApplicationFailure } from '@temporalio/activity';
import {
  deploymentLabels as L,
  drainedTaskIds,
  otherColour,
  type Colour,
  type GroupApp,
} from '../common/deployment-group';
import type { DeploymentGroupPorts } from '../common/contract';
import { NonRetryable } from '../common/errors';
import { createLogger } from '../common/log';
import { absoluteAppId, labelsOf, viewApp, type MarathonApp } from './marathon-app';
import { MarathonClient } from './marathon-client';

const log = createLogger('marathon-strategies');

export interface StrategyTarget {
  marathonUrl: string;
  environment: string;
}

/** An app of the group as it runs now. */
export interface GroupMember {
  appId: string;
  instances: number;
  version: string;
  colour?: Colour;
}

export interface BlueGreenPlan {
  group: string;
  /** The configured instance count: where the new colour ends. */
  targetInstances: number;
  /** The colour that serves now; null on the group's first deploy. */
  old: GroupMember | null;
  /** The new colour's app, with its first instance count (the whole target when nothing serves yet). */
  next: { appId: string; colour: Colour; app: MarathonApp };
}

export interface CanaryPlan {
  group: string;
  targetInstances: number;
  /** The stable app, when it runs and already serves the group; otherwise no canary runs. */
  stable: GroupMember | null;
  /** The stable app's new definition: what the promotion (or a first deploy) sends. */
  stableApp: MarathonApp;
  canary: { appId: string; app: MarathonApp };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The group's name: the configured app id's segments joined with "_" ("/production/hello-node" ->
 * "production_hello-node"). Marathon 1.5+'s label selector takes only A-Za-z0-9 . _ - unescaped
 * (older ones keep a backslash literally), so the name has nothing to escape in `?label=`; app id
 * segments hold no "_", so no two apps share a name.
 */
export const groupName = (baseAppId: string) => absoluteAppId(baseAppId).slice(1).replace(/\//g, '_');

/** Sets the Marathon service port of the app's first port, in whichever shape it has (zdd.py's set_service_port). */
export function withServicePort(app: MarathonApp, port: number): MarathonApp {
  const copy = structuredClone(app);
  const container = isObject(copy.container) ? copy.container : {};
  const docker = isObject(container.docker) ? container.docker : {};
  for (const mappings of [container.portMappings, docker.portMappings]) {
    if (Array.isArray(mappings) && isObject(mappings[0])) {
      mappings[0].servicePort = port;
      return copy;
    }
  }
  const defs = Array.isArray(copy.portDefinitions) ? copy.portDefinitions : [{ port: 0, protocol: 'tcp' }];
  copy.portDefinitions = defs.map((d: unknown, i) => (i === 0 && isObject(d) ? { ...d, port } : d));
  return copy;
}

/** The first port's service port of a definition or a GET answer, in either API shape. */
function servicePortOf(app: Record<string, unknown>): number | null {
  return viewApp(app).ports[0]?.servicePort ?? null;
}

function groupAppOf(raw: Record<string, unknown>): GroupApp {
  const view = viewApp(raw);
  return {
    id: view.id,
    instances: view.instances,
    labels: view.labels,
    hasHealthChecks: view.healthCheckCount > 0,
    tasks: view.tasks.map((t) => ({
      id: t.id,
      state: t.state,
      host: t.host ?? '',
      port: t.ports[0] ?? null,
      healthy: t.healthCheckResults.length >= view.healthCheckCount && t.healthCheckResults.every((r) => r.alive),
    })),
  };
}

function member(raw: Record<string, unknown>): GroupMember {
  const view = viewApp(raw);
  const colour = view.labels[L.colour];
  return {
    appId: view.id,
    instances: view.instances,
    version: view.version ?? '',
    ...(colour === 'blue' || colour === 'green' ? { colour } : {}),
  };
}

/** The rendered app as a member of the group: its id, labels and service port (zdd.py's prepare_deploy). */
function groupMemberApp(
  base: MarathonApp,
  o: { appId: string; group: string; ports: DeploymentGroupPorts; servicePort: number; extra: Record<string, string> },
): MarathonApp {
  const app = withServicePort(base, o.servicePort);
  app.id = o.appId;
  app.labels = {
    ...labelsOf(base),
    [L.group]: o.group,
    [L.altPort]: String(o.ports.altServicePort),
    [L.servicePort]: String(o.ports.servicePort),
    [L.appId]: absoluteAppId(String(base.id)),
    ...o.extra,
  };
  return app;
}

export function createMarathonStrategyActivities(
  opts: {
    clientFor?: (marathonUrl: string, environment?: string) => MarathonClient;
    /** Between polls while a deleted app goes away. */
    pollIntervalMs?: number;
  } = {},
) {
  const pollMs = opts.pollIntervalMs ?? 500;
  const deleteWaitMs = 40_000;
  const clientFor = opts.clientFor ?? ((url: string, environment?: string) => MarathonClient.fromEnv(url, environment));

  async function groupMembers(client: MarathonClient, group: string): Promise<Record<string, unknown>[]> {
    return client.listApps(`${L.group}==${group}`);
  }

  return {
    /**
     * Which colour serves now and the new colour's definition. The old colour is the lane's live
     * app when Marathon still runs it, else the group's newest (by HAPROXY_DEPLOYMENT_STARTED_AT).
     */
    async prepareBlueGreen(
      input: StrategyTarget & { app: MarathonApp; ports: DeploymentGroupPorts; liveAppId?: string },
    ): Promise<BlueGreenPlan> {
      const client = clientFor(input.marathonUrl, input.environment);
      const baseId = absoluteAppId(String(input.app.id));
      const group = groupName(baseId);
      const members = await groupMembers(client, group);
      const byStart = [...members].sort((a, b) =>
        (labelsOf(a)[L.startedAt] ?? '').localeCompare(labelsOf(b)[L.startedAt] ?? ''),
      );
      const oldRaw = members.find((m) => viewApp(m).id === input.liveAppId) ?? byStart.at(-1);
      const old = oldRaw ? member(oldRaw) : null;
      const colour = otherColour(old?.colour);
      const targetInstances = Number(input.app.instances ?? 1);
      // zdd.py: the new app takes the alternate port when the old one holds the group's port.
      const servicePort =
        oldRaw && servicePortOf(oldRaw) === input.ports.servicePort
          ? input.ports.altServicePort
          : input.ports.servicePort;
      const appId = `${baseId}-${colour}`;
      const app = groupMemberApp(input.app, {
        appId,
        group,
        ports: input.ports,
        servicePort,
        extra: {
          [L.colour]: colour,
          [L.targetInstances]: String(targetInstances),
          [L.newInstances]: '0',
          [L.startedAt]: new Date().toISOString(),
        },
      });
      // Start small beside a serving colour (zdd.py's --initial-instances 1); all at once otherwise.
      app.instances = old ? Math.min(1, targetInstances) : targetInstances;
      log.info('blue/green plan', { group, old: old?.appId ?? null, next: appId, servicePort });
      return { group, targetInstances, old, next: { appId, colour, app } };
    },

    /** The stable app and the canary beside it, both in the group; no canary when no stable app serves it yet. */
    async prepareCanary(
      input: StrategyTarget & { app: MarathonApp; ports: DeploymentGroupPorts },
    ): Promise<CanaryPlan> {
      const client = clientFor(input.marathonUrl, input.environment);
      const baseId = absoluteAppId(String(input.app.id));
      const group = groupName(baseId);
      const current = await client.getApp(baseId);
      const stable = current && labelsOf(current)[L.group] === group ? member(current) : null;
      const targetInstances = Number(input.app.instances ?? 1);
      const shared = { group, ports: input.ports };
      const stableApp = groupMemberApp(input.app, {
        ...shared,
        appId: baseId,
        servicePort: input.ports.servicePort,
        // Oldest start: marathon-lb never takes the stable app for the newer one.
        extra: { [L.startedAt]: '1970-01-01T00:00:00.000Z' },
      });
      const canaryId = `${baseId}-canary`;
      // Target = stable + the largest canary: marathon-lb then drains none of the stable tasks.
      const canaryApp = groupMemberApp(input.app, {
        ...shared,
        appId: canaryId,
        servicePort: input.ports.altServicePort,
        extra: {
          [L.targetInstances]: String(targetInstances * 2),
          [L.newInstances]: String(targetInstances),
          [L.startedAt]: new Date().toISOString(),
        },
      });
      return { group, targetInstances, stable, stableApp, canary: { appId: canaryId, app: canaryApp } };
    },

    /** PUT {"instances": n}; the version and deployment to wait for. */
    async scaleMarathonApp(
      input: StrategyTarget & { appId: string; instances: number },
    ): Promise<{ deploymentId: string | null; version: string }> {
      const result = await clientFor(input.marathonUrl, input.environment).scaleApp(input.appId, input.instances);
      log.info('scaled', { appId: input.appId, instances: input.instances, deploymentId: result.deploymentId });
      return { deploymentId: result.deploymentId, version: result.version };
    },

    /**
     * Kills the old app's tasks marathon-lb has drained (given the new app's healthy tasks now) and
     * lowers its instances by as many. Returns the ids killed and the old app's instances left.
     */
    async killDrainedTasks(
      input: StrategyTarget & { oldAppId: string; newAppId: string },
    ): Promise<{ killed: string[]; oldInstances: number }> {
      const client = clientFor(input.marathonUrl, input.environment);
      const [oldRaw, newRaw] = await Promise.all([client.getApp(input.oldAppId), client.getApp(input.newAppId)]);
      if (!newRaw)
        throw ApplicationFailure.nonRetryable(
          `${input.newAppId} is gone from ${client.baseUrl} in the middle of a blue/green switch`,
          NonRetryable.ForeignDeployment,
        );
      if (!oldRaw) return { killed: [], oldInstances: 0 };
      const old = groupAppOf(oldRaw);
      const killed = drainedTaskIds(old, groupAppOf(newRaw));
      if (killed.length > 0) await client.killTasksAndScale(killed);
      log.info('killed drained tasks', { appId: input.oldAppId, killed });
      return { killed, oldInstances: Math.max(0, old.instances - killed.length) };
    },

    /**
     * DELETE /v2/apps/{id}, then waits until Marathon no longer lists it (its tasks are killed by a
     * deployment of its own); false when it was already gone. A retry deletes again, harmlessly.
     */
    async deleteMarathonApp(input: StrategyTarget & { appId: string }): Promise<{ deleted: boolean }> {
      const client = clientFor(input.marathonUrl, input.environment);
      const result = await client.deleteApp(input.appId);
      const deadline = Date.now() + deleteWaitMs;
      while (await client.getApp(input.appId)) {
        if (Date.now() > deadline)
          throw new Error(`${input.appId} is still listed ${deleteWaitMs / 1000} s after its DELETE; deleting again`);
        await new Promise((r) => setTimeout(r, pollMs));
      }
      log.info('deleted app', { appId: input.appId, existed: result !== null });
      return { deleted: result !== null };
    },

    /**
     * After a canary's wait: every instance still healthy and none failed since `since` (a task
     * that crashed and was replaced looks healthy again by now). Fails the step otherwise.
     */
    async checkCanaryHealth(input: StrategyTarget & { appId: string; since: string }): Promise<void> {
      const raw = await clientFor(input.marathonUrl, input.environment).getApp(input.appId);
      const failure = isObject(raw?.lastTaskFailure) ? raw.lastTaskFailure : undefined;
      const app = raw ? groupAppOf(raw) : undefined;
      const healthy = app?.tasks.filter((t) => t.state === 'TASK_RUNNING' && (!app.hasHealthChecks || t.healthy));
      const problem = !app
        ? 'the canary app is gone'
        : (healthy?.length ?? 0) < app.instances
          ? `healthy ${healthy?.length ?? 0}/${app.instances}`
          : typeof failure?.timestamp === 'string' && failure.timestamp >= input.since
            ? `a task failed at ${failure.timestamp}: ${String(failure.message ?? failure.state ?? '')}`
            : undefined;
      if (problem)
        throw ApplicationFailure.nonRetryable(
          `canary ${input.appId} in ${input.environment} failed its check: ${problem}`,
          NonRetryable.HealthTimeout,
        );
    },
  };
}
