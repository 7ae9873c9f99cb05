// The small HTTP toolkit of the webhook/status server: JSON answers, bounded body reading, and an
// error type that carries its status code, so a handler can `throw new HttpError(400, ...)` and
// the server turns it into an answer instead of a crash.
import type { IncomingMessage, ServerResponse } from 'node:http';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
    /** Response headers the status calls for, e.g. `Allow` on a 405. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * A body declared above this is not read at all: the answer is a 413 and the connection is closed;
 * one that streams past it is cut off (GitLab itself never sends more than 25 MB).
 */
const hardCapFactor = 32;

/**
 * Reads the body up to `limit` bytes. Beyond the limit the rest is drained and dropped (so the
 * client reads our 413 instead of a reset connection), up to a hard cap where we stop listening.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const tooLarge = () => new HttpError(413, `request body over the limit of ${limit} bytes`, { limit });
  if (Number.isFinite(declared) && declared > limit * hardCapFactor) throw tooLarge();
  return await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = Number.isFinite(declared) && declared > limit;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      if (size > limit * hardCapFactor) {
        req.destroy();
        reject(tooLarge());
        return;
      }
      if (!over) chunks.push(chunk);
    });
    req.on('end', () => (over ? reject(tooLarge()) : resolve(Buffer.concat(chunks))));
    req.on('error', (err) => reject(new HttpError(400, `reading the request body failed: ${err.message}`)));
  });
}

export function requireJsonContentType(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, `expected Content-Type: application/json, got ${type ? `"${type}"` : 'none'}`);
  }
}

export function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw new HttpError(400, 'empty body: expected a JSON object');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `body is not valid JSON: ${(err as Error).message}`);
  }
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
