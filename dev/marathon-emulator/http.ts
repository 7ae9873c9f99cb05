// The emulator's HTTP plumbing: a tiny router over node:http, JSON bodies and Marathon-style
// error answers. Kept apart from the routes so api.ts reads as the list of Marathon endpoints.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Raw body text ('' when none). */
  body: string;
  raw: IncomingMessage;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** The route took over the response (server-sent events). */
  streaming?: boolean;
}

export type Handler = (req: Request, res: ServerResponse, params: string[]) => Promise<Reply> | Reply;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  on(method: string, pattern: RegExp, handler: Handler): this {
    this.routes.push({ method, pattern, handler });
    return this;
  }

  /** Marathon answers an unknown path with 404 and a method it does not serve there with 405. */
  async dispatch(req: Request, res: ServerResponse): Promise<Reply> {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(req.path);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      return route.handler(
        req,
        res,
        m.slice(1).map((s) => decodeURIComponent(s ?? '')),
      );
    }
    return pathMatched
      ? { status: 405, body: { message: `HTTP method ${req.method} is not supported by this URL` } }
      : { status: 404, body: { message: `Not Found: ${req.path}` } };
  }
}

export async function readBody(req: IncomingMessage, limit = 5 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error(`request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers).end();
    return;
  }
  const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  headers['Content-Type'] ??= typeof reply.body === 'string' ? 'text/plain' : 'application/json; charset=utf-8';
  res.writeHead(reply.status, headers).end(text);
}

/** Parses a JSON request body the way Marathon answers unparseable bytes: 400 "Invalid JSON" with the parser's text. */
export function parseJson(body: string): { ok: true; value: unknown } | { ok: false; reply: Reply } {
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch (err) {
    return { ok: false, reply: { status: 400, body: { message: 'Invalid JSON', details: (err as Error).message } } };
  }
}

export const isTrue = (v: string | null) => v === 'true' || v === '1';
