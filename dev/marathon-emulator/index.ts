// The Marathon emulator: a development and test stand-in for Marathon (which cannot run on these
// machines) that speaks Marathon's documented REST API. `startMarathonEmulator` is what tests,
// `slipway up` and `slipway marathon-emulator` call. Tasks are real containers (mode
// "containers") or simulated (mode "simulated"). State is in memory unless `stateFile` is given.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Docker from 'dockerode';
import { createLogger } from '../../common/log';
import { createAdmin, describeAppWrite, type RequestRecord } from './admin';
import { makeAgents, type AgentSpec, type AgentsOptions } from './agents';
import { EmulatorAuth, loginPath, type EmulatorAuthOptions } from './auth';
import { createApi } from './api';
import { Engine } from './engine';
import { EventBus } from './events';
import { noFaults, shouldFail, type Faults } from './faults';
import { readBody, send, type Reply, type Request } from './http';
import { ContainerRunner } from './runner-containers';
import { SimulatedRunner } from './runner-simulated';
import type { TaskRunner } from './runner';
import { AppStore } from './store';
import { LoadBalancerStandIn } from './lb-proxy';
import type { GroupApp } from '../../common/deployment-group';

export type { RequestRecord } from './admin';
export type { Faults } from './faults';
export type { EmulatorAuthOptions } from './auth';
export type { AgentSpec, AgentsOptions } from './agents';
export type { LoadBalancerStandIn } from './lb-proxy';

export interface MarathonEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** "containers" (default): tasks are real containers; "simulated": nothing runs. */
  mode?: 'containers' | 'simulated';
  /** Persist apps and versions here; without it everything is lost when the emulator stops. */
  stateFile?: string;
  faults?: Partial<Faults>;
  /** Multiplies grace periods, check intervals and backoff of app definitions; <1 makes tests fast. */
  timeScale?: number;
  /** Reconcile period of the deployment engine. */
  tickMs?: number;
  /** Simulated mode: a task passes health checks this long after it started. */
  simulatedHealthyAfterMs?: number;
  /** Simulated mode: time from launch to TASK_RUNNING. */
  simulatedLaunchMs?: number;
  /**
   * Which Marathon to behave as: "1.5" (default; /v2/info says 1.5.0) or "1.4" (1.4.12): GET
   * answers carry the legacy networking fields, request bodies lose the 1.5-only fields
   * (`networks`, `container.portMappings`) as 1.4 drops them, JSON type errors answer 400.
   */
  apiShape?: '1.4' | '1.5';
  /**
   * DC/OS auth mode: every API call needs `Authorization: token=<token>` from
   * POST /acs/api/v1/auth/login (service-account login); tokens expire. Default: no auth.
   */
  auth?: EmulatorAuthOptions;
  /**
   * The emulated Mesos agents: a count with sizes (cpus, mem, disk, port ranges, attributes per
   * agent) or a full list. Tasks are placed only where resources, host ports and the app's
   * constraints fit; otherwise they wait in GET /v2/queue. Default: three roomy agents.
   */
  agents?: AgentsOptions | AgentSpec[];
  /** 1.5 shape: a new deployment beyond this many running ones is refused with Marathon's 403 (default 100). */
  maxRunningDeployments?: number;
  /** Containers mode: image with busybox for MESOS_HTTP/MESOS_TCP checks (default local/busybox:httpd). */
  probeImage?: string;
  /** Containers mode: a dockerode client (default: from DOCKER_HOST or the local socket). */
  docker?: Docker;
  /**
   * Containers mode: run the stand-in for marathon-lb (lb-proxy.ts) that serves each deployment
   * group (label HAPROXY_DEPLOYMENT_GROUP) on 127.0.0.1:<HAPROXY_0_PORT>. Default true.
   */
  loadBalancer?: boolean;
}

export interface MarathonEmulator {
  url: string;
  port: number;
  mode: 'containers' | 'simulated';
  /** The request log (same as GET /_emulator/requests). */
  requests(): RequestRecord[];
  /** Containers mode: the stand-in for marathon-lb, when it runs. */
  loadBalancer?: LoadBalancerStandIn;
  close(): Promise<void>;
}

