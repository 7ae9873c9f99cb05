// The emulator's own admin API under /_emulator/ — for tests only; nothing in Slipway's Marathon
// client may use it (a real Marathon has no such thing):
//   GET  /_emulator/requests  every API request seen: method, path, time, status, and for app
//                             writes the app id, image and SLIPWAY_PIPELINE_ID label
//   GET/POST /_emulator/faults  {failureRate, latencyMs, stuckDeployments, failNextRequests}
//   POST /_emulator/reset     forget all apps, tasks, deployments, requests and faults
//   POST /_emulator/auth/revoke  (auth mode) every token issued so far is refused from now on
//   POST /_emulator/tasks/lose {appId, state: TASK_LOST|TASK_UNREACHABLE, count}  agents fail
//   POST /_emulator/leader-change {unknownForMs}  a new leader: health unknown until checks run again
import { updateFaults, type Faults } from './faults';
import { parseJson, Router } from './http';

export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  time: string;
  status: number;
  durationMs: number;
  appId?: string;
  image?: string;
  pipelineId?: string;
}

export interface AdminContext {
  requests: RequestRecord[];
  getFaults(): Faults;
  setFaults(f: Faults): void;
  reset(): Promise<void>;
  /** Auth mode only. */
  revokeTokens?: () => void;
  loseTasks(appId: string, state: 'TASK_LOST' | 'TASK_UNREACHABLE', count: number): string[];
  changeLeader(unknownForMs: number): void;
}

export function createAdmin(ctx: AdminContext): Router {
  return new Router()
    .on('GET', /^\/_emulator\/requests\/?$/, () => ({ status: 200, body: { requests: ctx.requests } }))
    .on('GET', /^\/_emulator\/faults\/?$/, () => ({ status: 200, body: ctx.getFaults() }))
    .on('POST', /^\/_emulator\/faults\/?$/, (req) => {
      const parsed = parseJson(req.body || '{}');
      if (!parsed.ok) return parsed.reply;
      if (typeof parsed.value !== 'object' || parsed.value === null)
        return { status: 400, body: { message: 'expected a JSON object' } };
      const next = updateFaults(ctx.getFaults(), parsed.value as Record<string, unknown>);
      if (typeof next === 'string') return { status: 400, body: { message: next } };
      ctx.setFaults(next);
      return { status: 200, body: next };
    })
    .on('POST', /^\/_emulator\/auth\/revoke\/?$/, () => {
      if (!ctx.revokeTokens) return { status: 400, body: { message: 'the emulator runs without auth mode' } };
      ctx.revokeTokens();
      return { status: 200, body: { revoked: true } };
    })
    .on('POST', /^\/_emulator\/tasks\/lose\/?$/, (req) => {
      const parsed = parseJson(req.body || '{}');
      if (!parsed.ok) return parsed.reply;
      const body = (parsed.value ?? {}) as { appId?: unknown; state?: unknown; count?: unknown };
      if (typeof body.appId !== 'string' || (body.state !== 'TASK_LOST' && body.state !== 'TASK_UNREACHABLE'))
        return {
          status: 400,
          body: { message: 'expected {"appId": "/x", "state": "TASK_LOST" or "TASK_UNREACHABLE"}' },
        };
      const count = typeof body.count === 'number' && body.count > 0 ? body.count : 1;
      return { status: 200, body: { tasks: ctx.loseTasks(body.appId, body.state, count) } };
    })
    .on('POST', /^\/_emulator\/leader-change\/?$/, (req) => {
      const parsed = parseJson(req.body || '{}');
      if (!parsed.ok) return parsed.reply;
      const ms = (parsed.value as { unknownForMs?: unknown } | null)?.unknownForMs;
      ctx.changeLeader(typeof ms === 'number' && ms >= 0 ? ms : 1000);
      return { status: 200, body: { leaderChanged: true } };
    })
    .on('POST', /^\/_emulator\/reset\/?$/, async () => {
      await ctx.reset();
      return { status: 200, body: { reset: true } };
    });
}

/** What a request log entry says about an app write: which app, which image, which pipeline sent it. */
export function describeAppWrite(
  method: string,
  path: string,
  body: string,
): Pick<RequestRecord, 'appId' | 'image' | 'pipelineId'> {
  if (!(method === 'PUT' || method === 'POST') || !path.startsWith('/v2/apps')) return {};
  const parsed = parseJson(body);
  const app =
    parsed.ok && typeof parsed.value === 'object' && parsed.value !== null
      ? (parsed.value as Record<string, unknown>)
      : {};
  const fromPath = path.replace(/^\/v2\/apps/, '').replace(/\/restart$/, '');
  const container = app.container as { docker?: { image?: unknown } } | undefined;
  const labels = app.labels as Record<string, unknown> | undefined;
  return {
    appId: typeof app.id === 'string' ? '/' + app.id.replace(/^\/+/, '') : fromPath || undefined,
    image: typeof container?.docker?.image === 'string' ? container.docker.image : undefined,
    pipelineId: typeof labels?.SLIPWAY_PIPELINE_ID === 'string' ? labels.SLIPWAY_PIPELINE_ID : undefined,
  };
}
