// Marathon app definitions as Slipway sees them: the pre-flight validation of an outgoing
// definition (so a broken render fails here with a message that names the field, instead of as a
// 422 halfway through a rollout), and one internal view of an app as Marathon returns it, whatever
// the server's version. Marathon 1.4 reports networking as `container.docker.network` +
// `container.docker.portMappings` + top-level `ports`; 1.5+ as `networks` + `container.portMappings`
// + `portDefinitions` (docs/docs/upgrade/network-api-migration.md). Code reading one shape only
// breaks on the other, so everything downstream reads `MarathonAppView`.

/** A rendered app definition (JSON object) as sent to PUT /v2/apps/{id}. */
export type MarathonApp = Record<string, unknown>;

export type NetworkMode = 'host' | 'bridge' | 'container';

export interface PortView {
  containerPort: number | null;
  hostPort: number | null;
  servicePort: number | null;
  name: string | null;
  protocol: string;
}

export interface HealthResultView {
  alive: boolean;
  consecutiveFailures: number;
}

export interface TaskView {
  id: string;
  /** The app version the task was launched with. */
  version: string | null;
  state: string;
  host: string | null;
  ports: number[];
  /** One entry per health check that has reported; empty until the first result. */
  healthCheckResults: HealthResultView[];
}

export interface MarathonAppView {
  id: string;
  version: string | null;
  /** Last change that restarts tasks (not scaling): tasks launched before it run an older config. */
  lastConfigChangeAt: string | null;
  image: string | null;
  instances: number;
  network: NetworkMode;
  ports: PortView[];
  labels: Record<string, string>;
  healthCheckCount: number;
  readinessCheckCount: number;
  /** Readiness results of the running deployment (GET with embed=app.readiness); empty outside one. */
  readiness: { taskId: string; ready: boolean }[];
  deploymentIds: string[];
  tasksRunning: number;
  tasksHealthy: number;
  tasksUnhealthy: number;
  tasksStaged: number;
  tasks: TaskView[];
  lastTaskFailure: string | null;
}

const segment = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const asObject = (v: unknown): Record<string, unknown> => (isObject(v) ? v : {});
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Absolute form of an app id, as Marathon stores it ("my-app" -> "/my-app"). */
export function absoluteAppId(id: string): string {
  return '/' + id.replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Network mode of a definition or a GET response, in either API shape. */
export function networkModeOf(app: Record<string, unknown>): NetworkMode {
  const networks = asArray(app.networks);
  if (networks.length > 0) {
    const mode = str(asObject(networks[0]).mode);
    if (mode === 'container/bridge') return 'bridge';
    if (mode === 'container') return 'container';
    return 'host';
  }
  const legacy = str(asObject(asObject(app.container).docker).network);
  if (legacy === 'BRIDGE') return 'bridge';
  if (legacy === 'USER') return 'container';
  return 'host';
}

function portMappingsOf(app: Record<string, unknown>): unknown[] | undefined {
  const container = asObject(app.container);
  if (Array.isArray(container.portMappings)) return container.portMappings;
  const docker = asObject(container.docker);
  if (Array.isArray(docker.portMappings)) return docker.portMappings;
  return undefined;
}

/** Ports of a definition or GET response in one form: port mappings for bridge/container, port definitions for host. */
export function portsOf(app: Record<string, unknown>): PortView[] {
  const mappings = portMappingsOf(app);
  if (networkModeOf(app) !== 'host' && mappings) {
    return mappings.map((m) => {
      const o = asObject(m);
      return {
        containerPort: num(o.containerPort),
        hostPort: num(o.hostPort),
        servicePort: num(o.servicePort),
        name: str(o.name),
        protocol: str(o.protocol) ?? 'tcp',
      };
    });
  }
  if (Array.isArray(app.portDefinitions)) {
    return app.portDefinitions.map((d) => {
      const o = asObject(d);
      return {
        containerPort: null,
        hostPort: null,
        servicePort: num(o.port),
        name: str(o.name),
        protocol: str(o.protocol) ?? 'tcp',
      };
    });
  }
  // 1.4 and older: top-level `ports` (service ports), one per host port.
  return asArray(app.ports).map((p) => ({
    containerPort: null,
    hostPort: null,
    servicePort: num(p),
    name: null,
    protocol: 'tcp',
  }));
}

export function imageOf(app: Record<string, unknown>): string | null {
  return str(asObject(asObject(app.container).docker).image);
}

export function labelsOf(app: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(asObject(app.labels))) if (typeof v === 'string') out[k] = v;
  return out;
}

/**
 * A task's state. Marathon before 1.2 (and some proxies that trim answers) send no `state`: a task
 * with `startedAt` runs, one with only `stagedAt` is staging.
 */