export async function startMarathonEmulator(opts: MarathonEmulatorOptions = {}): Promise<MarathonEmulator> {
  const log = createLogger('marathon-emulator');
  const mode = opts.mode ?? 'containers';
  const host = opts.host ?? '127.0.0.1';
  const instanceId = randomBytes(6).toString('hex');
  const startFaults: Faults = { ...noFaults, ...opts.faults };
  let faults: Faults = { ...startFaults };
  const requests: RequestRecord[] = [];
  const events = new EventBus();
  const store = new AppStore(opts.stateFile);

  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const leader = `${host}:${port}`;

  let runner: TaskRunner;
  if (mode === 'containers') {
    const containers = new ContainerRunner(opts.docker ?? new Docker(), instanceId, port, opts.probeImage);
    const removed = await containers.removeLeftovers().catch((err: unknown) => {
      server.close();
      throw new Error(`Marathon emulator (containers mode) cannot reach Docker: ${(err as Error).message}`);
    });
    if (removed > 0) log.info('removed containers left by an earlier emulator on this port', { removed });
    runner = containers;
  } else {
    runner = new SimulatedRunner({
      healthyAfterMs: opts.simulatedHealthyAfterMs ?? 1000,
      launchMs: opts.simulatedLaunchMs ?? 50,
    });
  }
  const engine = new Engine(store, runner, events, {
    timeScale: opts.timeScale ?? 1,
    tickMs: opts.tickMs ?? 100,
    faults: () => faults,
    log,
    agents: makeAgents(opts.agents),
  });
  const api = createApi({
    store,
    engine,
    events,
    apiShape: opts.apiShape ?? '1.5',
    leader: () => leader,
    maxRunningDeployments: opts.maxRunningDeployments ?? 100,
  });
  const auth = opts.auth ? new EmulatorAuth(opts.auth) : undefined;
  const admin = createAdmin({
    requests,
    revokeTokens: auth ? () => auth.revokeAll() : undefined,
    loseTasks: (appId, state, count) => engine.loseTasks(appId, state, count),
    changeLeader: (ms) => engine.changeLeader(ms),
    getFaults: () => faults,
    setFaults: (f) => (faults = f),
    reset: async () => {
      await engine.reset();
      store.clear();
      requests.length = 0;
      faults = { ...startFaults };
    },
  });

  server.on('request', (raw: http.IncomingMessage, res: http.ServerResponse) => {
    void (async () => {
      const started = Date.now();
      const url = new URL(raw.url ?? '/', 'http://emulator');
      let reply: Reply;
      let body = '';
      try {
        body = await readBody(raw);
        const req: Request = {
          method: raw.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          headers: raw.headers,
          body,
          raw,
        };
        if (req.path.startsWith('/_emulator/')) {
          send(res, await admin.dispatch(req, res));
          return;
        }
        if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
        const denied = auth && req.path !== loginPath ? auth.check(req) : undefined;
        if (auth && req.path === loginPath && req.method === 'POST') {
          reply = auth.login(req);
        } else if (denied) {
          reply = denied;
        } else if (shouldFail(faults)) {
          reply = { status: 503, body: { message: 'Could not determine the current leader' } };
        } else {
          reply = await api.dispatch(req, res);
        }
      } catch (err) {
        log.error('request failed', { path: url.pathname, error: err });
        reply = { status: 500, body: { message: (err as Error).message } };
      }
      requests.push({
        method: raw.method ?? 'GET',
        path: url.pathname,
        query: url.search,
        time: new Date(started).toISOString(),
        status: reply.status,
        durationMs: Date.now() - started,
        ...describeAppWrite(raw.method ?? 'GET', url.pathname, body),
      });
      if (reply.streaming) return;
      reply.headers = { 'X-Marathon-Leader': `http://${leader}`, ...reply.headers };
      send(res, reply);
    })();
  });

  engine.start();
  const loadBalancer =
    mode === 'containers' && opts.loadBalancer !== false
      ? new LoadBalancerStandIn(() => groupApps(store, engine), log)
      : undefined;
  loadBalancer?.start();
  const url = `http://${host}:${port}`;
  log.info('Marathon emulator (development stand-in for Marathon) listening', {
    url,
    mode,
    stateFile: opts.stateFile ?? '(in memory)',
  });
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    mode,
    requests: () => requests,
    loadBalancer,
    close: () =>
      (closing ??= (async () => {
        events.closeAll();
        await loadBalancer?.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await engine.stop();
      })()),
  };
}

/** The apps as marathon-lb reads them from Marathon: labels, instances, tasks with their health. */
function groupApps(store: AppStore, engine: Engine): GroupApp[] {
  return store.all().map((app) => ({
    id: app.id,
    instances: Number(app.def.instances ?? 1),
    labels: Object.fromEntries(
      Object.entries((app.def.labels ?? {}) as Record<string, unknown>).filter(([, v]) => typeof v === 'string'),
    ) as Record<string, string>,
    hasHealthChecks: ((app.def.healthChecks ?? []) as unknown[]).length > 0,
    tasks: engine.tasksOf(app.id).map((t) => ({
      id: t.id,
      state: t.state,
      host: t.host,
      port: t.ports[0] ?? null,
      healthy: engine.isHealthy(t),
    })),
  }));
}
