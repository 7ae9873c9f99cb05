// The deployment engine: tasks, health checks, backoff and deployments, driven by one reconcile
// tick, so every rule is a pure look at the current state (docs/docs/deployments.md,
// health-checks.md, backoff.md):
// - rolling replacement under upgradeStrategy: at least ceil(instances x minimumHealthCapacity)
//   healthy tasks at all times, at most instances x (1 + maximumOverCapacity) tasks; old tasks are
//   killed only as new ones turn healthy (not merely running);
// - a deployment is done when `instances` tasks of the new run are healthy and the old are gone;
//   one whose new tasks never get healthy never finishes, exactly as Marathon: unhealthy tasks are
//   killed after maxConsecutiveFailures and relaunched under a growing backoff, old tasks keep serving;
// - with a readiness check, a new task counts for a deployment only once it is healthy and ready:
//   old tasks are killed only then, and the deployment ends when every new task is ready (the
//   check runs only during deployments, until it passes once, as ReadinessBehavior does);
// - health check failures inside gracePeriodSeconds are ignored until the task was healthy once;
// - without a deployment the app is kept at `instances` tasks (dead tasks are replaced).
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../common/log';
import { demandOf, matchAgent, type AgentSpec, type NoMatchReason, type Placed } from './agents';
import { newQueueState, queueEntryJson, recordOffers, type QueueState } from './launch-queue';
import { networkMode, portNamesOf, type AppDef } from './app-spec';
import type { EventBus } from './events';
import type { Faults } from './faults';
import type { HealthCheckDef, TaskRef, TaskRunner } from './runner';
import type { AppStore } from './store';

export type TaskState = 'TASK_STAGING' | 'TASK_RUNNING' | 'TASK_KILLING' | 'TASK_UNREACHABLE';

interface HealthState {
  alive: boolean | null;
  consecutiveFailures: number;
  firstSuccess: string | null;
  lastSuccess: string | null;
  lastFailure: string | null;
  lastFailureCause: string | null;
  nextCheckAt: number;
  checking: boolean;
}

interface ReadinessState {
  name: string;
  ready: boolean;
  lastResponse: { status: number | null; cause: string | null } | null;
  nextCheckAt: number;
  checking: boolean;
}

export interface Task extends TaskRef {
  /** The definition the task was launched with: its env, labels and health checks stay those of its version. */
  def: AppDef;
  runKey: string;
  state: TaskState;
  stagedAt: number;
  health: HealthState[];
  /** Null without a readiness check. */
  readiness: ReadinessState | null;
  /** The agent the task was placed on, and what it holds there until it is gone. */
  agentId: string;
  reserved: Omit<Placed, 'agentId' | 'appId'>;
  everHealthy: boolean;
  nextStatusAt: number;
  /** When the task's agent stopped answering (TASK_UNREACHABLE). */
  unreachableSince?: number;
}

interface AppRuntime {
  tasks: Task[];
  delayMs: number;
  nextLaunchAt: number;
  lastTaskFailure?: Record<string, unknown>;
  queue: QueueState | null;
}

export type DeploymentKind = 'start' | 'upgrade' | 'scale' | 'restart' | 'stop';

export interface Deployment {
  id: string;
  version: string;
  appId: string;
  kind: DeploymentKind;
  /** The definition before this deployment (null when it created the app): what a revert restores. */
  original: AppDef | null;
  steps: { actions: { action: string; app: string }[] }[];
  currentStep: number;
}

export interface EngineOptions {
  /** Multiplies every duration taken from app definitions (grace, interval, backoff): <1 speeds tests up. */
  timeScale: number;
  tickMs: number;
  faults: () => Faults;
  log: Logger;
  agents: AgentSpec[];
}

const stepsFor: Record<DeploymentKind, string[]> = {
  start: ['StartApplication', 'ScaleApplication'],
  upgrade: ['RestartApplication'],
  scale: ['ScaleApplication'],
  restart: ['RestartApplication'],
  stop: ['StopApplication'],
};

