// Tasks as real containers (dockerode; DOCKER_HOST honoured as dockerode reads it). Bridge
// networking publishes each container port on a random host port of 127.0.0.1 (as
// `-p 127.0.0.1::PORT`); host networking gets free host ports passed as PORT0.. / PORT / PORTS, the
// way Marathon hands them to a task. App env and labels are passed through; every container
// also carries `slipway.emulator=<instance>` labels so the emulator (or a person) can find and
// remove what it started: on kill, on app delete, when the emulator closes, and at the next
// start on the same port after a crash.
// Health checks run where Marathon runs them (docs/docs/health-checks.md): HTTP, HTTPS and TCP from
// "the leader" (this process) against the task's host port; COMMAND in the task's container
// (`docker exec`, exit 0 passes); MESOS_HTTP(S) and MESOS_TCP on "the agent", inside the task's
// network namespace against 127.0.0.1 and the container port, from a short-lived busybox
// container joined to it (`--network container:<task>`), as the Mesos executor does
// (MESOS_HTTPS is not supported: the probe has no TLS).
import type Docker from 'dockerode';
import { freePort } from '../process';
import { networkMode, type AppDef } from './app-spec';
import { httpProbe, tcpProbe } from './health';
import type {
  HealthCheckDef,
  LaunchedTask,
  ProbeResult,
  TaskRef,
  TaskRunner,
  TaskStatus,
  TaskToLaunch,
} from './runner';

export const emulatorLabel = 'slipway.emulator';
export const emulatorPortLabel = 'slipway.emulator.port';

