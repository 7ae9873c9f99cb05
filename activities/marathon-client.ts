// The Marathon REST client (axios) for Marathon 1.4 and 1.5+. It owns the HTTP details the
// activities should not care about: credentials from the worker's environment, following a
// non-leader's redirect, and turning every answer into either data or an error whose
// retryability is decided here, where the error is born:
//   422/400 -> non-retryable MarathonRejected, with Marathon's message and `details`;
//   401/403 -> non-retryable Unauthorized, naming the variable to set (a service account first logs
//   in again once on a 401: its token may have expired or been revoked);
//   403 "Max number (N) of running deployments is achieved" -> MarathonBusyError, retried: that
//   403 is Marathon's max_running_deployments limit (1.5+), not a permission problem;
//   409 with a `deployments` key -> MarathonLockedError (the activities adopt or wait);
//   5xx, timeouts, refused connections -> plain errors, retried by Temporal with backoff.
// Errors carry no request config, so no credential can travel into workflow history.
import { readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import axios, { type AxiosInstance, type AxiosResponse, type Method } from 'axios';
import { NonRetryable } from '../common/errors';
import { absoluteAppId, taskView, type MarathonApp, type TaskView } from './marathon-app';
import { viewQueue, type QueueView } from './marathon-queue';
import { dropServiceAccountToken, serviceAccountToken, type ServiceAccount } from './dcos-auth';

export type MarathonCredentials =
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'token'; token: string }
  | ({ kind: 'service-account' } & ServiceAccount);

export interface CredentialsFromEnv {
  credentials?: MarathonCredentials;
  /** The variables a human sets to give Slipway access (for error messages). */
  hint: string;
}

