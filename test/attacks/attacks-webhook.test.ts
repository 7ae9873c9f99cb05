// Attacks through the webhook and status server (issue 12, findings 6 and 9), against the real
// server and the real Temporal dev server: a valid X-Gitlab-Token must not stand in for a
// signature once signing is on; a service whose repository cannot be resolved is refused at
// intake; and GET /pipelines can be closed with a read token.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startWebhookServer } from '../../client/webhook';
import { temporalAddress } from '../helpers/env';
import { deliver, fixture } from '../webhook/helpers';

let connection: Connection;
let client: Client;
const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-attack-webhook-'));
const suffix = randomUUID().slice(0, 6);
const token = `token-${randomUUID()}`;
const key = randomBytes(32);
const signingSecret = `whsec_${key.toString('base64')}`;
const readToken = `read-${randomUUID()}`;

before(async () => {
  connection = await Connection.connect({ address: temporalAddress() });
  client = new Client({ connection });
  mkdirSync(path.join(dir, 'services'));
  writeFileSync(path.join(dir, 'slipway.yaml'), 'environments:\n  - name: test\n    marathon: http://127.0.0.1:1\n');
  // No `repository` and no GITLAB_URL: the config cannot say where to check the service out from.
  writeFileSync(
    path.join(dir, 'services', 'unresolvable.yaml'),
    `name: unresolvable-${suffix}\ntype: node\ngitlab: { project: mike/diaspora, branches: [master] }\n`,
  );
});
after(async () => {
  await connection.close();
  rmSync(dir, { recursive: true, force: true });
});

const pushBody = () => {
  const sha = (randomUUID() + randomUUID()).replace(/-/g, '').slice(0, 40);
  return JSON.stringify({ ...fixture('push-hook.json'), after: sha, checkout_sha: sha });
};

test('finding 6: with a signing token set, a valid X-Gitlab-Token does not replace the signature', async () => {
  const server = await startWebhookServer({ port: 0, client, configDir: dir, env: {}, token, signingSecret });
  try {
    const body = pushBody();
    const unsigned = await deliver(server.url, body, { 'X-Gitlab-Token': token });
    assert.equal(unsigned.status, 401, JSON.stringify(unsigned.body));
    assert.match(String(unsigned.body.error), /signed delivery/);
    const now = Math.floor(Date.now() / 1000);
    const badlySigned = await deliver(server.url, body, {
      'X-Gitlab-Token': token,
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(now),
      'webhook-signature': `v1,${createHmac('sha256', randomBytes(32)).update(`msg_1.${now}.${body}`).digest('base64')}`,
    });
    assert.equal(badlySigned.status, 401, JSON.stringify(badlySigned.body));
    assert.match(String(badlySigned.body.error), /webhook-signature does not verify/);
    const good = await deliver(server.url, body, {
      'X-Gitlab-Token': token,
      'webhook-id': 'msg_2',
      'webhook-timestamp': String(now),
      'webhook-signature': `v1,${createHmac('sha256', key).update(`msg_2.${now}.${body}`).digest('base64')}`,
    });
    assert.notEqual(good.status, 401, 'a correctly signed delivery is let in');
  } finally {
    await server.close();
  }
});

test('finding 9: a service whose repository cannot be resolved is refused at intake, with the reason', async () => {
  const server = await startWebhookServer({ port: 0, client, configDir: dir, env: {}, token });
  try {
    const res = await deliver(server.url, pushBody(), { 'X-Gitlab-Token': token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.match(String(res.body.ignored), new RegExp(`unresolvable-${suffix}.*repository.*GITLAB_URL`));
    assert.equal(res.body.workflowId, undefined, 'no pipeline was started');
  } finally {
    await server.close();
  }
  // Beside a service that can be checked out, the other one is named as skipped.
  const mixed = path.join(dir, 'mixed');
  mkdirSync(path.join(mixed, 'services'), { recursive: true });
  writeFileSync(path.join(mixed, 'slipway.yaml'), 'environments:\n  - name: test\n    marathon: http://127.0.0.1:1\n');
  writeFileSync(path.join(mixed, 'services', 'a.yaml'), readFileSync(path.join(dir, 'services', 'unresolvable.yaml')));
  writeFileSync(
    path.join(mixed, 'services', 'b.yaml'),
    `name: resolvable-${suffix}\ntype: node\nrepository: /nonexistent\ngitlab: { project: mike/diaspora, branches: [master] }\n`,
  );
  const both = await startWebhookServer({ port: 0, client, configDir: mixed, env: {}, token });
  try {
    const res = await deliver(both.url, pushBody(), { 'X-Gitlab-Token': token });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.match(String(res.body.workflowId), new RegExp(`^pipeline/resolvable-${suffix}/`));
    assert.match(JSON.stringify(res.body.skipped), new RegExp(`unresolvable-${suffix}`));
    await client.workflow.getHandle(String(res.body.workflowId)).terminate('test over');
  } finally {
    await both.close();
  }
});

test('finding 9: with SLIPWAY_READ_TOKEN set, GET /pipelines needs it as a bearer token', async () => {
  const server = await startWebhookServer({
    port: 0,
    client,
    configDir: dir,
    env: { SLIPWAY_READ_TOKEN: readToken },
    token,
  });
  try {
    for (const target of ['/pipelines', '/pipelines/pipeline%2Fsvc%2Fabc']) {
      const anonymous = await fetch(`${server.url}${target}`);
      assert.equal(anonymous.status, 401, target);
      assert.match(((await anonymous.json()) as { error: string }).error, /SLIPWAY_READ_TOKEN|read token/);
      const wrong = await fetch(`${server.url}${target}`, { headers: { Authorization: 'Bearer nope' } });
      assert.equal(wrong.status, 401, target);
    }
    const allowed = await fetch(`${server.url}/pipelines`, { headers: { Authorization: `Bearer ${readToken}` } });
    assert.equal(allowed.status, 200);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'health stays open');
  } finally {
    await server.close();
  }
  const open = await startWebhookServer({ port: 0, client, configDir: dir, env: {}, token });
  try {
    assert.equal((await fetch(`${open.url}/pipelines`)).status, 200, 'without the variable nothing changes');
  } finally {
    await open.close();
  }
});
