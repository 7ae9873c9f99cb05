// The emulator's DC/OS auth mode: Marathon behind DC/OS accepts only requests carrying
// `Authorization: token=<authentication token>`, and a service account gets such a token from the
// IAM at POST /acs/api/v1/auth/login with `{"uid", "token"}`, the token being a JWT `{"uid", "exp"}`
// it signed RS256 with its private key. Tokens issued here are JWTs with `uid` and `exp` (as
// DC/OS's are) and expire after `tokenTtlSeconds`, so renewal can be tested; the admin API can
// revoke every token at once (a 401 then means "log in again"). Answers: login 200 `{"token"}`,
// refused login 401 `{"title", "description", "code"}` (the IAM's error shape); missing, unknown,
// revoked or expired token 401 with `WWW-Authenticate: acsjwt`.
import { createHmac, createPublicKey, randomBytes, timingSafeEqual, verify } from 'node:crypto';
import type { Reply, Request } from './http';

export interface EmulatorAuthOptions {
  /** Service accounts: uid -> PEM public key. */
  serviceAccounts: Record<string, string>;
  /** Lifetime of an issued authentication token (DC/OS: days; tests: seconds). */
  tokenTtlSeconds?: number;
}

export const loginPath = '/acs/api/v1/auth/login';

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function decodePart(part: string | undefined): Record<string, unknown> | undefined {
  if (!part) return undefined;
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const refused = (description: string): Reply => ({
  status: 401,
  body: { title: 'Invalid authentication credentials', description, code: 'ERR_INVALID_CREDENTIALS' },
});

export class EmulatorAuth {
  private readonly secret = randomBytes(32);
  /** Tokens issued before this moment (seconds) are revoked. */
  private revokedBefore = 0;
  readonly logins: { uid: string; at: string; ok: boolean }[] = [];

  constructor(private readonly opts: EmulatorAuthOptions) {}

  private sign(data: string): string {
    return b64url(createHmac('sha256', this.secret).update(data).digest());
  }

  private issue(uid: string): string {
    const now = Date.now() / 1000;
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = b64url(
      JSON.stringify({ uid, iat: now, exp: Math.floor(now + (this.opts.tokenTtlSeconds ?? 5 * 86400)) }),
    );
    return `${header}.${payload}.${this.sign(`${header}.${payload}`)}`;
  }

  /** POST /acs/api/v1/auth/login. */
  login(req: Request): Reply {
    let body: { uid?: unknown; token?: unknown };
    try {
      body = JSON.parse(req.body) as typeof body;
    } catch {
      return {
        status: 400,
        body: { title: 'Bad Request', description: 'Request has bad JSON', code: 'ERR_MALFORMED' },
      };
    }
    const uid = typeof body.uid === 'string' ? body.uid : '';
    const publicKey = this.opts.serviceAccounts[uid];
    const token = typeof body.token === 'string' ? body.token : '';
    const [header, payload, signature] = token.split('.');
    const claims = decodePart(payload);
    let problem: string | undefined;
    if (!publicKey) problem = `unknown service account "${uid}"`;
    else if (decodePart(header)?.alg !== 'RS256') problem = 'login token must be signed RS256';
    else if (
      !signature ||
      !verify(
        'sha256',
        Buffer.from(`${header}.${payload}`),
        createPublicKey(publicKey),
        Buffer.from(signature, 'base64url'),
      )
    )
      problem = 'login token signature does not match the service account public key';
    else if (claims?.uid !== uid) problem = 'login token uid does not match';
    else if (typeof claims.exp !== 'number' || claims.exp < Date.now() / 1000) problem = 'login token expired';
    this.logins.push({ uid, at: new Date().toISOString(), ok: problem === undefined });
    if (problem) return refused(problem);
    return { status: 200, body: { token: this.issue(uid) } };
  }

  /** undefined when the request carries a valid token, else the 401 to answer. */
  check(req: Request): Reply | undefined {
    const header = String(req.headers.authorization ?? '');
    const token = header.startsWith('token=') ? header.slice('token='.length) : '';
    const [h, p, s] = token.split('.');
    const expected = h && p ? Buffer.from(this.sign(`${h}.${p}`)) : undefined;
    const valid = expected && s && s.length === expected.length && timingSafeEqual(Buffer.from(s), expected);
    const claims = valid ? decodePart(p) : undefined;
    const why = !token
      ? 'no authentication token'
      : !claims
        ? 'invalid authentication token'
        : Number(claims.exp) < Date.now() / 1000
          ? 'authentication token expired'
          : Number(claims.iat) < this.revokedBefore
            ? 'authentication token revoked'
            : undefined;
    if (!why) return undefined;
    return { status: 401, body: { message: `Not Authenticated: ${why}` }, headers: { 'WWW-Authenticate': 'acsjwt' } };
  }

  /** Every token issued so far stops working (admin API). */
  revokeAll(): void {
    this.revokedBefore = Date.now() / 1000;
  }
}