interface Mapping {
  containerPort: number;
  hostPort: number;
  protocol: string;
  name?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class ContainerRunner implements TaskRunner {
  readonly mode = 'containers' as const;
  private readonly pulls = new Map<string, Promise<void>>();

  constructor(
    private readonly docker: Docker,
    /** Unique per emulator process: what close() removes. */
    private readonly instanceId: string,
    /** The emulator's port: a restarted emulator on the same port removes its predecessor's leftovers. */
    private readonly emulatorPort: number,
    /** An image with busybox at /bin/busybox (wget, nc) for MESOS_* checks. */
    private readonly probeImage = 'local/busybox:httpd',
  ) {}

  /** Removes containers a previous emulator on the same port left behind (it crashed or was killed). */
  async removeLeftovers(): Promise<number> {
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: [`${emulatorPortLabel}=${this.emulatorPort}`] },
    });
    await Promise.all(
      list.map((c) =>
        this.docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
    return list.length;
  }

  private async ensureImage(image: string, forcePull: boolean): Promise<void> {
    if (!forcePull) {
      const present = await this.docker
        .getImage(image)
        .inspect()
        .then(() => true)
        .catch(() => false);
      if (present) return;
    }
    let pull = this.pulls.get(image);
    if (!pull) {
      pull = (async () => {
        const stream = await this.docker.pull(image);
        await new Promise<void>((resolve, reject) =>
          this.docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve())),
        );
      })().finally(() => this.pulls.delete(image));
      this.pulls.set(image, pull);
    }
    await pull;
  }

  /**
   * Every emulated agent is this machine: the task runs here whatever agent the engine chose, and
   * Docker (or a free port) gives the dynamic host ports, not the agent's bookkeeping.
   */
  async launch(app: AppDef, task: TaskToLaunch): Promise<LaunchedTask> {
    const container = isObject(app.container) ? app.container : {};
    const docker = isObject(container.docker) ? container.docker : {};
    const image = String(docker.image ?? '');
    await this.ensureImage(image, docker.forcePullImage === true);

    const mode = networkMode(app);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(isObject(app.env) ? app.env : {})) if (typeof v === 'string') env[k] = v;
    Object.assign(env, {
      MARATHON_APP_ID: task.appId,
      MARATHON_APP_VERSION: task.version,
      MESOS_TASK_ID: task.id,
      HOST: '127.0.0.1',
    });

    let mappings: Mapping[] = [];
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    if (mode === 'host') {
      const defs = (Array.isArray(app.portDefinitions) ? app.portDefinitions : []) as Record<string, unknown>[];
      mappings = await Promise.all(
        defs.map(async (d) => {
          const port = app.requirePorts === true && typeof d.port === 'number' ? d.port : await freePort();
          return {
            containerPort: port,
            hostPort: port,
            protocol: String(d.protocol ?? 'tcp'),
            name: d.name as string | undefined,
          };
        }),
      );
    } else {
      const raw = (Array.isArray(container.portMappings) ? container.portMappings : []) as Record<string, unknown>[];
      mappings = await Promise.all(
        raw.map(async (m) => {
          const fixedHost = typeof m.hostPort === 'number' && m.hostPort > 0 ? m.hostPort : 0;
          // containerPort 0 means "the same as the host port": that needs a known port up front.
          const containerPort =
            typeof m.containerPort === 'number' && m.containerPort > 0
              ? m.containerPort
              : fixedHost || (await freePort());
          const hostPort = m.containerPort === 0 && !fixedHost ? containerPort : fixedHost;
          return {
            containerPort,
            hostPort,
            protocol: String(m.protocol ?? 'tcp').split(',')[0]!,
            name: m.name as string | undefined,
          };
        }),
      );
      for (const m of mappings) {
        const key = `${m.containerPort}/${m.protocol}`;
        exposed[key] = {};
        bindings[key] = [{ HostIp: '127.0.0.1', HostPort: m.hostPort ? String(m.hostPort) : '' }];
      }
    }

    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(isObject(app.labels) ? app.labels : {}))
      if (typeof v === 'string') labels[k] = v;
    Object.assign(labels, {
      [emulatorLabel]: this.instanceId,
      [emulatorPortLabel]: String(this.emulatorPort),
      'slipway.emulator.app': task.appId,
      'slipway.emulator.task': task.id,
    });
    const cmd =
      typeof app.cmd === 'string' && app.cmd !== ''
        ? ['/bin/sh', '-c', app.cmd]
        : Array.isArray(app.args)
          ? app.args.map(String)
          : undefined;
    const mem = typeof app.mem === 'number' && app.mem >= 6 ? Math.round(app.mem * 1024 * 1024) : undefined;

    const portEnv = (ports: number[]) => {
      const out: Record<string, string> = { PORTS: ports.join(',') };
      ports.forEach((p, i) => {
        out[`PORT${i}`] = String(p);
        const name = mappings[i]?.name;
        if (name) out[`PORT_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = String(p);
      });
      if (ports[0] !== undefined) out.PORT = String(ports[0]);
      return out;
    };
    // Host ports of bridge tasks are known only after start; Marathon knows them up front (it picks
    // them from the offer), so with random ports the container sees PORT0 = its container port.
    const knownPorts = mappings.map((m) => (mode === 'host' ? m.hostPort : m.hostPort || m.containerPort));

    const created = await this.docker.createContainer({
      name: `slipway-emu-${task.id}`.replace(/[^a-zA-Z0-9_.-]/g, '_'),
      Image: image,
      Cmd: cmd,
      Env: Object.entries({ ...env, ...portEnv(knownPorts) }).map(([k, v]) => `${k}=${v}`),
      Labels: labels,
      ExposedPorts: mode === 'host' ? undefined : exposed,
      HostConfig: {
        NetworkMode: mode === 'host' ? 'host' : 'bridge',
        PortBindings: mode === 'host' ? undefined : bindings,
        Memory: mem,
      },
    });
    try {
      await created.start();
      const info = await created.inspect();
      const ports =
        mode === 'host'
          ? mappings.map((m) => m.hostPort)
          : mappings.map((m) =>
              Number(info.NetworkSettings.Ports?.[`${m.containerPort}/${m.protocol}`]?.[0]?.HostPort ?? 0),
            );
      const innerPorts = mode === 'host' ? ports : mappings.map((m) => m.containerPort);
      return { host: '127.0.0.1', ports, handle: created.id, innerPorts };
    } catch (err) {
      await created.remove({ force: true }).catch(() => undefined);
      throw err;
    }
  }

  async kill(task: TaskRef, gracePeriodSeconds: number): Promise<void> {
    if (!task.handle) return;
    const c = this.docker.getContainer(task.handle);
    // SIGTERM, then SIGKILL after the app's taskKillGracePeriodSeconds, as Mesos does.
    await c.stop({ t: Math.max(0, Math.round(gracePeriodSeconds)) }).catch(() => undefined);
    await c.remove({ force: true }).catch(() => undefined);
  }

  async status(task: TaskRef): Promise<TaskStatus> {
    try {
      const info = await this.docker.getContainer(task.handle).inspect();
      if (info.State.Running) return { running: true };
      const code = info.State.ExitCode;
      return {
        running: false,
        state: code === 0 ? 'TASK_FINISHED' : 'TASK_FAILED',
        message: `Container exited with status ${code}`,
      };
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      // A daemon hiccup is not a dead task; only a container that is gone is.
      if (status === 404) return { running: false, state: 'TASK_LOST', message: 'Container is gone' };
      return { running: true };
    }
  }

  async probe(task: TaskRef, app: AppDef, check: HealthCheckDef, timeoutMs: number): Promise<ProbeResult> {
    if (check.protocol === 'COMMAND') return this.commandProbe(task, check.command ?? 'false', timeoutMs);
    if (check.protocol.startsWith('MESOS_')) {
      const inner = check.port ?? task.innerPorts?.[check.portIndex];
      if (!inner) return { ok: false, cause: `no container port at index ${check.portIndex}` };
      const seconds = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
      if (check.protocol === 'MESOS_TCP')
        return this.inTaskNetwork(task, ['nc', '-w', seconds, '127.0.0.1', String(inner)], timeoutMs);
      if (check.protocol === 'MESOS_HTTPS')
        return { ok: false, cause: 'MESOS_HTTPS checks are not supported by the emulator (its probe has no TLS)' };
      const path = check.path.startsWith('/') ? check.path : `/${check.path}`;
      if (!/^[\w/.~%?=&+-]*$/.test(path))
        return { ok: false, cause: `path ${JSON.stringify(path)} has characters the emulator's probe does not send` };
      // busybox's wget needs libraries a scratch image lacks: an HTTP/1.0 request through nc, passing on 2xx/3xx.
      const script = `printf 'GET ${path} HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' | nc -w ${seconds} 127.0.0.1 ${inner} | head -n 1 | grep -q '^HTTP/1\\.[01] [23][0-9][0-9]'`;
      return this.inTaskNetwork(task, ['sh', '-c', script], timeoutMs, `MESOS_HTTP GET 127.0.0.1:${inner}${path}`);
    }
    const port = check.port ?? task.ports[check.portIndex];
    if (!port) return { ok: false, cause: `no host port at index ${check.portIndex}` };
    if (check.protocol === 'TCP') return tcpProbe(task.host, port, timeoutMs);
    const protocol = check.protocol;
    const scheme = protocol === 'HTTPS' ? 'https' : 'http';
    const path = check.path.startsWith('/') ? check.path : `/${check.path}`;
    return httpProbe(
      `${scheme}://${task.host}:${port}${path}`,
      timeoutMs,
      (app.healthChecks as { ignoreHttp1xx?: boolean }[] | undefined)?.[0]?.ignoreHttp1xx === true,
      check.okStatuses,
    );
  }

  /** COMMAND check: the command in the task's own container; exit code 0 passes. */
  private async commandProbe(task: TaskRef, command: string, timeoutMs: number): Promise<ProbeResult> {
    try {
      const exec = await this.docker
        .getContainer(task.handle)
        .exec({ Cmd: ['/bin/sh', '-c', command], AttachStdout: true, AttachStderr: true });
      const stream = await exec.start({ hijack: true, stdin: false });
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      const ended = new Promise<boolean>((resolve) => {
        stream.on('end', () => resolve(true));
        stream.on('error', () => resolve(true));
        setTimeout(() => resolve(false), timeoutMs).unref();
      });
      if (!(await ended)) {
        stream.destroy();
        return { ok: false, cause: `command "${command}" did not finish within ${timeoutMs} ms` };
      }
      const code = (await exec.inspect()).ExitCode;
      // Docker multiplexes stdout/stderr with 8-byte frame headers: keep the readable text.
      const output = Buffer.concat(chunks)
        .toString('utf8')
        .replace(/[^\x20-\x7e\n]/g, '')
        .trim()
        .slice(0, 200);
      return code === 0
        ? { ok: true }
        : { ok: false, cause: `command "${command}" exited ${code}${output ? `: ${output}` : ''}` };
    } catch (err) {
      return { ok: false, cause: `command "${command}" could not run: ${(err as Error).message}` };
    }
  }

  /** MESOS_* checks: busybox in a container that shares the task's network namespace. */
  private async inTaskNetwork(
    task: TaskRef,
    args: string[],
    timeoutMs: number,
    what = args.join(' '),
  ): Promise<ProbeResult> {
    let probe: Docker.Container | undefined;
    try {
      probe = await this.docker.createContainer({
        Image: this.probeImage,
        Entrypoint: ['/bin/busybox'],
        Cmd: args,
        Labels: { [emulatorLabel]: this.instanceId, [emulatorPortLabel]: String(this.emulatorPort) },
        HostConfig: { NetworkMode: `container:${task.handle}` },
      });
      await probe.start();
      const result = await Promise.race([
        probe.wait() as Promise<{ StatusCode: number }>,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), timeoutMs + 1000).unref()),
      ]);
      if (!result) return { ok: false, cause: `${what}: no answer within ${timeoutMs} ms` };
      return result.StatusCode === 0
        ? { ok: true }
        : { ok: false, cause: `${what} failed (exit ${result.StatusCode})` };
    } catch (err) {
      return { ok: false, cause: `${args[0]} check could not run in the task's network: ${(err as Error).message}` };
    } finally {
      await probe?.remove({ force: true }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: [`${emulatorLabel}=${this.instanceId}`] },
    });
    await Promise.all(
      list.map((c) =>
        this.docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
  }
}
