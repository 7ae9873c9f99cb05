// What the deployment engine needs from "a Mesos agent": start a task of an app, kill it, tell
// whether it still runs, and answer its health checks. Two implementations: real containers
// (runner-containers.ts) and simulated tasks (runner-simulated.ts) for fast tests and benchmarks.
import type { AppDef } from './app-spec';

export interface LaunchedTask {
  host: string;
  /** Host ports in the order of the app's port mappings / port definitions (Marathon's `tasks[].ports`). */
  ports: number[];
  /** Runner-private handle (container id, ...). */
  handle: string;
  /** Ports as seen inside the task's network (bridge: the container ports), for checks run on the agent. */
  innerPorts?: number[];
}

export type TaskStatus =
  { running: true } | { running: false; state: 'TASK_FAILED' | 'TASK_FINISHED' | 'TASK_LOST'; message: string };

export interface TaskRef {
  id: string;
  appId: string;
  version: string;
  startedAt: number;
  host: string;
  ports: number[];
  handle: string;
  innerPorts?: number[];
}

export interface HealthCheckDef {
  protocol: string;
  path: string;
  portIndex: number;
  port?: number;
  timeoutSeconds: number;
  /** Readiness checks: the HTTP statuses that pass (health checks pass on 200-399). */
  okStatuses?: number[];
  /** COMMAND checks: the shell command run in the task's container. */
  command?: string;
}

export interface ProbeResult {
  ok: boolean;
  cause?: string;
}

/** A task to start: which app and version, and where the engine placed it. */
export interface TaskToLaunch {
  id: string;
  appId: string;
  version: string;
  /** Hostname of the emulated agent. */
  agentHost: string;
  /** Host ports the agent reserved for it, one per port mapping / definition. */
  hostPorts: number[];
}

export interface TaskRunner {
  readonly mode: 'containers' | 'simulated';
  launch(app: AppDef, task: TaskToLaunch): Promise<LaunchedTask>;
  kill(task: TaskRef, gracePeriodSeconds: number): Promise<void>;
  status(task: TaskRef): Promise<TaskStatus>;
  probe(task: TaskRef, app: AppDef, check: HealthCheckDef, timeoutMs: number): Promise<ProbeResult>;
  /** Stops everything this runner started. */
  close(): Promise<void>;
}
