// The Marathon REST endpoints the emulator serves, with Marathon's documented status codes and
// bodies (Marathon's REST API description: raml/v2/apps.raml, deployments.raml, traits.raml):
// POST /v2/apps -> 201 + app body; PUT /v2/apps/{id} -> 200 (201 when created) {version, deploymentId}
// + Marathon-Deployment-Id; 409 locked with `deployments`; 422 {message, details: [{path, errors}]};
// 404 {"message": "App '/x' does not exist"}; DELETE /v2/deployments/{id} reverts (200) or, with
// force, only cancels (202, no body).
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import {
  absoluteId,
  dropUnknownTo14,
  normalise,
  renderLegacy,
  sameConfig,
  typeErrors,
  validate,
  type AppDef,
} from './app-spec';
import type { Engine, Task } from './engine';
import type { EventBus } from './events';
import { isTrue, parseJson, Router, type Reply, type Request } from './http';
import type { AppStore, StoredApp } from './store';

export interface ApiContext {
  store: AppStore;
  engine: Engine;
  events: EventBus;
  /** '1.4' renders GET responses with the legacy networking fields, as Marathon 1.4 did. */
  apiShape: '1.4' | '1.5';
  leader: () => string;
  /** 1.5+ (--max_running_deployments): more running deployments than this are refused with 403. */
  maxRunningDeployments: number;
}

const notFound = (id: string): Reply => ({ status: 404, body: { message: `App '${id}' does not exist` } });
const invalid = (details: { path: string; errors: string[] }[], message = 'Object is not valid'): Reply => ({
  status: 422,
  body: { message, details },
});
const locked = (ids: string[]): Reply => ({
  status: 409,
  body: {
    message:
      "App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
    deployments: ids.map((id) => ({ id })),
  },
});

const tooManyDeployments = (max: number): Reply => ({
  status: 403,
  body: {
    message:
      `Max number (${max}) of running deployments is achieved. Wait for existing deployments to complete or cancel one` +
      'using force=true parameter. You can increase max deployment number by using --max_running_deployments parameter ' +
      'but be advised that this can have negative effects on the performance.',
  },
});

function userFields(def: AppDef): AppDef {
  const { version: _v, versionInfo: _vi, ...rest } = def;
  return structuredClone(rest);
}

/** `k==v`, `k!=v` and `k` terms, comma-joined (AND): the part of Marathon's label selector tests use. */
function matchesSelector(labels: Record<string, unknown>, selector: string): boolean {
  return selector.split(',').every((term) => {
    const t = term.trim();
    const eq = /^(.+?)==(.*)$/.exec(t);
    if (eq) return labels[eq[1]!.trim()] === eq[2]!.trim();
    const ne = /^(.+?)!=(.*)$/.exec(t);
    if (ne) return labels[ne[1]!.trim()] !== ne[2]!.trim();
    return t === '' || t in labels;
  });
}

