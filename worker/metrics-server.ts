// A worker's own small HTTP server for its operators: GET /healthz (200 while every worker of the
// process runs, else 503; JSON with each worker's state and whether Temporal answers) and
// GET /metrics (the Temporal SDK's runtime metrics followed by Slipway's, in Prometheus' text
// format). Marathon's health check and Prometheus point here; the port comes from
// SLIPWAY_METRICS_PORT.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { metricsContentType, metricsText } from '../common/prometheus';

export interface MetricsServerOptions {
  host: string;
  /** 0: any free port (the URL says which). */
  port: number;
  client: Client;
  workers: Worker[];
  /** Where the SDK's Prometheus exporter answers (worker/runtime.ts). */
  sdkMetricsUrl?: string;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

async function health(opts: MetricsServerOptions): Promise<{ ok: boolean; body: Record<string, unknown> }> {
  const workers = opts.workers.map((w) => ({ taskQueue: w.options.taskQueue, state: w.getState() }));
  let temporal = 'reachable';
  try {
    await opts.client.withDeadline(Date.now() + 3000, () => opts.client.workflowService.getSystemInfo({}));
  } catch (err) {
    temporal = `unreachable: ${(err as Error).message}`;
  }
  // Only a worker that stopped fails the check: Marathon replaces a failing task, and replacing
  // workers while Temporal is away would only add churn (they reconnect on their own).
  const ok = workers.every((w) => w.state === 'RUNNING');
  const status = !ok ? 'stopped' : temporal === 'reachable' ? 'ok' : 'degraded';
  return { ok, body: { status, temporal, workers } };
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const answer = async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'expected GET\n');
      if (path === '/healthz') {
        const { ok, body } = await health(opts);
        return send(res, ok ? 200 : 503, 'application/json; charset=utf-8', JSON.stringify(body));
      }
      if (path === '/metrics') return send(res, 200, metricsContentType, await metricsText(opts.sdkMetricsUrl));
      send(res, 404, 'text/plain', `no route for ${path}: try GET /healthz or GET /metrics\n`);
    };
    answer().catch((err: unknown) => send(res, 500, 'text/plain', `internal error: ${(err as Error).message}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
