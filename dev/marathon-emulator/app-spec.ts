// App definitions as the emulator accepts and stores them (in the 1.5 shape, whichever Marathon it
// plays; a 1.4 emulator first drops what 1.4 would not read, see dropUnknownTo14):
// validation with Marathon's 422 shape `{message, details: [{path, errors}]}` (AppValidation.scala,
// raml/v2/types/app.raml), the documented defaults filled in, and the 1.4 networking fields
// (`container.docker.network`, `container.docker.portMappings`, `ports`) migrated to the 1.5 ones,
// which is all Marathon 1.5 ever returns (docs/docs/upgrade/network-api-migration.md).
export type AppDef = Record<string, unknown>;

export interface Detail {
  path: string;
  errors: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const idSegment = /^(([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$/;
const constraintOperators = ['UNIQUE', 'CLUSTER', 'GROUP_BY', 'LIKE', 'UNLIKE', 'MAX_PER', 'IS'];

export function absoluteId(id: string): string {
  return '/' + id.replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Names of a stored definition's ports, in order (host: port definitions; otherwise port mappings). */
export function portNamesOf(app: AppDef): (string | undefined)[] {
  const container = isObject(app.container) ? app.container : {};
  const list = networkMode(app) === 'host' ? app.portDefinitions : container.portMappings;
  return (Array.isArray(list) ? list : []).map((p) => (isObject(p) && typeof p.name === 'string' ? p.name : undefined));
}

/** Network mode of a (raw or stored) definition. */
export function networkMode(app: AppDef): 'host' | 'bridge' | 'container' {
  const networks = Array.isArray(app.networks) ? app.networks : [];
  const first = isObject(networks[0]) ? networks[0].mode : undefined;
  if (first === 'container/bridge') return 'bridge';
  if (first === 'container') return 'container';
  if (first === 'host') return 'host';
  const legacy = isObject(app.container) && isObject(app.container.docker) ? app.container.docker.network : undefined;
  if (legacy === 'BRIDGE') return 'bridge';
  if (legacy === 'USER') return 'container';
  return 'host';
}

function collect(details: Detail[], path: string, error: string): void {
  const existing = details.find((d) => d.path === path);
  if (existing) existing.errors.push(error);
  else details.push({ path, errors: [error] });
}

function number(details: Detail[], app: AppDef, field: string, min: number, integer = false): void {
  const v = app[field];
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || (integer && !Number.isInteger(v)))
    collect(details, `/${field}`, integer ? 'error.expected.jsnumber (integer)' : 'error.expected.jsnumber');
  else if (v < min) collect(details, `/${field}`, `got ${v}, expected ${min} or more`);
}

/** Type errors: Marathon 1.5+ answers them with 422 "Invalid JSON" and play-json error keys. */
export function typeErrors(app: unknown): Detail[] {
  const details: Detail[] = [];
  if (!isObject(app)) return [{ path: '/', errors: ['error.expected.jsobject'] }];
  if (app.id !== undefined && typeof app.id !== 'string') collect(details, '/id', 'error.expected.jsstring');
  if (app.cmd !== undefined && app.cmd !== null && typeof app.cmd !== 'string')
    collect(details, '/cmd', 'error.expected.jsstring');
  if (app.args !== undefined && app.args !== null && !Array.isArray(app.args))
    collect(details, '/args', 'error.expected.jsarray');
  for (const field of ['env', 'labels'] as const) {
    const map = app[field];
    if (map === undefined || map === null) continue;
    if (!isObject(map)) collect(details, `/${field}`, 'error.expected.jsobject');
    else
      for (const [k, v] of Object.entries(map)) {
        if (typeof v !== 'string' && !(field === 'env' && isObject(v) && typeof v.secret === 'string'))
          collect(details, `/${field}/${k}`, 'error.expected.jsstring');
      }
  }
  for (const field of ['instances', 'cpus', 'mem', 'disk', 'gpus']) {
    const v = app[field];
    if (v !== undefined && v !== null && typeof v !== 'number')
      collect(details, `/${field}`, 'error.expected.jsnumber');
  }
  return details;
}

/** The semantic checks behind Marathon's 422 "Object is not valid". `app` is the merged definition, id absolute. */
export function validate(app: AppDef): Detail[] {
  const details: Detail[] = [];
  const id = typeof app.id === 'string' ? app.id : '';
  const segments = id.replace(/^\//, '').split('/');
  if (id === '' || id === '/' || segments.some((s) => !idSegment.test(s))) {
    collect(details, '/id', `must fully match regular expression '${idSegment.source}'`);
  }
  const hasCmd = typeof app.cmd === 'string' && app.cmd !== '';
  const hasArgs = Array.isArray(app.args) && app.args.length > 0;
  const container = isObject(app.container) ? app.container : undefined;
  if ((hasCmd && hasArgs) || (!hasCmd && !hasArgs && !container)) {
    collect(details, '/', "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.");
  }
  if (container) {
    const type = container.type ?? 'DOCKER';
    if (type !== 'DOCKER' && type !== 'MESOS')
      collect(details, '/container/type', `'${String(type)}' is not a valid container type`);
    const docker = isObject(container.docker) ? container.docker : undefined;
    if (type === 'DOCKER' && (!docker || typeof docker.image !== 'string' || docker.image === ''))
      collect(details, '/container/docker/image', 'must not be empty');
    if (docker && docker.network !== undefined && app.networks !== undefined)
      collect(details, '/', 'must not specify both container.docker.network and networks');
  }
  number(details, app, 'instances', 0, true);
  number(details, app, 'cpus', 0);
  number(details, app, 'mem', 0);
  number(details, app, 'disk', 0);
  number(details, app, 'gpus', 0, true);
  number(details, app, 'backoffSeconds', 0);
  number(details, app, 'backoffFactor', 1);
  const strategy = isObject(app.upgradeStrategy) ? app.upgradeStrategy : {};
  for (const field of ['minimumHealthCapacity', 'maximumOverCapacity']) {
    const v = strategy[field];
    if (v === undefined) continue;
    if (typeof v !== 'number') collect(details, `/upgradeStrategy/${field}`, 'error.expected.jsnumber');
    else if (v > 1) collect(details, `/upgradeStrategy/${field}`, 'is greater than 1');
    else if (v < 0) collect(details, `/upgradeStrategy/${field}`, 'is less than 0');
  }
  (Array.isArray(app.constraints) ? app.constraints : []).forEach((c, i) => {
    if (!Array.isArray(c) || c.length < 2 || !constraintOperators.includes(String(c[1]))) {
      collect(
        details,
        `/constraints(${i})`,
        `Constraint operator must be one of the following: [${constraintOperators.join(', ')}]`,
      );
    }
  });

  const mode = networkMode(app);
  const mappings =
    container && Array.isArray(container.portMappings)
      ? container.portMappings
      : container && isObject(container.docker) && Array.isArray(container.docker.portMappings)
        ? container.docker.portMappings
        : undefined;
  if (mode === 'host' && mappings && mappings.length > 0)
    collect(details, '/container/portMappings', 'portMappings are not allowed with host-networking');
  const definitions = Array.isArray(app.portDefinitions)
    ? app.portDefinitions
    : Array.isArray(app.ports)
      ? app.ports
      : undefined;
  if (mode !== 'host' && definitions && definitions.length > 0)
    collect(details, '/portDefinitions', 'portDefinitions are only allowed with host-networking');
  const portCount = mode === 'host' ? (definitions ? definitions.length : 1) : (mappings?.length ?? 0);
  (Array.isArray(app.healthChecks) ? app.healthChecks : []).forEach((hc, i) => {
    if (!isObject(hc)) return collect(details, `/healthChecks(${i})`, 'error.expected.jsobject');
    const protocol = String(hc.protocol ?? 'HTTP');
    if (protocol === 'COMMAND') return;
    if (hc.port !== undefined && hc.portIndex === undefined) return;
    const index = typeof hc.portIndex === 'number' ? hc.portIndex : 0;
    if (index < 0 || index >= portCount) {
      collect(
        details,
        `/healthChecks(${i})`,
        'Health check port indices must address an element of the ports array or container port mappings.',
      );
    }
  });
  const portNames =
    mode === 'host'
      ? definitions
        ? definitions.flatMap((d) => (isObject(d) && typeof d.name === 'string' ? [d.name] : []))
        : ['default']
      : (mappings ?? []).flatMap((m) => (isObject(m) && typeof m.name === 'string' ? [m.name] : []));
  validateReadiness(details, app, portNames);
  return details;
}

/** Readiness checks (AppValidation.scala readinessCheckValidator, complyWithReadinessCheckRules). */
function validateReadiness(details: Detail[], app: AppDef, portNames: string[]): void {
  const checks = Array.isArray(app.readinessChecks) ? app.readinessChecks : [];
  if (checks.length > 1) collect(details, '/readinessChecks', 'got ' + checks.length + ', expected 1 or less');
  checks.forEach((raw, i) => {
    if (!isObject(raw)) return collect(details, `/readinessChecks(${i})`, 'error.expected.jsobject');
    const portName = typeof raw.portName === 'string' ? raw.portName : readinessDefaults.portName;
    if (!portNames.includes(portName))
      collect(details, `/readinessChecks(${i})/portName`, `No port definition reference for portName ${portName}`);
    const interval = Number(raw.intervalSeconds ?? readinessDefaults.intervalSeconds);
    const timeout = Number(raw.timeoutSeconds ?? readinessDefaults.timeoutSeconds);
    if (timeout >= interval)
      collect(details, `/readinessChecks(${i})/timeoutSeconds`, `got ${timeout}, expected less than ${interval}`);
  });
}

/** ReadinessCheck.scala defaults. */
const readinessDefaults = {
  name: 'readinessCheck',
  protocol: 'HTTP',
  path: '/',
  portName: 'http-api',
  intervalSeconds: 30,
  timeoutSeconds: 10,
  httpStatusCodesForReady: [200],
  preserveLastResponse: false,
};

const healthCheckDefaults = {
  protocol: 'HTTP',
  path: '/',
  portIndex: 0,
  gracePeriodSeconds: 300,
  intervalSeconds: 60,
  timeoutSeconds: 20,
  maxConsecutiveFailures: 3,
  ignoreHttp1xx: false,
};

/**
 * Fills Marathon's documented defaults and migrates 1.4 networking fields; returns a new object.
 * Service ports asked for as 0 are assigned from the pool, except that an update keeps the ones
 * the app already has at the same position (Marathon does, so an identical PUT changes nothing).
 */
export function normalise(input: AppDef, nextServicePort: () => number, previous?: AppDef): AppDef {
  const app: AppDef = structuredClone(input);
  app.id = absoluteId(String(app.id));
  const container = isObject(app.container) ? app.container : undefined;
  const docker = container && isObject(container.docker) ? container.docker : undefined;
  if (docker && docker.network !== undefined) {
    const legacy = docker.network;
    app.networks =
      legacy === 'BRIDGE'
        ? [{ mode: 'container/bridge' }]
        : legacy === 'USER'
          ? [{ mode: 'container', name: 'default' }]
          : [{ mode: 'host' }];
    delete docker.network;
  }
  if (container && docker && Array.isArray(docker.portMappings)) {
    container.portMappings ??= docker.portMappings;
    delete docker.portMappings;
  }
  if (Array.isArray(app.ports)) {
    app.portDefinitions ??= app.ports.map((p) => ({ port: p, protocol: 'tcp' }));
    delete app.ports;
  }
  if (Array.isArray(app.uris)) {
    app.fetch ??= app.uris.map((uri) => ({ uri }));
    delete app.uris;
  }
  if (container) {
    container.type ??= 'DOCKER';
    container.volumes ??= [];
    if (docker) {
      docker.forcePullImage ??= false;
      docker.privileged ??= false;
      docker.parameters ??= [];
    }
  }
  app.networks ??= [{ mode: 'host' }];
  const mode = networkMode(app);
  const before = previous && networkMode(previous) === mode ? servicePortsOf(previous) : [];
  const servicePort = (asked: unknown, i: number) =>
    asked === undefined || asked === 0 ? (before[i] ?? nextServicePort()) : asked;
  if (mode === 'host') {
    app.portDefinitions ??= [{ port: 0, protocol: 'tcp', name: 'default' }];
    app.portDefinitions = (app.portDefinitions as Record<string, unknown>[]).map((d, i) => ({
      protocol: 'tcp',
      ...d,
      port: servicePort(d.port, i),
    }));
  } else {
    delete app.portDefinitions;
    if (container && Array.isArray(container.portMappings)) {
      container.portMappings = (container.portMappings as Record<string, unknown>[]).map((m, i) => ({
        containerPort: 0,
        hostPort: 0,
        protocol: 'tcp',
        labels: {},
        ...m,
        servicePort: servicePort(m.servicePort, i),
      }));
    }
  }
  app.instances ??= 1;
  app.cpus ??= 1;
  app.mem ??= 128;
  app.disk ??= 0;
  app.gpus ??= 0;
  app.env ??= {};
  app.labels ??= {};
  app.constraints ??= [];
  app.backoffSeconds ??= 1;
  app.backoffFactor ??= 1.15;
  app.maxLaunchDelaySeconds ??= 300;
  app.requirePorts ??= false;
  app.killSelection ??= 'YOUNGEST_FIRST';
  app.upgradeStrategy = {
    minimumHealthCapacity: 1,
    maximumOverCapacity: 1,
    ...(isObject(app.upgradeStrategy) ? app.upgradeStrategy : {}),
  };
  app.healthChecks = (Array.isArray(app.healthChecks) ? app.healthChecks : []).map((hc) => ({
    ...healthCheckDefaults,
    ...(isObject(hc) ? hc : {}),
  }));
  app.readinessChecks = (Array.isArray(app.readinessChecks) ? app.readinessChecks : []).map((rc) => ({
    ...readinessDefaults,
    ...(isObject(rc) ? rc : {}),
  }));
  return app;
}

/**
 * What Marathon 1.4 makes of a request body: it knows nothing of the 1.5 networking fields and
 * drops them without a word (`networks`, `container.portMappings`), so a 1.5-shaped bridge app
 * runs with HOST networking and no port mappings. Returns a copy without them.
 */
export function dropUnknownTo14(body: AppDef): AppDef {
  const out: AppDef = structuredClone(body);
  delete out.networks;
  if (isObject(out.container)) delete out.container.portMappings;
  return out;
}

/** Service ports a stored definition was given, by position. */
function servicePortsOf(app: AppDef): (number | undefined)[] {
  const container = isObject(app.container) ? app.container : {};
  const list = networkMode(app) === 'host' ? app.portDefinitions : container.portMappings;
  return (Array.isArray(list) ? list : []).map((p) =>
    isObject(p) ? (typeof p.port === 'number' ? p.port : (p.servicePort as number | undefined)) : undefined,
  );
}

/** Fields that are not configuration: a change only there is no reason to restart tasks. */
const notConfig = new Set(['id', 'version', 'versionInfo', 'instances']);

function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** Compares everything that would make Marathon replace tasks (all but instances and version fields). */
export function sameConfig(a: AppDef, b: AppDef): boolean {
  const strip = (app: AppDef) => Object.fromEntries(Object.entries(app).filter(([k]) => !notConfig.has(k)));
  return stable(strip(a)) === stable(strip(b));
}

/** A stored definition rendered the way Marathon 1.4 returned it (legacy networking fields), for client tests. */
export function renderLegacy(app: AppDef): AppDef {
  const out: AppDef = structuredClone(app);
  const mode = networkMode(app);
  const container = isObject(out.container) ? out.container : undefined;
  if (container && isObject(container.docker)) {
    container.docker.network = mode === 'bridge' ? 'BRIDGE' : mode === 'container' ? 'USER' : 'HOST';
    if (Array.isArray(container.portMappings)) container.docker.portMappings = container.portMappings;
    delete container.portMappings;
  }
  const defs = Array.isArray(out.portDefinitions) ? (out.portDefinitions as Record<string, unknown>[]) : [];
  out.ports =
    mode === 'host'
      ? defs.map((d) => d.port)
      : (
          (container && isObject(container.docker) && Array.isArray(container.docker.portMappings)
            ? container.docker.portMappings
            : []) as Record<string, unknown>[]
        ).map((m) => m.servicePort);
  delete out.networks;
  return out;
}