export function createApi(ctx: ApiContext): Router {
  const { store, engine, events } = ctx;
  const legacy = ctx.apiShape === '1.4';

  const taskJson = (t: Task, def: AppDef) => ({
    id: t.id,
    appId: t.appId,
    host: t.host,
    ports: t.ports,
    servicePorts: [],
    slaveId: t.agentId,
    state: t.state,
    stagedAt: new Date(t.stagedAt).toISOString(),
    ...(t.startedAt ? { startedAt: new Date(t.startedAt).toISOString() } : {}),
    version: t.version,
    ipAddresses: t.host
      ? [{ ipAddress: t.host.endsWith('.emulator.invalid') ? '127.0.0.1' : t.host, protocol: 'IPv4' }]
      : [],
    ...((def.healthChecks as unknown[]).length > 0
      ? {
          healthCheckResults: t.health
            .filter((h) => h.alive !== null)
            .map((h) => ({
              alive: h.alive,
              consecutiveFailures: h.consecutiveFailures,
              firstSuccess: h.firstSuccess,
              lastSuccess: h.lastSuccess,
              lastFailure: h.lastFailure,
              lastFailureCause: h.lastFailureCause,
              instanceId: t.id,
            })),
        }
      : {}),
  });

  const appJson = (app: StoredApp, withTasks: boolean, withReadiness = false): AppDef => {
    const tasks = engine.tasksOf(app.id);
    const hasChecks = (app.def.healthChecks as unknown[]).length > 0;
    const running = tasks.filter((t) => t.state === 'TASK_RUNNING');
    const failure = engine.lastTaskFailure(app.id);
    return {
      ...(ctx.apiShape === '1.4' ? renderLegacy(app.def) : app.def),
      tasksStaged: tasks.filter((t) => t.state === 'TASK_STAGING').length,
      tasksRunning: running.length,
      tasksHealthy: hasChecks ? running.filter((t) => engine.isHealthy(t)).length : 0,
      tasksUnhealthy: running.filter((t) => t.health.some((h) => h.alive === false)).length,
      deployments: engine.locksOf(app.id).map((id) => ({ id })),
      ...(withTasks ? { tasks: tasks.map((t) => taskJson(t, app.def)) } : {}),
      ...(failure ? { lastTaskFailure: failure } : {}),
      ...(withReadiness ? { readinessCheckResults: engine.readinessResults(app.id) } : {}),
    };
  };

  const deploymentReply = (
    status: number,
    deploymentId: string,
    version: string,
    extra: Record<string, string> = {},
  ): Reply => ({
    status,
    body: { version, deploymentId },
    headers: { 'Marathon-Deployment-Id': deploymentId, ...extra },
  });

  /**
   * Stores `def` as the app's new version and starts the deployment that rolls it out. Locked apps
   * answer 409 unless forced; forcing cancels the running deployment and leaves its tasks as they are.
   */
  function change(
    id: string,
    def: AppDef,
    force: boolean,
    req: Request,
  ): { reply: Reply; deploymentId: string; version: string } | { reply: Reply } {
    const existing = store.get(id);
    const locks = engine.locksOf(id);
    if (locks.length > 0 && !force) return { reply: locked(locks) };
    if (!legacy && engine.deploymentList().length - locks.length >= ctx.maxRunningDeployments) {
      // GroupManagerImpl: TooManyRunningDeploymentsException, mapped to 403 (MarathonExceptionMapper).
      return { reply: tooManyDeployments(ctx.maxRunningDeployments) };
    }
    for (const l of locks) engine.cancel(l, 'Deployment overridden by a forced change');
    const version = store.newVersion();
    const configChanged = !existing || !sameConfig(existing.def, def);
    const lastConfigChangeAt = configChanged
      ? version
      : String(
          (existing.def.versionInfo as { lastConfigChangeAt?: string } | undefined)?.lastConfigChangeAt ?? version,
        );
    const stored: AppDef = { ...def, id, version, versionInfo: { lastScalingAt: version, lastConfigChangeAt } };
    const original = existing ? existing.def : null;
    store.put(stored, { restart: configChanged });
    events.emit('api_post_event', {
      clientIp: req.raw.socket.remoteAddress ?? '',
      uri: req.path,
      appDefinition: stored,
    });
    const kind = !existing
      ? 'start'
      : configChanged
        ? 'upgrade'
        : existing.def.instances !== stored.instances
          ? 'scale'
          : null;
    // An unchanged PUT still answers with a deployment id, but nothing runs (Marathon #1822, #4142).
    const deploymentId = kind ? engine.deploy(id, kind, original, version).id : randomUUID();
    const status = existing ? 200 : 201;
    return {
      reply: deploymentReply(status, deploymentId, version, existing ? {} : { Location: `/v2/apps${id}` }),
      deploymentId,
      version,
    };
  }

  function parseApp(req: Request): { ok: true; body: Record<string, unknown> } | { ok: false; reply: Reply } {
    const parsed = parseJson(req.body);
    if (!parsed.ok) return parsed;
    const types = typeErrors(parsed.value);
    if (types.length > 0) {
      // JSON type errors: 400 on 1.4, 422 on 1.5+ (same body).
      const reply = invalid(types, 'Invalid JSON');
      return { ok: false, reply: legacy ? { ...reply, status: 400 } : reply };
    }
    const body = parsed.value as Record<string, unknown>;
    return { ok: true, body: legacy ? dropUnknownTo14(body) : body };
  }

  const router = new Router();
  router
    .on('GET', /^\/ping$/, () => ({ status: 200, body: 'pong' }))
    .on('GET', /^\/v2\/leader$/, () => ({ status: 200, body: { leader: ctx.leader() } }))
    .on('GET', /^\/v2\/info$/, () => ({
      status: 200,
      body: {
        name: 'marathon',
        version: ctx.apiShape === '1.4' ? '1.4.12' : '1.5.0',
        buildref: 'slipway-marathon-emulator',
        elected: true,
        leader: ctx.leader(),
        frameworkId: 'slipway-emulator-0000',
        marathon_config: {
          master: 'emulated',
          local_port_min: 10000,
          local_port_max: 20000,
          hostname: '127.0.0.1',
          task_launch_timeout: 300000,
        },
        zookeeper_config: { zk: 'emulated', zk_max_versions: 25 },
        http_config: { http_port: Number(ctx.leader().split(':').pop()) },
        emulator: 'Slipway Marathon emulator: a development and test stand-in, not Marathon',
      },
    }))
    .on('GET', /^\/v2\/apps\/?$/, (req) => {
      const idFilter = req.query.get('id');
      const label = req.query.get('label');
      const withTasks = req.query.getAll('embed').includes('apps.tasks');
      const apps = store
        .all()
        .filter((a) => !idFilter || a.id.includes(idFilter))
        .filter((a) => !label || matchesSelector((a.def.labels ?? {}) as Record<string, unknown>, label));
      return { status: 200, body: { apps: apps.map((a) => appJson(a, withTasks)) } };
    })
    .on('POST', /^\/v2\/apps\/?$/, (req) => {
      const parsed = parseApp(req);
      if (!parsed.ok) return parsed.reply;
      if (typeof parsed.body.id !== 'string')
        return invalid([{ path: '/id', errors: ['error.path.missing'] }], 'Invalid JSON');
      const id = absoluteId(parsed.body.id);
      if (store.get(id)) return { status: 409, body: { message: `An app with id [${id}] already exists.` } };
      const details = validate({ ...parsed.body, id });
      if (details.length > 0) return invalid(details);
      const result = change(id, normalise({ ...parsed.body, id }, store.nextServicePort), false, req);
      if (!('deploymentId' in result)) return result.reply;
      const app = store.get(id)!;
      return {
        status: 201,
        body: appJson(app, false),
        headers: { Location: `/v2/apps${id}`, 'Marathon-Deployment-Id': result.deploymentId },
      };
    })
    .on('GET', /^\/v2\/apps(\/.+)\/versions\/([^/]+)$/, (_req, _res, [rawId, version]) => {
      const id = absoluteId(rawId!);
      const app = store.get(id);
      const def = app?.versions.get(version!);
      if (!def)
        return {
          status: 404,
          body: { message: app ? `App '${id}' does not exist in version ${version}` : `App '${id}' does not exist` },
        };
      return { status: 200, body: ctx.apiShape === '1.4' ? renderLegacy(def) : def };
    })
    .on('GET', /^\/v2\/apps(\/.+)\/versions\/?$/, (_req, _res, [rawId]) => {
      const app = store.get(absoluteId(rawId!));
      if (!app) return notFound(absoluteId(rawId!));
      return { status: 200, body: { versions: [...app.versions.keys()].reverse() } };
    })
    .on('GET', /^\/v2\/apps(\/.+)\/tasks\/?$/, (_req, _res, [rawId]) => {
      const app = store.get(absoluteId(rawId!));
      if (!app) return notFound(absoluteId(rawId!));
      return { status: 200, body: { tasks: engine.tasksOf(app.id).map((t) => taskJson(t, app.def)) } };
    })
    .on('POST', /^\/v2\/apps(\/.+)\/restart\/?$/, (req, _res, [rawId]) => {
      const id = absoluteId(rawId!);
      const app = store.get(id);
      if (!app) return notFound(id);
      const locks = engine.locksOf(id);
      if (locks.length > 0 && !isTrue(req.query.get('force'))) return locked(locks);
      for (const l of locks) engine.cancel(l, 'Deployment overridden by a forced restart');
      const version = store.newVersion();
      const original = app.def;
      const lastConfigChangeAt = (app.def.versionInfo as { lastConfigChangeAt?: string }).lastConfigChangeAt ?? version;
      store.put(
        { ...app.def, version, versionInfo: { lastScalingAt: version, lastConfigChangeAt } },
        { restart: true },
      );
      const dep = engine.deploy(id, 'restart', original, version);
      return deploymentReply(200, dep.id, version);
    })
    .on('GET', /^\/v2\/apps(\/.+?)\/?$/, (req, _res, [rawId]) => {
      const app = store.get(absoluteId(rawId!));
      if (!app) return notFound(absoluteId(rawId!));
      // Marathon's single-app GET always carries tasks, counts, deployments and lastTaskFailure;
      // readiness results only with embed=app.readiness.
      const readiness = req.query.getAll('embed').includes('app.readiness');
      return { status: 200, body: { app: appJson(app, true, readiness) } };
    })
    .on('PUT', /^\/v2\/apps(\/.+?)\/?$/, (req, _res, [rawId]) => {
      const id = absoluteId(rawId!);
      const parsed = parseApp(req);
      if (!parsed.ok) return parsed.reply;
      const body = parsed.body;
      const force = isTrue(req.query.get('force'));
      const existing = store.get(id);
      if ('version' in body) {
        // Rollback: copy a stored definition into a new version (AppHelpers.scala).
        if (Object.keys(body).some((k) => k !== 'version' && k !== 'id'))
          return invalid([{ path: '/', errors: ["The 'version' field may only be combined with the 'id' field."] }]);
        if (!existing) return notFound(id);
        const target = existing.versions.get(String(body.version));
        if (!target)
          return { status: 404, body: { message: `App '${id}' does not exist in version ${String(body.version)}` } };
        return change(id, userFields(target), force, req).reply;
      }
      // partialUpdate (default true): omitted fields keep their values.
      const partial = req.query.get('partialUpdate') !== 'false';
      const base = partial && existing ? userFields(existing.def) : {};
      // 1.4 keeps the network inside `container`: a new container brings its own (stored as `networks`).
      if (legacy && body.container !== undefined) delete base.networks;
      const merged = { ...base, ...body, id };
      const details = validate(merged);
      if (details.length > 0) return invalid(details);
      return change(id, normalise(merged, store.nextServicePort, existing?.def), force, req).reply;
    })
    .on('DELETE', /^\/v2\/apps(\/.+?)\/?$/, (req, _res, [rawId]) => {
      const id = absoluteId(rawId!);
      const app = store.get(id);
      if (!app) return notFound(id);
      // force defaults to true here: deleting cancels the app's running deployment.
      const force = req.query.get('force') !== 'false';
      const locks = engine.locksOf(id);
      if (locks.length > 0 && !force) return locked(locks);
      for (const l of locks) engine.cancel(l, 'Deployment overridden by app deletion');
      const version = store.newVersion();
      const dep = engine.deploy(id, 'stop', app.def, version);
      return deploymentReply(200, dep.id, version);
    })
    .on('POST', /^\/v2\/tasks\/delete\/?$/, (req) => {
      // Kill named tasks; with scale=true their apps' instances drop by as many (a scale
      // deployment, no restart), as zdd.py uses it. Ids of unknown tasks are skipped.
      const parsed = parseJson(req.body);
      if (!parsed.ok) return parsed.reply;
      const ids = (parsed.value as { ids?: unknown }).ids;
      if (!Array.isArray(ids) || ids.some((i) => typeof i !== 'string'))
        return invalid([{ path: '/ids', errors: ['error.expected.jsarray of task ids'] }]);
      const scale = isTrue(req.query.get('scale'));
      const force = isTrue(req.query.get('force'));
      const apps = store.all().filter((a) => engine.tasksOf(a.id).some((t) => ids.includes(t.id)));
      if (scale) {
        const locks = apps.flatMap((a) => engine.locksOf(a.id));
        if (locks.length > 0 && !force) return locked(locks);
      }
      const killed = apps.map((a) => ({ app: a, tasks: engine.killTasks(a.id, ids as string[]) }));
      if (!scale) return { status: 200, body: { tasks: killed.flatMap((k) => k.tasks.map((id) => ({ id }))) } };
      let last: Reply = deploymentReply(200, randomUUID(), store.newVersion());
      for (const { app, tasks } of killed) {
        const def = { ...userFields(app.def), instances: Math.max(0, Number(app.def.instances ?? 1) - tasks.length) };
        last = change(app.id, def, true, req).reply;
      }
      return last;
    })
    .on('GET', /^\/v2\/queue\/?$/, (req) => {
      // The launch queue: apps with tasks wanted but not launched (offers declined or backoff).
      const withOffers = req.query.getAll('embed').includes('lastUnusedOffers');
      const queue = engine.queueEntries().flatMap(({ appId, entry }) => {
        const app = store.get(appId);
        if (!app) return [];
        const { lastUnusedOffers, ...rest } = entry;
        return [{ ...rest, ...(withOffers ? { lastUnusedOffers } : {}), app: appJson(app, false) }];
      });
      return { status: 200, body: { queue } };
    })
    .on('GET', /^\/v2\/deployments\/?$/, () => ({
      status: 200,
      body: engine.deploymentList().map((d) => engine.deploymentJson(d)),
    }))
    .on('DELETE', /^\/v2\/deployments\/([^/]+)$/, (req, _res, [id]) => {
      const dep = engine.deployment(id!);
      if (!dep) return { status: 404, body: { message: `DeploymentPlan ${id} does not exist` } };
      if (isTrue(req.query.get('force'))) {
        engine.cancel(dep.id, 'Deployment canceled (force)');
        return { status: 202 };
      }
      // Without force: a new deployment returns everything in the plan to its original state.
      engine.cancel(dep.id, 'Deployment canceled, reverting');
      const app = store.get(dep.appId);
      if (!app) return { status: 404, body: { message: `App '${dep.appId}' does not exist` } };
      // The revert is a deployment like any other: its id is in the body and the header.
      if (!dep.original) {
        const version = store.newVersion();
        const stop = engine.deploy(dep.appId, 'stop', app.def, version);
        return deploymentReply(200, stop.id, version);
      }
      const result = change(dep.appId, userFields(dep.original), true, req);
      return 'deploymentId' in result ? deploymentReply(200, result.deploymentId, result.version) : result.reply;
    })
    .on('GET', /^\/v2\/events\/?$/, (req, res: ServerResponse) => {
      if (!String(req.headers.accept ?? '').includes('text/event-stream')) {
        return { status: 405, body: { message: 'GET /v2/events needs the header Accept: text/event-stream' } };
      }
      events.attach(res, req.query.getAll('event_type'), req.raw.socket.remoteAddress ?? '');
      return { status: 200, streaming: true };
    });
  return router;
}
