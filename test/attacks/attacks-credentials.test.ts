// Attack: a workflow input or message (forgeable by anyone with Temporal namespace access) names
// a Marathon URL of the attacker's. The worker attaches an environment's Marathon credential only
// to the URL its own deploy config names for that environment: a capture server gets nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createMarathonActivities } from '../../activities/marathon';
import { configuredMarathonClient } from '../../activities/marathon-guard';
import { bridgeApp, digest, inActivity } from '../marathon/helpers';

const token = `marathon-token-${Date.now()}`;
const seen: { server: string; headers: IncomingHttpHeaders }[] = [];
let capture: Server;
let configured: Server;
const saved = { ...process.env };

function recorder(name: string): Server {
  // Answers like a Marathon that knows no apps, so the client goes on to a PUT it can record.
  return createServer((req, res) => {
    seen.push({ server: name, headers: req.headers });
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"App not found"}');
  });
}
const urlOf = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

before(async () => {
  capture = recorder('capture');
  configured = recorder('configured');
  await Promise.all([capture, configured].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-guard-'));
  mkdirSync(path.join(dir, 'services'));
  writeFileSync(
    path.join(dir, 'slipway.yaml'),
    `environments:\n  - name: production\n    marathon: ${urlOf(configured)}\n`,
  );
  process.env.SLIPWAY_CONFIG_DIR = dir;
  process.env.MARATHON_PRODUCTION_TOKEN = token;
});
after(() => {
  process.env = saved;
  capture?.close();
  configured?.close();
});

test("an environment's Marathon credential goes only to the URL the worker's config names for it", async () => {
  const { deployToMarathon } = createMarathonActivities({ clientFor: configuredMarathonClient });
  const input = { environment: 'production', pipelineId: 'p', app: bridgeApp('/production/x', digest(1)) };
  const refused = await inActivity(deployToMarathon, [{ ...input, marathonUrl: urlOf(capture) }]).catch(
    (e: unknown) => e,
  );
  assert.ok(refused instanceof ApplicationFailure, `expected a refusal, got ${String(refused)}`);
  assert.equal(refused.type, 'BadConfig');
  assert.match(refused.message, /is not the one configured for environment production .*credentials only there/);
  assert.ok(!refused.message.includes(token));
  assert.deepEqual(
    seen.filter((s) => s.server === 'capture'),
    [],
    'the capture server got no request at all',
  );

  // The configured URL gets the credential (the control: the guard is not simply refusing everything).
  await inActivity(deployToMarathon, [{ ...input, marathonUrl: `${urlOf(configured)}/` }]).catch(() => undefined);
  const sent = seen.filter((s) => s.server === 'configured');
  assert.ok(sent.length > 0, 'the configured Marathon was asked');
  assert.equal(sent[0]?.headers.authorization, `token=${token}`);
});