/** `production-eu` -> `PRODUCTION_EU`, the infix of per-environment variables. */
export function envVarInfix(environment: string): string {
  return environment.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/**
 * Credentials from the worker's environment: MARATHON_<ENV>_… for one environment take precedence
 * over MARATHON_…. Per prefix, a DC/OS service account (SERVICE_ACCOUNT_UID with
 * SERVICE_ACCOUNT_KEY_FILE or SERVICE_ACCOUNT_KEY, the PEM private key; optional LOGIN_URL), then
 * a static TOKEN (sent DC/OS style, `Authorization: token=...`), then USERNAME/PASSWORD (HTTP Basic).
 */
export function marathonCredentialsFromEnv(
  environment?: string,
  env: NodeJS.ProcessEnv = process.env,
): CredentialsFromEnv {
  const prefixes = [...(environment ? [`MARATHON_${envVarInfix(environment)}_`] : []), 'MARATHON_'];
  for (const p of prefixes) {
    const uid = env[`${p}SERVICE_ACCOUNT_UID`];
    if (uid) {
      const hint = `${p}SERVICE_ACCOUNT_UID/${p}SERVICE_ACCOUNT_KEY_FILE`;
      const file = env[`${p}SERVICE_ACCOUNT_KEY_FILE`];
      let privateKey = env[`${p}SERVICE_ACCOUNT_KEY`] ?? '';
      if (file) {
        try {
          privateKey = readFileSync(file, 'utf8');
        } catch (err) {
          throw ApplicationFailure.create({
            message: `cannot read ${p}SERVICE_ACCOUNT_KEY_FILE ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
            type: NonRetryable.Unauthorized,
            nonRetryable: true,
          });
        }
      }
      const loginUrl = env[`${p}LOGIN_URL`];
      return {
        credentials: { kind: 'service-account', uid, privateKey, ...(loginUrl ? { loginUrl } : {}) },
        hint,
      };
    }
    const token = env[`${p}TOKEN`];
    if (token) return { credentials: { kind: 'token', token }, hint: `${p}TOKEN` };
    const username = env[`${p}USERNAME`];
    if (username)
      return {
        credentials: { kind: 'basic', username, password: env[`${p}PASSWORD`] ?? '' },
        hint: `${p}USERNAME/${p}PASSWORD`,
      };
  }
  const first = prefixes[0]!;
  return {
    hint: `${first}SERVICE_ACCOUNT_UID/${first}SERVICE_ACCOUNT_KEY_FILE, ${first}TOKEN or ${first}USERNAME/${first}PASSWORD`,
  };
}

/** The app is locked by running deployments (409 with a `deployments` key). */
export class MarathonLockedError extends Error {
  override name = 'MarathonLockedError';
  constructor(
    message: string,
    readonly deploymentIds: string[],
  ) {
    super(message);
  }
}

/** Marathon could not be reached or answered 5xx: worth retrying. */
export class MarathonUnavailableError extends Error {
  override name = 'MarathonUnavailableError';
}

/**
 * Marathon refused a new deployment because `max_running_deployments` are running (403 with
 * "Max number (N) of running deployments is achieved"): worth retrying once others finish.
 */
export class MarathonBusyError extends Error {
  override name = 'MarathonBusyError';
}

const tooManyDeployments = /Max number \((\d+)\) of running deployments/i;

export interface DeploymentResult {
  deploymentId: string | null;
  version: string;
  /** 201 when the PUT created the app. */
  created: boolean;
}

export interface DeploymentView {
  id: string;
  version: string | null;
  affectedApps: string[];
  currentStep: number | null;
  totalSteps: number | null;
  currentActions: string[];
}

export interface MarathonDetail {
  path: string;
  errors: string[];
}

export interface MarathonClientOptions {
  baseUrl: string;
  /** Environment name: picks per-environment credentials and appears in error messages. */
  environment?: string;
  credentials?: MarathonCredentials;
  /** Variables that carry the credentials, named in 401/403 errors. */
  credentialHint?: string;
  timeoutMs?: number;
  maxRedirects?: number;
}

const maxBodyInMessage = 600;

function appPath(appId: string): string {
  return `/v2/apps${absoluteAppId(appId)
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/')}`;
}

function detailsOf(body: unknown): MarathonDetail[] | string | undefined {
  const b = body as { details?: unknown; errors?: unknown } | undefined;
  if (typeof b?.details === 'string') return b.details;
  if (Array.isArray(b?.details)) {
    return b.details.map((d: { path?: unknown; errors?: unknown }) => ({
      path: String(d?.path ?? ''),
      errors: Array.isArray(d?.errors) ? d.errors.map(String) : [],
    }));
  }
  // Marathon 0.x: {"message", "errors": [{"attribute", "error"}]}
  if (Array.isArray(b?.errors)) {
    return b.errors.map((e: { attribute?: unknown; error?: unknown }) => ({
      path: String(e?.attribute ?? ''),
      errors: [String(e?.error ?? '')],
    }));
  }
  return undefined;
}

function messageOf(body: unknown): string {
  if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string')
    return (body as { message: string }).message;
  const text = typeof body === 'string' ? body : JSON.stringify(body ?? '');
  return text.length > maxBodyInMessage ? text.slice(0, maxBodyInMessage) + '...' : text;
}

export class MarathonClient {
  readonly baseUrl: string;
  readonly environment?: string;
  private readonly http: AxiosInstance;
  private readonly credentialHint: string;
  private readonly maxRedirects: number;

  constructor(private readonly opts: MarathonClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.environment = opts.environment;
    this.credentialHint = opts.credentialHint ?? marathonCredentialsFromEnv(opts.environment).hint;
    this.maxRedirects = opts.maxRedirects ?? 5;
    // Redirects are followed by hand (below): axios' follower drops the Authorization header on a
    // host change and turns a redirected PUT into a GET on 301/302.
    this.http = axios.create({
      timeout: opts.timeoutMs ?? 15_000,
      maxRedirects: 0,
      validateStatus: () => true,
      headers: { Accept: 'application/json' },
      transitional: { clarifyTimeoutError: true },
    });
  }

  /** Builds a client with credentials from this worker's environment. */
  static fromEnv(baseUrl: string, environment?: string, env: NodeJS.ProcessEnv = process.env): MarathonClient {
    const { credentials, hint } = marathonCredentialsFromEnv(environment, env);
    return new MarathonClient({ baseUrl, environment, credentials, credentialHint: hint });
  }

  private async authHeader(): Promise<Record<string, string>> {
    const c = this.opts.credentials;
    if (!c) return {};
    if (c.kind === 'token') return { Authorization: `token=${c.token}` };
    if (c.kind === 'service-account') {
      const token = await serviceAccountToken(c, this.baseUrl, {
        hint: this.credentialHint,
        unavailable: (message) => new MarathonUnavailableError(`${this.where()}: ${message}`),
      });
      return { Authorization: `token=${token}` };
    }
    return { Authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` };
  }

  /** A service account's token was refused: forget it. True when a new login is worth one more try. */
  private dropToken(headers: Record<string, string>): boolean {
    const c = this.opts.credentials;
    if (c?.kind !== 'service-account') return false;
    const token = headers.Authorization?.replace(/^token=/, '');
    if (token) dropServiceAccountToken(c, this.baseUrl, token);
    return true;
  }

  private where(): string {
    return `Marathon ${this.baseUrl}${this.environment ? ` (environment ${this.environment})` : ''}`;
  }

  /** One request, following redirects; transport failures become retryable errors. */
  async request(
    method: Method,
    path: string,
    opts: { params?: Record<string, string | string[]>; data?: unknown } = {},
  ): Promise<AxiosResponse> {
    const pairs = Object.entries(opts.params ?? {}).flatMap(([k, v]) =>
      (Array.isArray(v) ? v : [v]).map((x): [string, string] => [k, x]),
    );
    const query = pairs.length > 0 ? '?' + new URLSearchParams(pairs).toString() : '';
    let url = this.baseUrl + path + query;
    const origin = new URL(url);
    let loggedInAgain = false;
    for (let hop = 0; ; hop++) {
      let res: AxiosResponse;
      // Never send credentials downgraded from https to http.
      const auth = !(origin.protocol === 'https:' && new URL(url).protocol === 'http:');
      const headers = auth ? await this.authHeader() : {};
      try {
        res = await this.http.request({ method, url, data: opts.data, headers });
      } catch (err) {
        const e = err as { code?: string; message?: string };
        throw new MarathonUnavailableError(
          `${this.where()} unreachable on ${method} ${path}: ${e.code ?? ''} ${e.message ?? String(err)}`.trim(),
        );
      }
      const location = res.headers.location as string | undefined;
      if (res.status >= 300 && res.status < 400 && location) {
        if (hop >= this.maxRedirects)
          throw new MarathonUnavailableError(
            `${this.where()}: more than ${this.maxRedirects} redirects on ${method} ${path}`,
          );
        // A non-leader points at the leader; the same method and body go there (as with 307).
        url = new URL(location, url).toString();
        continue;
      }
      if (res.status === 401 && auth && !loggedInAgain && this.dropToken(headers)) {
        // The token expired or was revoked before we renewed it: log in once more and repeat.
        loggedInAgain = true;
        continue;
      }
      return res;
    }
  }

  /** Maps a non-2xx answer to the error the activities expect. */
  private fail(res: AxiosResponse, what: string): never {
    const status = res.status;
    const message = messageOf(res.data);
    if (status === 422 || status === 400) {
      const details = detailsOf(res.data);
      const detailText = Array.isArray(details)
        ? details.map((d) => `${d.path || '/'}: ${d.errors.join(', ')}`).join('; ')
        : (details ?? '');
      throw ApplicationFailure.create({
        message: `${this.where()} rejected ${what} (${status}): ${message}${detailText ? ` — ${detailText}` : ''}`,
        type: NonRetryable.MarathonRejected,
        nonRetryable: true,
        details: [{ status, message, details: details ?? null }],
      });
    }
    const limit = status === 403 ? tooManyDeployments.exec(message) : null;
    if (limit) {
      throw new MarathonBusyError(
        `${this.where()} refused ${what}: its limit of ${limit[1]} running deployments (max_running_deployments) is reached; retrying until some finish`,
      );
    }
    if (status === 401 || status === 403) {
      throw ApplicationFailure.create({
        message: `${this.where()} refused ${what} (${status}: ${message}); set ${this.credentialHint} in the worker's environment`,
        type: NonRetryable.Unauthorized,
        nonRetryable: true,
      });
    }
    const body = res.data as { deployments?: unknown } | undefined;
    if (status === 409 && body && typeof body === 'object' && Array.isArray(body.deployments)) {
      const ids = body.deployments.map((d: { id?: unknown }) => String(d?.id ?? '')).filter(Boolean);
      throw new MarathonLockedError(
        `${this.where()}: ${what} refused, app locked by deployment(s) ${ids.join(', ')}`,
        ids,
      );
    }
    if (status >= 500 || status === 429) {
      throw new MarathonUnavailableError(`${this.where()} answered ${status} to ${what}: ${message}`);
    }
    // Other 4xx (409 "already exists", 404 of a path we built, 405, ...): retrying sends the same request.
    throw ApplicationFailure.create({
      message: `${this.where()} answered ${status} to ${what}: ${message}`,
      type: NonRetryable.MarathonRejected,
      nonRetryable: true,
      details: [{ status, message }],
    });
  }

  async ping(): Promise<string> {
    const res = await this.request('GET', '/ping');
    if (res.status !== 200) this.fail(res, 'GET /ping');
    return String(res.data).trim();
  }

  async info(): Promise<Record<string, unknown>> {
    const res = await this.request('GET', '/v2/info');
    if (res.status !== 200) this.fail(res, 'GET /v2/info');
    return res.data as Record<string, unknown>;
  }

  /**
   * GET /v2/apps/{id} with its tasks and, during a deployment, its readiness results; null when the
   * app does not exist. Raw body `app` (read it with viewApp).
   */
  async getApp(appId: string): Promise<Record<string, unknown> | null> {
    const res = await this.request('GET', appPath(appId), { params: { embed: ['app.tasks', 'app.readiness'] } });
    if (res.status === 404) return null;
    if (res.status !== 200) this.fail(res, `GET app ${absoluteAppId(appId)}`);
    const body = res.data as { app?: Record<string, unknown> };
    return body.app ?? (res.data as Record<string, unknown>);
  }

  private deploymentResult(res: AxiosResponse): DeploymentResult {
    const body = (res.data ?? {}) as { deploymentId?: unknown; version?: unknown; deployments?: { id?: unknown }[] };
    const header = res.headers['marathon-deployment-id'] as string | undefined;
    const deploymentId =
      typeof body.deploymentId === 'string'
        ? body.deploymentId
        : (header ?? (typeof body.deployments?.[0]?.id === 'string' ? body.deployments[0].id : null));
    return { deploymentId, version: String(body.version ?? ''), created: res.status === 201 };
  }

  /** PUT /v2/apps/{id}?partialUpdate=false: the definition replaces the app entirely (or creates it). */
  async putApp(app: MarathonApp, opts: { force?: boolean } = {}): Promise<DeploymentResult> {
    const appId = absoluteAppId(String(app.id));
    const params: Record<string, string> = { partialUpdate: 'false' };
    if (opts.force) params.force = 'true';
    const res = await this.request('PUT', appPath(appId), { params, data: { ...app, id: appId } });
    if (res.status !== 200 && res.status !== 201) this.fail(res, `PUT app ${appId}`);
    return this.deploymentResult(res);
  }

  /** PUT {"version": v}: Marathon copies that stored definition into a new version (a rollback). */
  async putVersion(appId: string, version: string, opts: { force?: boolean } = {}): Promise<DeploymentResult> {
    const id = absoluteAppId(appId);
    const params: Record<string, string> = opts.force ? { force: 'true' } : {};
    const res = await this.request('PUT', appPath(id), { params, data: { version } });
    if (res.status !== 200 && res.status !== 201) this.fail(res, `PUT app ${id} back to version ${version}`);
    return this.deploymentResult(res);
  }

  /**
   * GET /v2/apps?label=<selector>&embed=apps.tasks: the apps a label selector picks, with their
   * tasks (raw bodies; read them with viewApp). Marathon 1.4 and 1.5+ answer the same list shape.
   */
  async listApps(labelSelector: string): Promise<Record<string, unknown>[]> {
    const res = await this.request('GET', '/v2/apps', { params: { label: labelSelector, embed: ['apps.tasks'] } });
    if (res.status !== 200) this.fail(res, `GET apps with label ${labelSelector}`);
    const apps = (res.data as { apps?: unknown }).apps;
    return Array.isArray(apps) ? (apps as Record<string, unknown>[]) : [];
  }

  /** PUT {"instances": n} (a partial update: nothing else changes, no task restarts). */
  async scaleApp(appId: string, instances: number, opts: { force?: boolean } = {}): Promise<DeploymentResult> {
    const id = absoluteAppId(appId);
    const params: Record<string, string> = opts.force ? { force: 'true' } : {};
    const res = await this.request('PUT', appPath(id), { params, data: { instances } });
    if (res.status !== 200 && res.status !== 201) this.fail(res, `PUT app ${id} to ${instances} instance(s)`);
    return this.deploymentResult(res);
  }

  /**
   * DELETE /v2/apps/{id} (force defaults to true there: a running deployment of the app is
   * cancelled). null when the app is already gone, so a retried delete is harmless.
   */
  async deleteApp(appId: string): Promise<DeploymentResult | null> {
    const id = absoluteAppId(appId);
    const res = await this.request('DELETE', appPath(id));
    if (res.status === 404) return null;
    if (res.status !== 200 && res.status !== 202 && res.status !== 204) this.fail(res, `DELETE app ${id}`);
    return this.deploymentResult(res);
  }

  /**
   * POST /v2/tasks/delete?scale=true {"ids": [...]}: kills exactly these tasks and lowers their
   * apps' instances by as many (zdd.py kills the tasks marathon-lb drained this way). Callers pass
   * ids they just read on the app, so a retried step never names a task killed before.
   */
  async killTasksAndScale(taskIds: string[]): Promise<DeploymentResult> {
    const res = await this.request('POST', '/v2/tasks/delete', { params: { scale: 'true' }, data: { ids: taskIds } });
    if (res.status !== 200) this.fail(res, `POST /v2/tasks/delete?scale=true for ${taskIds.length} task(s)`);
    return this.deploymentResult(res);
  }

  /** GET /v2/queue: apps with tasks Marathon wants but has not launched, and why. */
  async launchQueue(): Promise<QueueView[]> {
    const res = await this.request('GET', '/v2/queue');
    if (res.status !== 200) this.fail(res, 'GET /v2/queue');
    return viewQueue(res.data);
  }

  async listDeployments(): Promise<DeploymentView[]> {
    const res = await this.request('GET', '/v2/deployments');
    if (res.status !== 200) this.fail(res, 'GET /v2/deployments');
    const list = Array.isArray(res.data) ? (res.data as Record<string, unknown>[]) : [];
    return list.map((d) => ({
      id: String(d.id),
      version: typeof d.version === 'string' ? d.version : null,
      affectedApps: Array.isArray(d.affectedApps) ? d.affectedApps.map(String) : [],
      currentStep: typeof d.currentStep === 'number' ? d.currentStep : null,
      totalSteps: typeof d.totalSteps === 'number' ? d.totalSteps : null,
      currentActions: Array.isArray(d.currentActions)
        ? d.currentActions.map((a: { action?: unknown }) => String(a?.action ?? ''))
        : [],
    }));
  }

  /** DELETE /v2/deployments/{id}: without force Marathon starts a revert deployment; with force it only cancels (202). */
  async deleteDeployment(deploymentId: string, opts: { force?: boolean } = {}): Promise<DeploymentResult | null> {
    const res = await this.request('DELETE', `/v2/deployments/${encodeURIComponent(deploymentId)}`, {
      params: opts.force ? { force: 'true' } : {},
    });
    if (res.status === 404) return null;
    if (res.status === 202) return { deploymentId: null, version: '', created: false };
    if (res.status !== 200) this.fail(res, `DELETE deployment ${deploymentId}`);
    return this.deploymentResult(res);
  }

  /** Stored versions, newest first (Marathon keeps a bounded number). Empty when the app does not exist. */
  async listVersions(appId: string): Promise<string[]> {
    const res = await this.request('GET', `${appPath(appId)}/versions`);
    if (res.status === 404) return [];
    if (res.status !== 200) this.fail(res, `GET versions of ${absoluteAppId(appId)}`);
    const versions = (res.data as { versions?: unknown }).versions;
    return Array.isArray(versions) ? versions.map(String).sort().reverse() : [];
  }

  /** GET /v2/apps/{id}/tasks: the app's tasks with host and ports; empty when the app does not exist. */
  async listTasks(appId: string): Promise<TaskView[]> {
    const res = await this.request('GET', `${appPath(appId)}/tasks`);
    if (res.status === 404) return [];
    if (res.status !== 200) this.fail(res, `GET tasks of ${absoluteAppId(appId)}`);
    const tasks = (res.data as { tasks?: unknown }).tasks;
    return Array.isArray(tasks) ? tasks.map(taskView) : [];
  }

  /** One stored definition; null when the app or that version is unknown. */
  async getVersion(appId: string, version: string): Promise<Record<string, unknown> | null> {
    const res = await this.request('GET', `${appPath(appId)}/versions/${encodeURIComponent(version)}`);
    if (res.status === 404) return null;
    if (res.status !== 200) this.fail(res, `GET version ${version} of ${absoluteAppId(appId)}`);
    return res.data as Record<string, unknown>;
  }
}
