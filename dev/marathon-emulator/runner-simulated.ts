// Simulated tasks: nothing runs. A task is "running" once launched and passes its health checks
// after a configurable delay, unless its app asks to stay unhealthy with the env variable or label
// SLIPWAY_SIMULATE_UNHEALTHY=1; its readiness check passes with its health checks unless
// SLIPWAY_SIMULATE_NOT_READY=1. Fast enough for client tests and the scale benchmark.
import type { AppDef } from './app-spec';
import type {
  HealthCheckDef,
  LaunchedTask,
  ProbeResult,
  TaskRef,
  TaskRunner,
  TaskStatus,
  TaskToLaunch,
} from './runner';

export interface SimulatedOptions {
  /** A task passes health checks this long after it started. */
  healthyAfterMs: number;
  /** Time from launch to TASK_RUNNING. */
  launchMs: number;
}

const unhealthyFlag = 'SLIPWAY_SIMULATE_UNHEALTHY';
const notReadyFlag = 'SLIPWAY_SIMULATE_NOT_READY';

function flagged(app: AppDef, flag: string): boolean {
  const env = (app.env ?? {}) as Record<string, unknown>;
  const labels = (app.labels ?? {}) as Record<string, unknown>;
  return env[flag] === '1' || env[flag] === 'true' || labels[flag] === '1' || labels[flag] === 'true';
}

export class SimulatedRunner implements TaskRunner {
  readonly mode = 'simulated' as const;
  constructor(private readonly opts: SimulatedOptions) {}

  /** The task "runs" on the agent the engine chose, on the host ports it reserved there. */
  async launch(_app: AppDef, task: TaskToLaunch): Promise<LaunchedTask> {
    await new Promise((r) => setTimeout(r, this.opts.launchMs));
    return { host: task.agentHost, ports: task.hostPorts, handle: 'simulated' };
  }

  async kill(): Promise<void> {}

  async status(): Promise<TaskStatus> {
    return { running: true };
  }

  async probe(task: TaskRef, app: AppDef, check: HealthCheckDef): Promise<ProbeResult> {
    if (check.okStatuses && flagged(app, notReadyFlag))
      return { ok: false, cause: `simulated not ready (${notReadyFlag}=1)` };
    if (!check.okStatuses && flagged(app, unhealthyFlag))
      return { ok: false, cause: `simulated unhealthy (${unhealthyFlag}=1)` };
    if (Date.now() - task.startedAt < this.opts.healthyAfterMs)
      return { ok: false, cause: 'simulated: still starting' };
    return { ok: true };
  }

  async close(): Promise<void> {}
}
