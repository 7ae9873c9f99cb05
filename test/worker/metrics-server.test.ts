// The worker's /healthz and /metrics server on its own: what each state of the workers and of
// Temporal answers, and the SDK's exporter text merged with Slipway's registry. The workers are
// stand-ins with the two members the server reads; Temporal is the harness's real dev server (and a
// closed port for "unreachable").
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { freePort } from '../../common/free-port';
import { startMetricsServer, type MetricsServer } from '../../worker/metrics-server';
import { temporalAddress } from '../helpers/env';

let state = 'RUNNING';
const workers = [{ options: { taskQueue: 'slipway' }, getState: () => state }] as unknown as Worker[];
let connection: Connection;
let sdkExporter: Server;
let server: MetricsServer;

before(async () => {
  connection = await Connection.connect({ address: temporalAddress() });
  sdkExporter = createServer((_req, res) => res.end('# TYPE temporal_worker_start counter\ntemporal_worker_start 1\n'));
  await new Promise<void>((resolve) => sdkExporter.listen(0, '127.0.0.1', resolve));
  const sdkPort = (sdkExporter.address() as AddressInfo).port;
  server = await startMetricsServer({
    host: '127.0.0.1',
    port: 0,
    client: new Client({ connection }),
    workers,
    sdkMetricsUrl: `http://127.0.0.1:${sdkPort}/metrics`,
  });
});

after(async () => {
  await server?.close();
  sdkExporter?.close();
  await connection?.close();
});

async function health(url: string) {
  const res = await fetch(`${url}/healthz`);
  return { status: res.status, body: (await res.json()) as { status: string; temporal: string } };
}

test('/healthz: 200 while the workers run, 503 once one stopped', async () => {
  state = 'RUNNING';
  assert.deepEqual(await health(server.url), {
    status: 200,
    body: { status: 'ok', temporal: 'reachable', workers: [{ taskQueue: 'slipway', state: 'RUNNING' }] },
  });
  state = 'STOPPED';
  const stopped = await health(server.url);
  assert.equal(stopped.status, 503);
  assert.equal(stopped.body.status, 'stopped');
  state = 'RUNNING';
});

test('/healthz: Temporal away is degraded but still 200 (replacing the worker would not help)', async () => {
  // Nothing listens there: every call fails as it does when the frontend is down.
  const client = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${await freePort()}` }) });
  const away = await startMetricsServer({ host: '127.0.0.1', port: 0, client, workers });
  try {
    const answer = await health(away.url);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.status, 'degraded');
    assert.match(answer.body.temporal, /^unreachable: /);
  } finally {
    await away.close();
    await client.connection.close();
  }
});

test("/metrics: the SDK exporter's text, then Slipway's own", async () => {
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await res.text();
  const sdk = text.indexOf('temporal_worker_start 1');
  const own = text.indexOf('# TYPE slipway_deploys_total counter');
  assert.ok(sdk >= 0 && own > sdk, text.slice(0, 500));
  assert.match(text, /# TYPE slipway_approvals_waiting gauge/);
});

test('other paths and methods are refused with what to ask instead', async () => {
  const missing = await fetch(`${server.url}/nope`);
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /try GET \/healthz or GET \/metrics/);
  assert.equal((await fetch(`${server.url}/metrics`, { method: 'POST' })).status, 405);
});