function taskState(t: Record<string, unknown>): string {
  const state = str(t.state);
  if (state) return state;
  if (str(t.startedAt)) return 'TASK_RUNNING';
  return str(t.stagedAt) ? 'TASK_STAGING' : 'TASK_UNKNOWN';
}

/** One task as GET /v2/apps/{id} (embedded) or GET /v2/apps/{id}/tasks lists it. */
export function taskView(raw: unknown): TaskView {
  const t = asObject(raw);
  return {
    id: str(t.id) ?? '',
    version: str(t.version),
    state: taskState(t),
    host: str(t.host),
    ports: asArray(t.ports).filter((p): p is number => typeof p === 'number'),
    healthCheckResults: asArray(t.healthCheckResults).map((r) => {
      const o = asObject(r);
      return { alive: o.alive === true, consecutiveFailures: num(o.consecutiveFailures) ?? 0 };
    }),
  };
}

/** Reads `{app: ...}` or a bare app object from GET /v2/apps/{id} of Marathon 1.4 or 1.5+. */
export function viewApp(raw: unknown): MarathonAppView {
  const body = asObject(raw);
  const app = isObject(body.app) ? body.app : body;
  const failure = asObject(app.lastTaskFailure);
  return {
    id: str(app.id) ?? '',
    version: str(app.version),
    lastConfigChangeAt: str(asObject(app.versionInfo).lastConfigChangeAt),
    image: imageOf(app),
    instances: num(app.instances) ?? 1,
    network: networkModeOf(app),
    ports: portsOf(app),
    labels: labelsOf(app),
    healthCheckCount: asArray(app.healthChecks).length,
    readinessCheckCount: asArray(app.readinessChecks).length,
    readiness: asArray(app.readinessCheckResults).map((r) => {
      const o = asObject(r);
      return { taskId: str(o.taskId) ?? '', ready: o.ready === true };
    }),
    deploymentIds: asArray(app.deployments)
      .map((d) => str(asObject(d).id))
      .filter((id): id is string => id !== null),
    tasksRunning: num(app.tasksRunning) ?? 0,
    tasksHealthy: num(app.tasksHealthy) ?? 0,
    tasksUnhealthy: num(app.tasksUnhealthy) ?? 0,
    tasksStaged: num(app.tasksStaged) ?? 0,
    tasks: asArray(app.tasks).map(taskView),
    lastTaskFailure: isObject(app.lastTaskFailure)
      ? `${str(failure.state) ?? 'failed'}: ${str(failure.message) ?? ''} (task ${str(failure.taskId) ?? '?'}, ${str(failure.timestamp) ?? '?'})`
      : null,
  };
}

function range(
  problems: string[],
  app: Record<string, unknown>,
  field: string,
  min: number,
  max = Infinity,
  integer = false,
): void {
  const value = app[field];
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    problems.push(`${field} is ${JSON.stringify(value)}: expected ${integer ? 'an integer' : 'a number'}`);
  } else if (value < min || value > max) {
    problems.push(
      `${field} is ${value}: expected ${max === Infinity ? `${min} or more` : `between ${min} and ${max}`}`,
    );
  }
}

/** Readiness checks (AppValidation.scala): at most one, naming an existing port, timeout below interval. */
function validateReadinessChecks(problems: string[], app: Record<string, unknown>, defaultPort: boolean): void {
  const checks = asArray(app.readinessChecks);
  if (checks.length > 1) problems.push(`readinessChecks has ${checks.length} entries: Marathon allows at most one`);
  // Omitted portDefinitions with host networking mean one port named "default".
  const names = defaultPort ? ['default'] : portsOf(app).flatMap((p) => (p.name ? [p.name] : []));
  checks.forEach((raw, i) => {
    const rc = asObject(raw);
    const portName = str(rc.portName) ?? 'http-api';
    if (!names.includes(portName)) {
      problems.push(
        `readinessChecks[${i}].portName is "${portName}": no port has that name; expected one of ${names.map((n) => `"${n}"`).join(', ') || '(no named ports)'}`,
      );
    }
    const interval = num(rc.intervalSeconds) ?? 30;
    const timeout = num(rc.timeoutSeconds) ?? 10;
    if (timeout >= interval) {
      problems.push(
        `readinessChecks[${i}].timeoutSeconds is ${timeout}: expected less than intervalSeconds (${interval})`,
      );
    }
  });
}

/**
 * Checks an outgoing definition against the rules Marathon enforces with a 422 (AppValidation.scala,
 * app.raml) that a rendered template can get wrong. Returns one readable problem per broken rule,
 * naming the field, the bad value and what was expected; empty when the definition can be sent.
 */
