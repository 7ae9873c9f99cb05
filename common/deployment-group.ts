// marathon-lb's zero-downtime deployment convention, as plain data (mesosphere/marathon-lb: README
// "Zero-downtime Deployments", zdd.py, and marathon_lb.py's get_apps). Two Marathon apps form one
// deployment group when both carry the label HAPROXY_DEPLOYMENT_GROUP; marathon-lb then serves them
// as ONE backend on the group's service port (label HAPROXY_0_PORT), each app keeping a service port
// of its own (Marathon wants them unique: the group port and HAPROXY_DEPLOYMENT_ALT_PORT take turns).
// Of the two, the app with the later HAPROXY_DEPLOYMENT_STARTED_AT is "new"; while the new app has h
// healthy tasks, marathon-lb drains (disables) min(old tasks, h, h + old instances - target) of the
// old app's tasks, sorted by task id, where target is the new app's
// HAPROXY_DEPLOYMENT_TARGET_INSTANCES. zdd.py then kills exactly those drained tasks. Both the
// deploy activities and the emulator's load-balancer stand-in read the group through this module,
// so they agree on which tasks are drained. No I/O here.

export const deploymentLabels = {
  group: 'HAPROXY_DEPLOYMENT_GROUP',
  altPort: 'HAPROXY_DEPLOYMENT_ALT_PORT',
  colour: 'HAPROXY_DEPLOYMENT_COLOUR',
  servicePort: 'HAPROXY_0_PORT',
  targetInstances: 'HAPROXY_DEPLOYMENT_TARGET_INSTANCES',
  newInstances: 'HAPROXY_DEPLOYMENT_NEW_INSTANCES',
  startedAt: 'HAPROXY_DEPLOYMENT_STARTED_AT',
  appId: 'HAPROXY_APP_ID',
} as const;

export type Colour = 'blue' | 'green';

/** What the group logic reads of one app (from GET /v2/apps?embed=apps.tasks, in either API shape). */
export interface GroupApp {
  id: string;
  instances: number;
  labels: Record<string, string>;
  hasHealthChecks: boolean;
  tasks: GroupTask[];
}

export interface GroupTask {
  id: string;
  state: string;
  host: string;
  /** Host port of the app's first port (the one the group serves). */
  port: number | null;
  /** Every health check result alive (false until the first result when the app has checks). */
  healthy: boolean;
}

export interface Backend {
  appId: string;
  taskId: string;
  host: string;
  port: number;
  /** Disabled for new requests; requests already sent finish. */
  draining: boolean;
}

export const groupOf = (app: { labels: Record<string, string> }): string | undefined =>
  app.labels[deploymentLabels.group];

const startedAt = (app: GroupApp) => app.labels[deploymentLabels.startedAt] ?? '';

/** The group's apps as marathon-lb pairs them: the newest started is "new", the one before it "old". */
export function oldAndNew(apps: GroupApp[]): { old?: GroupApp; new?: GroupApp } {
  const sorted = [...apps].sort((a, b) => startedAt(a).localeCompare(startedAt(b)));
  const newest = sorted.at(-1);
  return sorted.length > 1 ? { old: sorted.at(-2), new: newest } : { new: newest };
}

const serving = (app: GroupApp, t: GroupTask) =>
  t.state === 'TASK_RUNNING' && t.port !== null && (!app.hasHealthChecks || t.healthy);

/** Tasks of the old app marathon-lb drains now, given how many of the new app's tasks are healthy. */
export function drainedTaskIds(old: GroupApp, newer: GroupApp): string[] {
  const target = Number(newer.labels[deploymentLabels.targetInstances] ?? 1);
  const healthyNew = newer.tasks.filter((t) => serving(newer, t)).length;
  const drainable = Math.max(0, healthyNew + old.instances - target);
  const oldTasks = [...old.tasks].sort((a, b) => a.id.localeCompare(b.id));
  return oldTasks.slice(0, Math.min(oldTasks.length, healthyNew, drainable)).map((t) => t.id);
}

/** The backends marathon-lb configures for one deployment group: healthy running tasks, the drained ones disabled. */
export function groupBackends(apps: GroupApp[]): Backend[] {
  const { old, new: newer } = oldAndNew(apps);
  const drained = new Set(old && newer ? drainedTaskIds(old, newer) : []);
  return apps.flatMap((app) =>
    app.tasks
      .filter((t) => serving(app, t))
      .map((t) => ({ appId: app.id, taskId: t.id, host: t.host, port: t.port!, draining: drained.has(t.id) })),
  );
}

/** The group's service port (HAPROXY_0_PORT of any member), or undefined when none says. */
export function groupServicePort(apps: GroupApp[]): number | undefined {
  for (const app of apps) {
    const port = Number(app.labels[deploymentLabels.servicePort]);
    if (Number.isInteger(port) && port > 0) return port;
  }
  return undefined;
}

/** zdd.py's next size of the new app: about 50 % more each step, the target once it passes the old app's size. */
export function nextScaleUp(current: number, oldInstances: number, target: number): number {
  const grown = Math.floor(current + (current + 1) / 2);
  return grown >= oldInstances ? target : Math.min(grown, target);
}

export const otherColour = (c: Colour | undefined): Colour => (c === 'blue' ? 'green' : 'blue');
