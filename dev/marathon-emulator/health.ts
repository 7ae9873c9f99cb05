// Marathon's leader-side health checks (docs/docs/health-checks.md): HTTP/HTTPS pass on a status
// of 200-399 within timeoutSeconds (HTTPS without certificate verification), TCP passes when a
// connection opens. Used by the containers runner against real task ports. Readiness checks pass
// only on their httpStatusCodesForReady.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { ProbeResult } from './runner';

export function httpProbe(
  url: string,
  timeoutMs: number,
  ignoreHttp1xx = false,
  okStatuses?: number[],
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.get(url, { timeout: timeoutMs, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      if (okStatuses)
        resolve(okStatuses.includes(status) ? { ok: true } : { ok: false, cause: `HTTP ${status} from ${url}` });
      else if (status >= 200 && status <= 399) resolve({ ok: true });
      else if (status < 200 && ignoreHttp1xx) resolve({ ok: true });
      else resolve({ ok: false, cause: `HTTP ${status} from ${url}` });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, cause: `${url}: ${err.message}` }));
  });
}

export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs);
    socket.once('connect', () => (socket.destroy(), resolve({ ok: true })));
    socket.once('timeout', () => (socket.destroy(), resolve({ ok: false, cause: `TCP ${host}:${port}: timeout` })));
    socket.once('error', (err) => resolve({ ok: false, cause: `TCP ${host}:${port}: ${err.message}` }));
  });
}