/** COMMAND and MESOS_* checks run on the agent (Mesos checks), the others on the Marathon leader. */
const onAgent = (protocol: string) => protocol === 'COMMAND' || protocol.startsWith('MESOS_');

function healthChecksOf(def: AppDef): (HealthCheckDef & {
  gracePeriodSeconds: number;
  intervalSeconds: number;
  maxConsecutiveFailures: number;
  delaySeconds: number;
})[] {
  return ((def.healthChecks ?? []) as Record<string, unknown>[]).map((hc) => {
    const protocol = String(hc.protocol ?? 'HTTP');
    const command = hc.command as { value?: unknown } | undefined;
    return {
      protocol,
      path: String(hc.path ?? '/'),
      portIndex: typeof hc.portIndex === 'number' ? hc.portIndex : 0,
      port: typeof hc.port === 'number' ? hc.port : undefined,
      timeoutSeconds: Number(hc.timeoutSeconds ?? 20),
      gracePeriodSeconds: Number(hc.gracePeriodSeconds ?? 300),
      intervalSeconds: Number(hc.intervalSeconds ?? 60),
      // Mesos checks: 0 kills on the first failure; Marathon checks: 0 never kills.
      maxConsecutiveFailures: Number(hc.maxConsecutiveFailures ?? 3) || (onAgent(protocol) ? 1 : 0),
      // Mesos checks start after delaySeconds (default 15); Marathon's at once.
      delaySeconds: onAgent(protocol) ? Number(hc.delaySeconds ?? 15) : 0,
      ...(typeof command?.value === 'string' ? { command: command.value } : {}),
    };
  });
}

/** Tasks that count as instances: not being killed, not unreachable past inactiveAfterSeconds. */
function isActive(task: Task, def: AppDef, now: number, scaled: (s: number) => number): boolean {
  if (task.state === 'TASK_KILLING') return false;
  if (task.state !== 'TASK_UNREACHABLE') return true;
  const strategy = (def.unreachableStrategy ?? {}) as { inactiveAfterSeconds?: number };
  return now - (task.unreachableSince ?? now) < scaled(Number(strategy.inactiveAfterSeconds ?? 0));
}

function readinessCheckOf(def: AppDef): (HealthCheckDef & { name: string; intervalSeconds: number }) | null {
  const rc = ((def.readinessChecks ?? []) as Record<string, unknown>[])[0];
  if (!rc) return null;
  return {
    name: String(rc.name ?? 'readinessCheck'),
    protocol: String(rc.protocol ?? 'HTTP'),
    path: String(rc.path ?? '/'),
    portIndex: Math.max(0, portNamesOf(def).indexOf(String(rc.portName))),
    timeoutSeconds: Number(rc.timeoutSeconds ?? 10),
    intervalSeconds: Number(rc.intervalSeconds ?? 30),
    okStatuses: Array.isArray(rc.httpStatusCodesForReady) ? rc.httpStatusCodesForReady.map(Number) : [200],
  };
}

export class Engine {
  private readonly runtimes = new Map<string, AppRuntime>();
  private readonly deployments = new Map<string, Deployment>();
  private timer?: NodeJS.Timeout;
  private ticking = false;

  constructor(
    private readonly store: AppStore,
    private readonly runner: TaskRunner,
    private readonly events: EventBus,
    private readonly opts: EngineOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.opts.tickMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.runner.close();
  }

  private scaled(seconds: number): number {
    return seconds * 1000 * this.opts.timeScale;
  }

  runtime(appId: string): AppRuntime {
    let rt = this.runtimes.get(appId);
    if (!rt) {
      rt = { tasks: [], delayMs: 0, nextLaunchAt: 0, queue: null };
      this.runtimes.set(appId, rt);
    }
    return rt;
  }

  tasksOf(appId: string): Task[] {
    return this.runtimes.get(appId)?.tasks ?? [];
  }

