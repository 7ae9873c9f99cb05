// Slipway example service in TypeScript on Express: /health for Marathon's health check, /version
// for "what runs where". Listens on $PORT0 (Marathon host networking), else $PORT, else 8080.
import express from 'express';

const VERSION = '1.0.0';
const port = Number(process.env.PORT0 || process.env.PORT || 8080);
const app = express();

app.get('/health', (_req, res) => {
  res.json({ status: 'ok' });
});
app.get('/version', (_req, res) => {
  res.json({
    service: 'hello-pnpm',
    version: process.env.APP_VERSION || VERSION,
    commit: process.env.SLIPWAY_COMMIT || null,
  });
});

const server = app.listen(port, () => console.log(`hello-pnpm ${VERSION} listening on ${port}`));
// Marathon stops tasks with SIGTERM: finish in-flight requests, then exit.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
