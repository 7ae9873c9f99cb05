// The webhook and status server (`slipway webhook`, also started by `slipway up`): GitLab
// deliveries in, pipeline status and authenticated decisions out. Every request is answered —
// an unexpected error becomes a 500 with a message, never a crashed process.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { loadDeployConfig, type DeployConfig } from '../../common/config';
import { createLogger } from '../../common/log';
import { defaultConfigDir } from '../../common/paths';
import { metricsContentType, metricsText, observeDeliveries } from '../../common/prometheus';
import { connectClient } from '../../common/temporal-connection';
import { approverDirectory } from './auth';
import { HttpError, sendJson } from './http';
import { auditDir } from '../../common/audit-log';
import { serveAudit } from './audit-route';
import { createIntakeRoute } from './intake-route';
import { createInventoryRoutes } from './inventory-routes';
import { createPipelineRoutes } from './pipeline-routes';
import { requireReader } from './read-access';

export interface WebhookServerOptions {
  port?: number;
  /** Default 127.0.0.1; use 0.0.0.0 where GitLab must reach the server from outside. */
  host?: string;
  /** Default: a client from the environment (closed again by close()). */
  client?: Client;
  /** The X-Gitlab-Token secret; default SLIPWAY_WEBHOOK_TOKEN. */
  token?: string;
  /** GitLab's `whsec_...` signing token (GitLab 19+); default SLIPWAY_WEBHOOK_SIGNING_TOKEN. */
  signingSecret?: string;
  /** Accept deliveries without a token: local development only. */
  insecureNoToken?: boolean;
  /** Default SLIPWAY_CONFIG_DIR or the example config. */
  configDir?: string;
  /** Default SLIPWAY_WEBHOOK_BODY_LIMIT or 1 MiB. */
  bodyLimitBytes?: number;
  /** Temporal UI base for the board's links; default SLIPWAY_TEMPORAL_UI_URL. */
  temporalUiUrl?: string;
  /** Where GET /audit reads; default SLIPWAY_AUDIT_DIR, else .slipway/audit. */
  auditDir?: string;
  env?: NodeJS.ProcessEnv;
}

export interface WebhookServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The deploy config is read at start (a broken one stops the server from starting) and again at
 * most every two seconds, so a service added in Git is picked up without a restart; a config
 * broken later is logged and the last good one kept.
 */
function configSource(dir: string, log: ReturnType<typeof createLogger>): () => DeployConfig {
  let current = loadDeployConfig(dir);
  let loadedAt = Date.now();
  return () => {
    if (Date.now() - loadedAt < 2000) return current;
    loadedAt = Date.now();
    try {
      current = loadDeployConfig(dir);
    } catch (err) {
      log.warn('deploy config reload failed; keeping the last good one', { error: (err as Error).message });
    }
    return current;
  };
}