  lastTaskFailure(appId: string): Record<string, unknown> | undefined {
    return this.runtimes.get(appId)?.lastTaskFailure;
  }

  isHealthy(task: Task): boolean {
    if (task.state !== 'TASK_RUNNING') return false;
    const checks = (task.def.healthChecks as unknown[] | undefined)?.length ?? 0;
    return checks === 0 || (task.health.length >= checks && task.health.every((h) => h.alive === true));
  }

  /** A task counts for a deployment once ready (always, without a readiness check). */
  isReady(task: Task): boolean {
    return task.readiness === null || task.readiness.ready;
  }

  /** The readiness results of an app's running deployment (GET /v2/deployments, embed=app.readiness). */
  readinessResults(appId: string): Record<string, unknown>[] {
    const runKey = this.store.get(appId)?.runKey;
    if (!this.deploymentList().some((d) => d.appId === appId)) return [];
    // Only the tasks this deployment launched are checked.
    return this.tasksOf(appId).flatMap((t) =>
      t.readiness && t.state === 'TASK_RUNNING' && t.runKey === runKey
        ? [
            {
              name: t.readiness.name,
              taskId: t.id,
              ready: t.readiness.ready,
              lastResponse: t.readiness.lastResponse,
            },
          ]
        : [],
    );
  }

  deploymentList(): Deployment[] {
    return [...this.deployments.values()];
  }

  deployment(id: string): Deployment | undefined {
    return this.deployments.get(id);
  }

  locksOf(appId: string): string[] {
    return this.deploymentList()
      .filter((d) => d.appId === appId)
      .map((d) => d.id);
  }

  /** Starts a deployment of the app's current definition (already stored); a new run resets the launch backoff. */
  deploy(appId: string, kind: DeploymentKind, original: AppDef | null, version: string): Deployment {
    const dep: Deployment = {
      id: randomUUID(),
      version,
      appId,
      kind,
      original,
      steps: stepsFor[kind].map((action) => ({ actions: [{ action, app: appId }] })),
      currentStep: 1,
    };
    this.deployments.set(dep.id, dep);
    const rt = this.runtime(appId);
    const def = this.store.get(appId)?.def;
    rt.delayMs = this.scaled(Number(def?.backoffSeconds ?? 1));
    rt.nextLaunchAt = 0;
    this.events.emit('deployment_info', { plan: this.planJson(dep), currentStep: this.stepJson(dep) });
    return dep;
  }

  /** Removes a deployment without touching tasks (force cancel, or superseded by a forced change). */
  cancel(id: string, reason: string): void {
    const dep = this.deployments.get(id);
    if (!dep) return;
    this.deployments.delete(id);
    this.events.emit('deployment_failed', { id, plan: this.planJson(dep), reason });
  }

  planJson(dep: Deployment): Record<string, unknown> {
    return { id: dep.id, version: dep.version, steps: dep.steps, original: { id: '/' }, target: { id: '/' } };
  }

  private stepJson(dep: Deployment): Record<string, unknown> {
    return dep.steps[dep.currentStep - 1] ?? { actions: [] };
  }

  /** GET /v2/deployments entry (raml/v2/types/deployment.raml). */
  deploymentJson(dep: Deployment): Record<string, unknown> {
    const step = dep.steps[dep.currentStep - 1];
    return {
      id: dep.id,
      version: dep.version,
      affectedApps: [dep.appId],
      affectedPods: [],
      steps: dep.steps,
      currentActions: (step?.actions ?? []).map((a) => ({
        ...a,
        readinessCheckResults: this.readinessResults(dep.appId),
      })),
      currentStep: dep.currentStep,
      totalSteps: dep.steps.length,
    };
  }

  /** Kills these tasks of an app (POST /v2/tasks/delete); returns the ids it found there. */
  killTasks(appId: string, taskIds: string[]): string[] {
    const rt = this.runtimes.get(appId);
    const victims = (rt?.tasks ?? []).filter((t) => taskIds.includes(t.id) && t.state !== 'TASK_KILLING');
    for (const t of victims) this.kill(rt!, t, 'killed through /v2/tasks/delete');
    return victims.map((t) => t.id);
  }

