// A stand-in for marathon-lb (HAProxy configured from Marathon), for the emulator's containers mode
// only: it serves each marathon-lb deployment group, the way marathon-lb does, and nothing else. For
// every group (apps with the label HAPROXY_DEPLOYMENT_GROUP) it listens on 127.0.0.1:<HAPROXY_0_PORT>
// and forwards each HTTP request to one of the group's backends: the running tasks of its apps that
// pass their health checks, minus the old app's tasks marathon-lb drains (common/deployment-group.ts).
// Like marathon-lb's defaults (`option redispatch`, `retries 3`, `option http-server-close`), a
// request whose connection to a backend is refused is sent to another backend, up to three times,
// and each request picks its backend anew. It re-reads the apps every `refreshMs` (marathon-lb
// follows Marathon's event stream and reloads HAProxy). It is not marathon-lb: no HAProxy config,
// no vhosts, no stats page, only what a blue/green or canary switch needs.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { groupBackends, groupOf, groupServicePort, type Backend, type GroupApp } from '../../common/deployment-group';
import type { Logger } from '../../common/log';

const retries = 3;

interface Listener {
  server: http.Server;
  backends: Backend[];
  next: number;
}

export class LoadBalancerStandIn {
  private readonly listeners = new Map<number, Listener>();
  private timer: NodeJS.Timeout | undefined;
  private readonly agent = new http.Agent({ keepAlive: false });

  constructor(
    /** The apps as the emulator holds them now. */
    private readonly apps: () => GroupApp[],
    private readonly log: Logger,
    private readonly refreshMs = 200,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.refresh(), this.refreshMs);
    this.refresh();
  }

  /** The backends of the group on `port` as last configured (what HAProxy's stats page would list). */
  backendsOn(port: number): Backend[] {
    return this.listeners.get(port)?.backends ?? [];
  }

  private refresh(): void {
    const groups = new Map<string, GroupApp[]>();
    for (const app of this.apps()) {
      const group = groupOf(app);
      if (group) groups.set(group, [...(groups.get(group) ?? []), app]);
    }
    const wanted = new Map<number, Backend[]>();
    for (const apps of groups.values()) {
      const port = groupServicePort(apps);
      if (port) wanted.set(port, groupBackends(apps));
    }
    for (const [port, backends] of wanted) {
      const listener = this.listeners.get(port) ?? this.listen(port);
      if (listener) listener.backends = backends;
    }
    for (const [port, listener] of this.listeners) {
      if (wanted.has(port)) continue;
      listener.server.close();
      this.listeners.delete(port);
    }
  }

  private listen(port: number): Listener | undefined {
    const listener: Listener = { server: http.createServer(), backends: [], next: 0 };
    listener.server.on('request', (req, res) => this.forward(listener, req, res));
    listener.server.on('error', (err) => {
      this.log.warn('load-balancer stand-in cannot listen; retrying at the next refresh', { port, error: err.message });
      this.listeners.delete(port);
    });
    listener.server.listen(port, '127.0.0.1', () =>
      this.log.info('load-balancer stand-in (for marathon-lb) listening', {
        port: (listener.server.address() as AddressInfo).port,
      }),
    );
    this.listeners.set(port, listener);
    return listener;
  }

  /** Round robin over the serving (not draining) backends; a refused connection tries the next one. */
  private forward(listener: Listener, req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const attempt = (left: number) => {
        const serving = listener.backends.filter((b) => !b.draining);
        if (serving.length === 0) {
          res.writeHead(503, { 'content-type': 'text/plain' }).end('no server is available to handle this request\n');
          return;
        }
        const backend = serving[listener.next++ % serving.length]!;
        const upstream = http.request(
          {
            host: backend.host,
            port: backend.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, connection: 'close' },
            agent: this.agent,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on('error', (err: NodeJS.ErrnoException) => {
          // Only a connection that never opened is sent elsewhere (HAProxy's redispatch); a request
          // that reached a server is not repeated.
          if (err.code === 'ECONNREFUSED' && left > 0 && !res.headersSent) return attempt(left - 1);
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`backend ${backend.taskId} failed: ${err.message}\n`);
        });
        upstream.end(body);
      };
      attempt(retries);
    });
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all(
      [...this.listeners.values()].map(
        (l) =>
          new Promise<void>((resolve) => {
            l.server.close(() => resolve());
            l.server.closeAllConnections();
          }),
      ),
    );
    this.listeners.clear();
    this.agent.destroy();
  }
}
