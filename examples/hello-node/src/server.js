// Slipway example service: /health for Marathon's health check, /version for "what runs where".
// Listens on $PORT0 (Marathon host networking), else $PORT, else 8080.
'use strict';
const http = require('node:http');
const ms = require('ms');

const VERSION = '1.0.0';
const version = process.env.APP_VERSION || VERSION;
const port = Number(process.env.PORT0 || process.env.PORT || 8080);
const startedAt = Date.now();

function send(res, status, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json' });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const path = (req.url || '/').split('?')[0];
  if (path === '/health') return send(res, 200, { status: 'ok' });
  if (path === '/version') {
    return send(res, 200, { service: 'hello-node', version, commit: process.env.SLIPWAY_COMMIT || null });
  }
  if (path === '/') {
    const greeting = process.env.APP_GREETING || 'hello';
    return send(res, 200, `${greeting} from hello-node ${version}, up ${ms(Date.now() - startedAt)}\n`);
  }
  return send(res, 404, { error: 'not found' });
});

server.listen(port, () => console.log(`hello-node ${version} listening on ${port}`));
// Marathon stops tasks with SIGTERM: finish in-flight requests, then exit.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