export function validateMarathonApp(app: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const id = app.id;
  if (typeof id !== 'string' || id.trim() === '') {
    problems.push(`id is ${JSON.stringify(id)}: expected a path like "/test/hello-node"`);
  } else {
    const bad = id
      .replace(/^\//, '')
      .split('/')
      .filter((s) => !segment.test(s));
    if (bad.length > 0) {
      problems.push(
        `id "${id}" has invalid segment(s) ${bad.map((s) => JSON.stringify(s)).join(', ')}: expected lowercase a-z, 0-9, "-" and "." per segment`,
      );
    }
  }

  const container = app.container;
  const hasCmd = typeof app.cmd === 'string' && app.cmd !== '';
  const hasArgs = Array.isArray(app.args);
  if (hasCmd && hasArgs) problems.push(`cmd and args are both set: Marathon accepts only one of them`);
  if (!hasCmd && !hasArgs && !isObject(container)) {
    problems.push(`no cmd, args or container: Marathon needs one of 'cmd' or 'args', and/or a 'container'`);
  }
  if (isObject(container)) {
    const docker = container.docker;
    if (isObject(docker) && (typeof docker.image !== 'string' || docker.image.trim() === '')) {
      problems.push(
        `container.docker.image is ${JSON.stringify(docker.image)}: expected an image reference (repo@sha256:...)`,
      );
    }
    if (container.type !== undefined && container.type !== 'DOCKER' && container.type !== 'MESOS') {
      problems.push(`container.type is ${JSON.stringify(container.type)}: expected "DOCKER" or "MESOS"`);
    }
  }

  range(problems, app, 'cpus', 0);
  range(problems, app, 'mem', 0);
  range(problems, app, 'disk', 0);
  range(problems, app, 'instances', 0, Infinity, true);
  const strategy = app.upgradeStrategy;
  if (strategy !== undefined) {
    if (!isObject(strategy)) problems.push(`upgradeStrategy is ${JSON.stringify(strategy)}: expected an object`);
    else
      for (const field of ['minimumHealthCapacity', 'maximumOverCapacity']) {
        const v = strategy[field];
        if (v !== undefined && (typeof v !== 'number' || v < 0 || v > 1)) {
          problems.push(`upgradeStrategy.${field} is ${JSON.stringify(v)}: expected a number between 0 and 1`);
        }
      }
  }
  for (const field of ['env', 'labels']) {
    const map = app[field];
    if (map === undefined) continue;
    if (!isObject(map)) problems.push(`${field} is ${JSON.stringify(map)}: expected an object of strings`);
    else
      for (const [k, v] of Object.entries(map)) {
        // env may reference a Marathon secret ({"secret": "name"}) or a Slipway one ({"secret": {"env": ...}},
        // resolved by the deploy activity: secrets.ts); labels are strings only.
        if (
          typeof v !== 'string' &&
          !(field === 'env' && isObject(v) && (typeof v.secret === 'string' || isObject(v.secret)))
        ) {
          problems.push(`${field}.${k} is ${JSON.stringify(v)}: expected a string`);
        }
      }
  }

  // Networking: both API shapes at once is a 422, as is crossing ports with the network mode.
  const legacyNetwork = asObject(asObject(container).docker).network;
  if (legacyNetwork !== undefined && app.networks !== undefined) {
    problems.push('container.docker.network and networks are both set: use networks (Marathon 1.5+) only');
  }
  const mode = networkModeOf(app);
  const mappings = portMappingsOf(app);
  if (mode === 'host' && mappings && mappings.length > 0) {
    problems.push(
      'container.portMappings are set with host networking: use portDefinitions, or networks [{"mode": "container/bridge"}]',
    );
  }
  if (mode !== 'host' && asArray(app.portDefinitions).length > 0) {
    problems.push(
      `portDefinitions are set with ${mode} networking: they are only allowed with host networking; use container.portMappings`,
    );
  }
  const portCount =
    mode === 'host'
      ? app.portDefinitions === undefined && app.ports === undefined
        ? 1
        : portsOf(app).length
      : (mappings?.length ?? 0);
  asArray(app.healthChecks).forEach((raw, i) => {
    const hc = asObject(raw);
    const protocol = str(hc.protocol) ?? 'HTTP';
    if (protocol.includes('COMMAND')) return;
    const index = hc.portIndex;
    if (index === undefined && hc.port !== undefined) return;
    const at = typeof index === 'number' ? index : 0;
    if (!Number.isInteger(at) || at < 0 || at >= portCount) {
      problems.push(
        `healthChecks[${i}].portIndex is ${JSON.stringify(index ?? 0)}: the app has ${portCount} port(s), so it must be 0..${portCount - 1}`,
      );
    }
  });
  validateReadinessChecks(
    problems,
    app,
    mode === 'host' && app.portDefinitions === undefined && app.ports === undefined,
  );
  return problems;
}