export async function startWebhookServer(opts: WebhookServerOptions = {}): Promise<WebhookServer> {
  const env = opts.env ?? process.env;
  const log = createLogger('webhook');
  const token = opts.token ?? (env.SLIPWAY_WEBHOOK_TOKEN || undefined);
  const signingSecret = opts.signingSecret ?? (env.SLIPWAY_WEBHOOK_SIGNING_TOKEN || undefined);
  if (!token && !signingSecret && !opts.insecureNoToken) {
    throw new Error(
      'SLIPWAY_WEBHOOK_TOKEN is not set: set it to the secret token of the GitLab webhook (or pass --insecure-no-token for local development)',
    );
  }
  if (!token && !signingSecret)
    log.warn('accepting GitLab deliveries WITHOUT a token (--insecure-no-token): development only');
  const bodyLimitBytes = opts.bodyLimitBytes ?? Number(env.SLIPWAY_WEBHOOK_BODY_LIMIT ?? 1024 * 1024);
  // NaN would compare false with every size and silently lift the limit.
  if (!Number.isSafeInteger(bodyLimitBytes) || bodyLimitBytes < 1) {
    throw new Error(
      `SLIPWAY_WEBHOOK_BODY_LIMIT: expected a positive whole number of bytes, got "${opts.bodyLimitBytes ?? env.SLIPWAY_WEBHOOK_BODY_LIMIT}"`,
    );
  }
  const config = configSource(opts.configDir ?? env.SLIPWAY_CONFIG_DIR ?? defaultConfigDir, log);
  const ownClient = !opts.client;
  const client = opts.client ?? (await connectClient());
  observeDeliveries(client);

  const intake = createIntakeRoute({ client, token, signingSecret, bodyLimitBytes, config, log, env });
  const pipelines = createPipelineRoutes({
    client,
    log,
    approvers: () => approverDirectory(config().approverTokens, env),
    env,
  });

  /**
   * With SLIPWAY_READ_TOKEN set, reading pipelines and the inventory (services, commits, authors,
   * approvers) needs it (./read-access.ts); decisions keep their approver tokens, /healthz stays open.
   */
  const readToken = env.SLIPWAY_READ_TOKEN || undefined;
  const inventory = createInventoryRoutes({
    client,
    config,
    readToken,
    temporalUiUrl: opts.temporalUiUrl ?? (env.SLIPWAY_TEMPORAL_UI_URL || undefined),
    env,
  });

  async function healthz(res: ServerResponse): Promise<void> {
    try {
      await client.withDeadline(Date.now() + 3000, () => client.workflowService.getSystemInfo({}));
      sendJson(res, 200, { status: 'ok', temporal: 'reachable' });
    } catch (err) {
      sendJson(res, 503, { status: 'degraded', temporal: `unreachable: ${(err as Error).message}` });
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawPath = (req.url ?? '/').split('?')[0] as string;
    let url: URL;
    try {
      // An origin-form target is a path even when it starts with "//" (not a host to parse).
      url = new URL(rawPath.startsWith('/') ? `http://localhost${req.url}` : (req.url ?? '/'), 'http://localhost');
    } catch {
      throw new HttpError(400, 'the request target is not a valid URL');
    }
    if (rawPath === '/webhooks/gitlab') {
      if (req.method !== 'POST') throw new HttpError(405, 'expected POST', {}, { Allow: 'POST' });
      return await intake(req, res);
    }
    if (rawPath === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        throw new HttpError(405, 'expected GET', {}, { Allow: 'GET, HEAD' });
      return await healthz(res);
    }
    if (rawPath === '/metrics') {
      if (req.method !== 'GET') throw new HttpError(405, 'expected GET', {}, { Allow: 'GET' });
      const text = await metricsText();
      res.writeHead(200, { 'Content-Type': metricsContentType, 'Content-Length': Buffer.byteLength(text) });
      return void res.end(text);
    }
    if (rawPath === '/audit') {
      if (req.method !== 'GET') throw new HttpError(405, 'expected GET', {}, { Allow: 'GET' });
      requireReader(req, readToken);
      return serveAudit(res, url, opts.auditDir ?? auditDir(env));
    }
    if (
      rawPath === '/pipelines' ||
      rawPath.startsWith('/pipelines/') ||
      /^\/(promotions|rollbacks)\/?$/.test(rawPath)
    ) {
      if (req.method === 'GET' || req.method === 'HEAD') requireReader(req, readToken);
      if (await pipelines(req, res, url, rawPath)) return;
    }
    if (await inventory(req, res, url, rawPath)) return;
    throw new HttpError(
      404,
      `no route for ${req.method} ${rawPath}: try POST /webhooks/gitlab, GET /pipelines, GET /environments, GET /board, GET /audit, GET /healthz, GET /metrics`,
    );
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        if (err.status >= 500)
          log.warn('request failed', { method: req.method, path: req.url, status: err.status, error: err.message });
        sendJson(
          res,
          err.status,
          { error: err.message, ...err.extra },
          // An answer given before the body was read (a wrong token, a wrong type, too large) closes
          // the connection: otherwise the client would go on sending a body nobody wants, and the
          // socket would stay open until the request timeout.
          { ...(err.status === 413 || !req.complete ? { Connection: 'close' } : {}), ...err.headers },
        );
        return;
      }
      log.error('request failed unexpectedly', { method: req.method, path: req.url, error: err });
      sendJson(res, 500, { error: `internal error: ${(err as Error)?.message ?? String(err)}` });
    });
  });
  // Requests the HTTP parser refuses. Node's own answers are kept: 431 for oversized headers and
  // 408 for a request that did not arrive in time; everything else is a 400.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  const host = opts.host ?? env.SLIPWAY_WEBHOOK_HOST ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8787, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
  log.info('webhook and status server listening', {
    url,
    tokenRequired: Boolean(token),
    signatures: Boolean(signingSecret),
    bodyLimitBytes,
  });

  return {
    url,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (ownClient) await client.connection.close();
    },
  };
}
