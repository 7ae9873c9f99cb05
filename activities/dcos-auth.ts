// DC/OS service-account login for Marathon behind DC/OS (Enterprise, strict or permissive mode).
// A service account proves itself with a short-lived login token: a JWT `{"uid", "exp"}` signed
// RS256 with the account's private key, POSTed as `{"uid", "token"}` to the IAM at
// `/acs/api/v1/auth/login`. The answer `{"token"}` is an authentication token that expires (DC/OS
// issues them for days; it is itself a JWT carrying `exp`); requests carry it as
// `Authorization: token=<token>`. Tokens are shared by every client of one account in this worker,
// renewed before they expire and at once when Marathon answers 401 (a token revoked or expired
// early). The private key and the tokens never leave this module: no error names them.
import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import axios from 'axios';
import { NonRetryable } from '../common/errors';

export interface ServiceAccount {
  uid: string;
  /** PEM text of the RSA private key. */
  privateKey: string;
  /** Default: /acs/api/v1/auth/login on the Marathon URL's origin. */
  loginUrl?: string;
}

/** Renew when less than this share of a token's life is left (and at least a minute before). */
const renewAtShareLeft = 0.1;
const minimumMarginMs = 60_000;
/** A login token lives this long: just enough to reach the IAM. */
const loginTokenSeconds = 300;
/** When an authentication token is not a readable JWT: assume one hour (DC/OS issues days). */
const fallbackLifetimeMs = 3600_000;

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** The RS256 login token of a service account. */
export function loginToken(uid: string, key: KeyObject, nowMs = Date.now()): string {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ uid, exp: Math.floor(nowMs / 1000) + loginTokenSeconds }));
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), key);
  return `${header}.${payload}.${b64url(signature)}`;
}

/** `exp` of a JWT in milliseconds, or undefined when the token is not a JWT with one. */
export function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

interface Session {
  token: string;
  issuedAt: number;
  expiresAt: number;
}

const sessions = new Map<string, Session>();
const logins = new Map<string, Promise<Session>>();

export function defaultLoginUrl(marathonUrl: string): string {
  return new URL('/acs/api/v1/auth/login', marathonUrl).toString();
}

/** One session per login endpoint, account and key (a rotated key logs in anew). */
function keyOf(account: ServiceAccount, marathonUrl: string): string {
  const keyId = createHash('sha256').update(account.privateKey).digest('hex').slice(0, 16);
  return `${account.loginUrl ?? defaultLoginUrl(marathonUrl)} ${account.uid} ${keyId}`;
}

function fresh(session: Session | undefined, now: number): session is Session {
  if (!session) return false;
  const margin = Math.max(minimumMarginMs, (session.expiresAt - session.issuedAt) * renewAtShareLeft);
  return session.expiresAt - now > margin;
}

export interface LoginFailureContext {
  /** The variables that hold the account, for error messages. */
  hint: string;
  /** Thrown for transport errors and 5xx: retryable. */
  unavailable: (message: string) => Error;
}

async function login(account: ServiceAccount, marathonUrl: string, ctx: LoginFailureContext): Promise<Session> {
  const url = account.loginUrl ?? defaultLoginUrl(marathonUrl);
  let key: KeyObject;
  try {
    key = createPrivateKey(account.privateKey);
  } catch {
    throw ApplicationFailure.create({
      message: `the private key of DC/OS service account "${account.uid}" is not a PEM private key; check ${ctx.hint}`,
      type: NonRetryable.Unauthorized,
      nonRetryable: true,
    });
  }
  const now = Date.now();
  let res;
  try {
    res = await axios.post(
      url,
      { uid: account.uid, token: loginToken(account.uid, key, now) },
      { timeout: 15_000, validateStatus: () => true, maxRedirects: 0 },
    );
  } catch (err) {
    const e = err as { code?: string; message?: string };
    throw ctx.unavailable(`DC/OS login at ${url} unreachable: ${e.code ?? ''} ${e.message ?? String(err)}`.trim());
  }
  const body = (res.data ?? {}) as { token?: unknown; description?: unknown; message?: unknown; title?: unknown };
  const said = String(body.description ?? body.message ?? body.title ?? '');
  if (res.status >= 500 || res.status === 429) {
    throw ctx.unavailable(`DC/OS login at ${url} answered ${res.status}: ${said}`);
  }
  if (res.status !== 200 || typeof body.token !== 'string') {
    throw ApplicationFailure.create({
      message: `DC/OS refused the login of service account "${account.uid}" at ${url} (${res.status}: ${said}); check ${ctx.hint}`,
      type: NonRetryable.Unauthorized,
      nonRetryable: true,
    });
  }
  return { token: body.token, issuedAt: now, expiresAt: jwtExpiry(body.token) ?? now + fallbackLifetimeMs };
}

/** An authentication token of the account: the shared one while it is fresh, else a new login (one at a time). */
export async function serviceAccountToken(
  account: ServiceAccount,
  marathonUrl: string,
  ctx: LoginFailureContext,
): Promise<string> {
  const key = keyOf(account, marathonUrl);
  const session = sessions.get(key);
  if (fresh(session, Date.now())) return session.token;
  let pending = logins.get(key);
  if (!pending) {
    pending = login(account, marathonUrl, ctx)
      .then((s) => (sessions.set(key, s), s))
      .finally(() => logins.delete(key));
    logins.set(key, pending);
  }
  return (await pending).token;
}

/** Marathon refused `token` (401): forget it, so the next call logs in again. */
export function dropServiceAccountToken(account: ServiceAccount, marathonUrl: string, token: string): void {
  const key = keyOf(account, marathonUrl);
  if (sessions.get(key)?.token === token) sessions.delete(key);
}