  /** Kills every task of an app at once (app deleted with no deployment machinery left, reset). */
  killAll(appId: string): void {
    const rt = this.runtimes.get(appId);
    if (!rt) return;
    for (const t of [...rt.tasks]) this.kill(rt, t, 'app removed');
  }

  private tick(): void {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const now = Date.now();
      for (const app of this.store.all()) this.reconcile(app.id, app.def, app.runKey, now);
      // Deployments of apps already gone (a stop finished) end with them.
      for (const dep of this.deploymentList()) if (!this.store.get(dep.appId)) this.finish(dep);
    } catch (err) {
      this.opts.log.error('reconcile failed', { error: err });
    } finally {
      this.ticking = false;
    }
  }

  private reconcile(appId: string, def: AppDef, runKey: string, now: number): void {
    const rt = this.runtime(appId);
    this.expungeUnreachable(rt, def, now);
    this.watchTasks(rt, def, now);
    const dep = this.deploymentList().find((d) => d.appId === appId);
    if (dep) this.checkReadiness(rt, now);
    if (dep?.kind === 'stop') {
      for (const t of rt.tasks) if (t.state !== 'TASK_KILLING') this.kill(rt, t, 'app stopped');
      if (rt.tasks.length === 0) {
        this.store.delete(appId);
        this.runtimes.delete(appId);
        this.finish(dep);
        this.events.emit('app_terminated_event', { appId });
      }
      return;
    }
    if (dep) this.rollingStep(rt, def, runKey, dep, now);
    else this.keepInstances(rt, def, runKey, now);
  }

  /** Task liveness (containers exit) and health checks; results arrive asynchronously. */
  private watchTasks(rt: AppRuntime, def: AppDef, now: number): void {
    for (const task of rt.tasks) {
      if (task.state !== 'TASK_RUNNING') continue;
      const checks = healthChecksOf(task.def);
      if (this.runner.mode === 'containers' && now >= task.nextStatusAt) {
        task.nextStatusAt = now + 1000;
        void this.runner.status(task).then((s) => {
          if (s.running || task.state !== 'TASK_RUNNING') return;
          this.remove(rt, task, s.state);
          this.recordFailure(rt, def, task, s.state, s.message);
        });
      }
      checks.forEach((check, i) => {
        const h = task.health[i];
        if (!h || h.checking || now < h.nextCheckAt) return;
        h.checking = true;
        const timeoutMs = Math.max(200, this.scaled(check.timeoutSeconds));
        void this.runner
          .probe(task, task.def, check, timeoutMs)
          .catch((err: unknown) => ({ ok: false, cause: (err as Error).message }))
          .then((result) => {
            h.checking = false;
            h.nextCheckAt = Date.now() + Math.max(50, this.scaled(check.intervalSeconds));
            if (task.state !== 'TASK_RUNNING') return;
            this.recordHealth(rt, def, task, h, check, result.ok, result.cause);
          });
      });
    }
  }

  /** Readiness probes of the tasks still not ready, each at its check's interval. */
  private checkReadiness(rt: AppRuntime, now: number): void {
    for (const task of rt.tasks) {
      const r = task.readiness;
      const check = readinessCheckOf(task.def);
      if (task.state !== 'TASK_RUNNING' || !r || !check || r.ready || r.checking || now < r.nextCheckAt) continue;
      r.checking = true;
      void this.runner
        .probe(task, task.def, check, Math.max(200, this.scaled(check.timeoutSeconds)))
        .catch((err: unknown) => ({ ok: false, cause: (err as Error).message }))
        .then((result) => {
          r.checking = false;
          r.nextCheckAt = Date.now() + Math.max(50, this.scaled(check.intervalSeconds));
          r.ready = result.ok;
          r.lastResponse = { status: result.ok ? (check.okStatuses?.[0] ?? 200) : null, cause: result.cause ?? null };
        });
    }
  }

  private recordHealth(
    rt: AppRuntime,
    def: AppDef,
    task: Task,
    h: HealthState,
    check: ReturnType<typeof healthChecksOf>[number],
    ok: boolean,
    cause?: string,
  ): void {
    const stamp = new Date().toISOString();
    const before = h.alive;
    if (ok) {
      Object.assign(h, { alive: true, consecutiveFailures: 0, lastSuccess: stamp });
      h.firstSuccess ??= stamp;
      task.everHealthy = true;
    } else {
      const inGrace = !task.everHealthy && Date.now() - task.startedAt < this.scaled(check.gracePeriodSeconds);
      if (inGrace) return;
      Object.assign(h, {
        alive: false,
        consecutiveFailures: h.consecutiveFailures + 1,
        lastFailure: stamp,
        lastFailureCause: cause ?? 'failed',
      });
      this.events.emit('failed_health_check_event', {
        appId: task.appId,
        taskId: task.id,
        instanceId: task.id,
        version: task.version,
        healthCheck: check,
      });
    }
    if (before !== h.alive) {
      this.events.emit('health_status_changed_event', {
        appId: task.appId,
        taskId: task.id,
        instanceId: task.id,
        version: task.version,
        alive: h.alive,
      });
      this.events.emit('instance_health_changed_event', {
        instanceId: task.id,
        runSpecId: task.appId,
        runSpecVersion: task.version,
        healthy: h.alive,
      });
    }
    if (!ok && check.maxConsecutiveFailures > 0 && h.consecutiveFailures >= check.maxConsecutiveFailures) {
      // Marathon 1.4 and later (1.10 too) name it per instance; unhealthy_task_kill_event is older.
      this.events.emit('unhealthy_instance_kill_event', {
        appId: task.appId,
        taskId: task.id,
        instanceId: task.id,
        version: task.version,
        reason: cause,
        host: task.host,
      });
      this.recordFailure(rt, def, task, 'TASK_KILLED', `killed: unhealthy (${cause ?? 'health check failed'})`);
      this.kill(rt, task, 'unhealthy');
    }
  }

  private recordFailure(rt: AppRuntime, def: AppDef, task: Task, state: string, message: string): void {
    rt.lastTaskFailure = {
      appId: task.appId,
      host: task.host,
      message,
      state,
      taskId: task.id,
      timestamp: new Date().toISOString(),
      version: task.version,
      slaveId: task.agentId,
    };
    // Backoff: the next launch waits, and each failure grows the wait (backoffFactor), capped.
    if (rt.delayMs <= 0) rt.delayMs = this.scaled(Number(def.backoffSeconds ?? 1));
    rt.nextLaunchAt = Date.now() + rt.delayMs;
    rt.delayMs = Math.min(
      rt.delayMs * Number(def.backoffFactor ?? 1.15),
      this.scaled(Number(def.maxLaunchDelaySeconds ?? 300)),
    );
    this.opts.log.debug('task failed', {
      appId: task.appId,
      taskId: task.id,
      state,
      message,
      nextLaunchInMs: rt.nextLaunchAt - Date.now(),
    });
  }

  private rollingStep(rt: AppRuntime, def: AppDef, runKey: string, dep: Deployment, now: number): void {
    // A start's first step (StartApplication) has nothing to wait for.
    if (dep.kind === 'start' && dep.currentStep === 1) {
      this.events.emit('deployment_step_success', { plan: this.planJson(dep), currentStep: this.stepJson(dep) });
      dep.currentStep = 2;
    }
    const n = Number(def.instances ?? 1);
    const strategy = (def.upgradeStrategy ?? {}) as { minimumHealthCapacity?: number; maximumOverCapacity?: number };
    const minHealthy = Math.ceil(n * (strategy.minimumHealthCapacity ?? 1) - 1e-9);
    const maxCapacity = Math.max(n, Math.floor(n * (1 + (strategy.maximumOverCapacity ?? 1)) + 1e-9));

    const alive = rt.tasks.filter((t) => isActive(t, def, now, (x) => this.scaled(x)));
    const fresh = alive.filter((t) => t.runKey === runKey);
    const old = alive.filter((t) => t.runKey !== runKey);
    const freshHealthy = fresh.filter((t) => this.isHealthy(t) && this.isReady(t)).length;
    // Old tasks stay only while they are needed to hold minimumHealthCapacity.
    const oldHealthy = old.filter((t) => this.isHealthy(t)).sort((a, b) => a.stagedAt - b.stagedAt);
    const keep = oldHealthy.slice(0, Math.max(0, Math.min(oldHealthy.length, minHealthy - freshHealthy)));
    for (const t of old) if (!keep.includes(t)) this.kill(rt, t, 'replaced by a newer version');
    let remainingOld = keep.length;

    if (fresh.length > n) {
      const extras = [...fresh].sort(
        (a, b) => Number(this.isHealthy(a)) - Number(this.isHealthy(b)) || b.stagedAt - a.stagedAt,
      );
      for (const t of extras.slice(0, fresh.length - n)) this.kill(rt, t, 'scaled down');
    }
    const need = n - Math.min(fresh.length, n);
    let room = maxCapacity - remainingOld - Math.min(fresh.length, n);
    if (need > 0 && room <= 0 && fresh.length === 0 && remainingOld > 0) {
      // minimumHealthCapacity 1 with maximumOverCapacity 0 leaves no room: Marathon kills one old task to make progress.
      const victim = keep.pop();
      if (victim) this.kill(rt, victim, 'making room for the new version');
      remainingOld--;
      room++;
    }
    this.launchUpTo(rt, def, runKey, need > 0 && room > 0 ? Math.min(need, room) : 0, now);

    const done =
      fresh.length === n &&
      freshHealthy === n &&
      remainingOld === 0 &&
      rt.tasks.every((t) => t.state !== 'TASK_KILLING');
    if (done && !this.opts.faults().stuckDeployments) this.finish(dep);
  }

  private keepInstances(rt: AppRuntime, def: AppDef, runKey: string, now: number): void {
    const n = Number(def.instances ?? 1);
    const alive = rt.tasks.filter((t) => isActive(t, def, now, (x) => this.scaled(x)));
    this.launchUpTo(rt, def, runKey, Math.max(0, n - alive.length), now);
    if (alive.length > n)
      for (const t of [...alive].sort((a, b) => b.stagedAt - a.stagedAt).slice(0, alive.length - n))
        this.kill(rt, t, 'scaled down');
  }

  private finish(dep: Deployment): void {
    if (!this.deployments.delete(dep.id)) return;
    this.events.emit('deployment_step_success', { plan: this.planJson(dep), currentStep: this.stepJson(dep) });
    this.events.emit('deployment_success', { id: dep.id, plan: this.planJson(dep) });
  }

  private statusEvent(task: Task, taskStatus: string, message = ''): void {
    // 1.4+ (to 1.10): every change of an instance is also an instance_changed_event with its condition.
    this.events.emit('instance_changed_event', {
      instanceId: task.id,
      condition: taskStatus
        .replace(/^TASK_/, '')
        .toLowerCase()
        .replace(/^./, (c) => c.toUpperCase()),
      runSpecId: task.appId,
      agentId: task.agentId,
      host: task.host,
      runSpecVersion: task.version,
    });
    this.events.emit('status_update_event', {
      slaveId: task.agentId,
      taskId: task.id,
      taskStatus,
      message,
      appId: task.appId,
      host: task.host,
      ports: task.ports,
      version: task.version,
    });
  }

  /**
   * Launches up to `count` tasks where agents have room, after the backoff delay; what cannot be
   * launched stays in the app's launch queue with the reasons the offers were declined.
   */
  private launchUpTo(rt: AppRuntime, def: AppDef, runKey: string, count: number, now: number): void {
    if (count <= 0) {
      rt.queue = null;
      return;
    }
    rt.queue ??= newQueueState(count, now);
    const queue = rt.queue;
    queue.count = count;
    if (now < rt.nextLaunchAt) return;
    for (let i = 0; i < count; i++) {
      const placed = this.launch(rt, def, runKey);
      recordOffers(queue, this.opts.agents.length, placed, now);
      if (placed !== true) break;
    }
    if (queue.count === 0) rt.queue = null;
  }

  /** Every task that holds resources on an agent (until it is gone, as Mesos frees them). */
  private placedTasks(): Placed[] {
    return [...this.runtimes.values()].flatMap((rt) =>
      rt.tasks
        .filter((t) => t.state !== 'TASK_UNREACHABLE')
        .map((t) => ({ agentId: t.agentId, appId: t.appId, ...t.reserved })),
    );
  }

  /** GET /v2/queue entries (QueueInfoConversion.scala). */
  queueEntries(now = Date.now()): { appId: string; entry: Record<string, unknown> }[] {
    return [...this.runtimes.entries()].flatMap(([appId, rt]) =>
      rt.queue ? [{ appId, entry: queueEntryJson(rt.queue, rt.nextLaunchAt, now) }] : [],
    );
  }

  /** Places and starts one task; the agents' reasons when none can take it. */
  private launch(rt: AppRuntime, def: AppDef, runKey: string): true | { agent: AgentSpec; reasons: NoMatchReason[] }[] {
    const appId = String(def.id);
    const demand = demandOf(def, networkMode(def) === 'host');
    const match = matchAgent(this.opts.agents, this.placedTasks(), appId, demand);
    if ('reasons' in match) return match.reasons;
    const task: Task = {
      id: `${appId.slice(1).replace(/\//g, '_')}.${randomUUID()}`,
      appId,
      version: String(def.version),
      def,
      runKey,
      state: 'TASK_STAGING',
      stagedAt: Date.now(),
      startedAt: 0,
      host: '',
      ports: [],
      handle: '',
      health: [],
      readiness: null,
      agentId: match.agent.id,
      reserved: { cpus: demand.cpus, mem: demand.mem, disk: demand.disk, ports: match.ports },
      everHealthy: false,
      nextStatusAt: 0,
    };
    rt.tasks.push(task);
    this.statusEvent(task, 'TASK_STAGING');
    this.runner.launch(def, { ...task, agentHost: match.agent.hostname, hostPorts: match.ports }).then(
      (launched) => {
        Object.assign(task, launched);
        if (task.state === 'TASK_KILLING') {
          // Killed while it was starting: finish the kill now that there is something to kill.
          void this.runner.kill(task, 0).finally(() => this.remove(rt, task, 'TASK_KILLED'));
          return;
        }
        task.state = 'TASK_RUNNING';
        task.startedAt = Date.now();
        task.nextStatusAt = task.startedAt + 1000;
        task.health = healthChecksOf(def).map(() => ({
          alive: null,
          consecutiveFailures: 0,
          firstSuccess: null,
          lastSuccess: null,
          lastFailure: null,
          lastFailureCause: null,
          nextCheckAt: task.startedAt,
          checking: false,
        }));
        healthChecksOf(def).forEach((c, i) => (task.health[i]!.nextCheckAt += this.scaled(c.delaySeconds)));
        const readiness = readinessCheckOf(def);
        task.readiness = readiness
          ? { name: readiness.name, ready: false, lastResponse: null, nextCheckAt: task.startedAt, checking: false }
          : null;
        this.statusEvent(task, 'TASK_RUNNING');
      },
      (err: unknown) => {
        this.remove(rt, task, 'TASK_FAILED', (err as Error).message);
        this.recordFailure(rt, def, task, 'TASK_FAILED', `Failed to launch container: ${(err as Error).message}`);
        this.opts.log.warn('task launch failed', { appId, error: (err as Error).message });
      },
    );
    return true;
  }

  private kill(rt: AppRuntime, task: Task, reason: string): void {
    if (task.state === 'TASK_KILLING') return;
    const staging = task.state === 'TASK_STAGING';
    task.state = 'TASK_KILLING';
    this.statusEvent(task, 'TASK_KILLING', reason);
    if (staging) return; // the launch completion finishes the kill
    const def = this.store.get(task.appId)?.def;
    const grace = Number(def?.taskKillGracePeriodSeconds ?? 3);
    void this.runner.kill(task, grace).finally(() => this.remove(rt, task, 'TASK_KILLED', reason));
  }

  private remove(rt: AppRuntime, task: Task, state: string, message = ''): void {
    const i = rt.tasks.indexOf(task);
    if (i >= 0) rt.tasks.splice(i, 1);
    this.statusEvent(task, state, message);
  }

  /**
   * Fault injection (POST /_emulator/tasks/lose): up to `count` running tasks of the app become
   * TASK_LOST (gone at once, replaced) or TASK_UNREACHABLE (their agent stopped answering: listed
   * with that state, replaced after unreachableStrategy.inactiveAfterSeconds, expunged after
   * expungeAfterSeconds; both default 0). Returns the task ids.
   */
  loseTasks(appId: string, state: 'TASK_LOST' | 'TASK_UNREACHABLE', count = 1): string[] {
    const rt = this.runtimes.get(appId);
    const victims = (rt?.tasks ?? []).filter((t) => t.state === 'TASK_RUNNING').slice(0, count);
    for (const task of victims) {
      if (state === 'TASK_LOST') {
        void this.runner.kill(task, 0);
        this.remove(rt!, task, 'TASK_LOST', 'Agent lost');
        rt!.lastTaskFailure = {
          appId,
          host: task.host,
          message: 'Agent lost',
          state: 'TASK_LOST',
          taskId: task.id,
          timestamp: new Date().toISOString(),
          version: task.version,
          slaveId: task.agentId,
        };
      } else {
        task.state = 'TASK_UNREACHABLE';
        task.unreachableSince = Date.now();
        task.health = [];
        this.statusEvent(task, 'TASK_UNREACHABLE', 'Agent unreachable');
      }
    }
    return victims.map((t) => t.id);
  }

  /**
   * Fault injection (POST /_emulator/leader-change): a new Marathon leader knows no health
   * results; every task's health is unknown until its checks have run again (at least `unknownForMs`).
   */
  changeLeader(unknownForMs: number): void {
    const until = Date.now() + unknownForMs;
    for (const rt of this.runtimes.values())
      for (const t of rt.tasks)
        for (const h of t.health)
          Object.assign(h, { alive: null, consecutiveFailures: 0, nextCheckAt: Math.max(h.nextCheckAt, until) });
  }

  private expungeUnreachable(rt: AppRuntime, def: AppDef, now: number): void {
    const strategy = (def.unreachableStrategy ?? {}) as { expungeAfterSeconds?: number };
    const after = this.scaled(Number(strategy.expungeAfterSeconds ?? 0));
    for (const t of [...rt.tasks])
      if (t.state === 'TASK_UNREACHABLE' && now - (t.unreachableSince ?? now) >= after) {
        void this.runner.kill(t, 0);
        this.remove(rt, t, 'TASK_GONE_BY_OPERATOR', 'expunged: unreachable');
      }
  }

  /** Forgets everything (POST /_emulator/reset): kills all tasks, drops deployments. */
  async reset(): Promise<void> {
    for (const dep of this.deploymentList()) this.deployments.delete(dep.id);
    const kills: Promise<void>[] = [];
    for (const rt of this.runtimes.values())
      for (const t of rt.tasks) kills.push(this.runner.kill(t, 0).catch(() => undefined));
    this.runtimes.clear();
    await Promise.all(kills);
  }
}
