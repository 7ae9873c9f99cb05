// Who may read (pipelines, the inventory, the board). With SLIPWAY_READ_TOKEN set, a reader shows
// it either as `Authorization: Bearer <token>` (API clients, curl, the CLI) or, in a browser, as
// the `slipway_read` cookie. A browser gets the cookie by opening the board once with
// `?token=<token>`: the server checks it, sets the cookie (HttpOnly, SameSite=Strict, so scripts
// and other sites cannot use it) and redirects to the same page without the token in the address.
// Decisions never take the cookie: they need an approver's own bearer token.
import type { IncomingMessage } from 'node:http';
import { secretMatches } from './auth';
import { header, HttpError } from './http';

export const readCookieName = 'slipway_read';

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (header(req, 'cookie') ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key !== name) continue;
    try {
      return decodeURIComponent(rest.join('='));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** True when no read token is configured, or the request shows it (bearer header or cookie). */
export function mayRead(req: IncomingMessage, readToken: string | undefined): boolean {
  if (readToken === undefined) return true;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header(req, 'authorization') ?? '')?.[1];
  return secretMatches(bearer, readToken) || secretMatches(cookieValue(req, readCookieName), readToken);
}

export function requireReader(req: IncomingMessage, readToken: string | undefined): void {
  if (mayRead(req, readToken)) return;
  throw new HttpError(
    401,
    'reading needs the read token (SLIPWAY_READ_TOKEN) as "Authorization: Bearer <token>" (or, in a browser, open /board?token=<token> once)',
    {},
    { 'WWW-Authenticate': 'Bearer realm="slipway"' },
  );
}

/** The Set-Cookie value that lets this browser read from now on (30 days). */
export function readCookie(token: string, req: IncomingMessage): string {
  // Behind a TLS-terminating ingress the browser speaks https: then the cookie must never go over http.
  const secure = header(req, 'x-forwarded-proto')?.toLowerCase() === 'https' ? '; Secure' : '';
  return `${readCookieName}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000${secure}`;
}
