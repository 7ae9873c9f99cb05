// Delivery events on the deploy worker: the audit line and the notifications, against a real
// HTTP receiver on loopback. Slack-format messages, signed webhooks whose signature the test
// verifies as a receiver would, once per (event, target) across a retried activity and a second
// worker process, short timeouts, refusals counted and never fatal, no secret in the audit folder.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { createEventActivities, type EventRecorderOptions, type RecordResult } from '../../activities/events';
import { readAudit } from '../../common/audit-log';
import { loadDeployConfig } from '../../common/config';
import type { DeliveryEvent } from '../../common/contract';
import { metricsRegistry } from '../../common/prometheus';
import { projectRoot } from '../../common/paths';

interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
}

/** Answers 200 unless told otherwise per path: a status to answer, or no answer at all. */
class Receiver {
  readonly received: Received[] = [];
  readonly answers = new Map<string, number[]>();
  readonly silent = new Set<string>();
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const p = req.url ?? '';
        if (this.silent.has(p)) return;
        const status = this.answers.get(p)?.shift() ?? 200;
        this.received.push({ path: p, headers: req.headers, body, status });
        res.writeHead(status, { 'Content-Type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  accepted(p: string): Received[] {
    return this.received.filter((r) => r.path === p && r.status === 200);
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const receiver = new Receiver();
const slackToken = `T000/B000/${randomUUID()}`;
const signingKey = `key-${randomUUID()}`;
let opts: EventRecorderOptions;
let folder: string;

before(async () => {
  await receiver.start();
  folder = mkdtempSync(path.join(process.env.SLIPWAY_AUDIT_DIR ?? os.tmpdir(), 'notifications-'));
  const config = path.join(folder, 'config');
  mkdirSync(path.join(config, 'services'), { recursive: true });
  writeFileSync(
    path.join(config, 'slipway.yaml'),
    [
      'environments:',
      '  - { name: test, marathon: "http://127.0.0.1:9" }',
      '  - { name: production, marathon: "http://127.0.0.1:9" }',
      'notify:',
      '  - slack: { url: { secret: { env: TEST_SLACK_URL } } }',
      '    events: [waiting-approval, deployed, rolled-back]',
      '  - webhook:',
      `      url: ${receiver.url}/hook`,
      '      secret: { secret: { env: TEST_HOOK_KEY } }',
      '    services: [hello]',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(config, 'services', 'billing.yaml'),
    `name: billing\ntype: node\nnotify:\n  - slack: { url: "${receiver.url}/billing" }\n    environments: [production]\n`,
  );
  opts = {
    auditDir: path.join(folder, 'audit'),
    configDir: config,
    env: {
      TEST_SLACK_URL: `${receiver.url}/services/${slackToken}`,
      TEST_HOOK_KEY: signingKey,
      SLIPWAY_TEMPORAL_UI_URL: 'http://ui.test:8233/',
    },
    sendTimeoutMs: 500,
  };
});

after(() => receiver.stop());

let counter = 0;
function event(fields: Partial<DeliveryEvent> = {}): DeliveryEvent {
  const commit = randomUUID().replace(/-/g, '').padEnd(40, '0');
  const pipelineId = `pipeline/${fields.service ?? 'hello'}/${commit}`;
  return {
    id: `${pipelineId}/run-1/${++counter}-${fields.kind ?? 'deployed'}`,
    kind: 'deployed',
    service: 'hello',
    environment: 'production',
    commit,
    image: `127.0.0.1:5000/hello@sha256:${'a'.repeat(64)}`,
    pipelineId,
    at: new Date().toISOString(),
    ...fields,
  };
}

const activity = () => createEventActivities(opts).recordDeliveryEvent;
const run = (e: DeliveryEvent) => new MockActivityEnvironment().run(activity(), e);
const slackPath = `/services/${slackToken}`;
const forEvent = (p: string, e: DeliveryEvent) =>
  receiver
    .accepted(p)
    .filter(
      (r) => r.body.includes(JSON.stringify(e.pipelineId).slice(1, -1)) || r.body.includes(e.commit!.slice(0, 12)),
    );

/** Runs the plain recorder in a fresh process: nothing in memory from earlier attempts. */
function recordInChild(e: DeliveryEvent): Promise<RecordResult> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'record-in-child.ts'), JSON.stringify(e), JSON.stringify(opts)],
    {
      cwd: projectRoot,
      env: { ...process.env, SLIPWAY_LOG_LEVEL: 'error' },
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) =>
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as RecordResult) : reject(new Error(err)))),
  );
}

async function notificationCount(outcome: string, target: string): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric('slipway_notifications_total')?.get();
  return metric?.values.find((v) => v.labels.outcome === outcome && v.labels.target === target)?.value ?? 0;
}

describe('notifications', () => {
  test('waiting for approval: Slack text with the approve command and the UI link; a signed webhook', async () => {
    const e = event({ kind: 'waiting-approval', approvers: ['alice', 'bob'], deadline: '2026-12-04T10:00:00.000Z' });
    assert.deepEqual(await run(e), { audited: true, sent: 2 });

    const [slack] = forEvent(slackPath, e);
    assert.ok(slack, 'the Slack target received the event');
    assert.equal(slack.headers['content-type'], 'application/json');
    const { text } = JSON.parse(slack.body) as { text: string };
    assert.match(text, /\*hello\* `[0-9a-f]{12}` waits for approval into \*production\* \(approvers: alice, bob\)/);
    assert.ok(
      text.includes(`Approve: \`slipway approve ${e.pipelineId} --env production --token "$SLIPWAY_TOKEN"\``),
      text,
    );
    assert.ok(
      text.includes(
        `Temporal UI: http://ui.test:8233/namespaces/default/workflows/${encodeURIComponent(e.pipelineId)}`,
      ),
      text,
    );

    const [hook] = forEvent('/hook', e);
    assert.ok(hook, 'the webhook target received the event');
    const timestamp = String(hook.headers['x-slipway-timestamp']);
    assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 60, 'a current Unix timestamp');
    const expected = `sha256=${createHmac('sha256', signingKey).update(`${timestamp}.${hook.body}`).digest('hex')}`;
    assert.equal(hook.headers['x-slipway-signature'], expected, 'HMAC-SHA256 of "<timestamp>.<body>"');
    const forged = createHmac('sha256', 'another key').update(`${timestamp}.${hook.body}`).digest('hex');
    assert.notEqual(hook.headers['x-slipway-signature'], `sha256=${forged}`);
    assert.equal(hook.headers['x-slipway-delivery'], e.id);
    assert.equal(hook.headers['x-slipway-event'], 'waiting-approval');
    const body = JSON.parse(hook.body) as { event: DeliveryEvent; text: string; links: { approveCommand?: string } };
    assert.deepEqual(body.event, e);
    assert.match(body.links.approveCommand ?? '', /^slipway approve pipeline\/hello\//);

    assert.deepEqual(
      readAudit(opts.auditDir!, { since: new Date(0) }).filter((a) => a.id === e.id),
      [e],
    );
    const written = readdirSync(opts.auditDir!, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => readFileSync(path.join(f.parentPath, f.name), 'utf8'))
      .join('\n');
    assert.ok(written.includes(e.id), 'the audit folder holds the event');
    assert.ok(!written.includes(slackToken) && !written.includes(signingKey), 'and no secret');
  });

  test('once per event and target: a retried activity and a second worker process send only what is missing', async () => {
    const e = event({ kind: 'deployed' });
    receiver.answers.set('/hook', [500]);
    await assert.rejects(run(e), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, 'NotificationFailed');
      assert.equal(err.nonRetryable, false, 'Temporal retries it');
      assert.match(err.message, /slipway\.yaml\.notify\.1 \(webhook\): the receiver answered HTTP 500/);
      assert.ok(!err.message.includes(slackToken));
      return true;
    });
    assert.equal(forEvent(slackPath, e).length, 1, 'Slack had it on the first attempt');
    assert.equal(forEvent('/hook', e).length, 0);

    // The worker died; another one (a fresh process) runs the retry.
    const retried = await recordInChild(e);
    assert.equal(retried.audited, false, 'the audit line was already there');
    assert.equal(retried.sent.length, 1, 'only the webhook is sent again');
    assert.equal(retried.alreadySent.length, 1);
    assert.equal(forEvent('/hook', e).length, 1);

    assert.deepEqual(await run(e), { audited: false, sent: 0 }, 'a third attempt sends nothing');
    assert.equal(forEvent(slackPath, e).length, 1);
    assert.equal(forEvent('/hook', e).length, 1);
    assert.equal(readAudit(opts.auditDir!, { since: new Date(0) }).filter((a) => a.id === e.id).length, 1);
  });

  test('filters: event kinds, services, environments, and a service file of its own', async () => {
    const rejected = event({ kind: 'rejected', actor: 'bob', reason: 'not today' });
    await run(rejected);
    assert.equal(forEvent(slackPath, rejected).length, 0, 'the Slack target takes three kinds only');
    assert.equal(forEvent('/hook', rejected).length, 1, 'the webhook takes every kind');

    const billingTest = event({ service: 'billing', environment: 'test' });
    const billingProd = event({
      service: 'billing',
      environment: 'production',
      kind: 'rolled-back',
      rolledBackTo: '2026-11-30T10:00:00.000Z',
    });
    await run(billingTest);
    await run(billingProd);
    assert.equal(forEvent('/hook', billingProd).length, 0, 'the webhook is for service hello only');
    assert.equal(forEvent('/billing', billingTest).length, 0, "billing's own target wants production only");
    const [own] = forEvent('/billing', billingProd);
    assert.match(
      (JSON.parse(own?.body ?? '{}') as { text: string }).text,
      /rolled back in \*production\* to 2026-11-30/,
    );
    assert.equal(forEvent(slackPath, billingProd).length, 1, "slipway.yaml's targets apply to billing too");
  });

  test('best effort: a silent receiver times out, a refusal is not retried; both are counted, the audit line stays', async () => {
    const failedBefore = await notificationCount('failed', 'slack');
    const silent = event({ service: 'billing', kind: 'rolled-back', reason: 'boom' });
    receiver.silent.add('/billing');
    receiver.answers.set(slackPath, [404]);
    const result = await createEventActivities(opts)
      .recordDeliveryEvent(silent)
      .then(
        () => 'returned',
        (err: ApplicationFailure) => err.message,
      );
    receiver.silent.delete('/billing');
    // The 404 alone would be final; the timeout is worth a retry.
    assert.match(result, /billing\.yaml\.notify\.0 \(slack\): not delivered: TimeoutError/);
    assert.ok(!result.includes('slipway.yaml.notify.0'), 'a 404 is not retried: sending again changes nothing');
    assert.equal(await notificationCount('failed', 'slack'), failedBefore + 2);
    assert.equal(readAudit(opts.auditDir!, { since: new Date(0) }).filter((a) => a.id === silent.id).length, 1);
  });
});

describe('notify config', () => {
  test('a wrong event kind or a literal signing key is refused with the field and what was expected', () => {
    const dir = mkdtempSync(path.join(folder, 'notify-config-'));
    const write = (notify: string) =>
      writeFileSync(
        path.join(dir, 'slipway.yaml'),
        `environments:\n  - { name: test, marathon: "http://m:8080" }\nnotify:\n${notify}`,
      );
    write('  - slack: { url: "https://hooks.example.com/x" }\n    events: [deploy]\n');
    assert.throws(
      () => loadDeployConfig(dir),
      /field "notify\.0\.events\.0" is "deploy": .*expected one of .*"deployed"/,
    );
    write('  - webhook: { url: "https://hooks.example.com/x", secret: "plain" }\n');
    assert.throws(() => loadDeployConfig(dir), /field "notify\.0\.webhook\.secret" is "plain": .*expected object/);
    write('  - slack: { url: "ftp://hooks.example.com/x" }\n');
    assert.throws(
      () => loadDeployConfig(dir),
      /field "notify\.0\.slack\.url" is "ftp:.*": expected an http\(s\) URL, or a secret reference/,
    );
    write('  - events: [deployed]\n');
    assert.throws(() => loadDeployConfig(dir), /field "notify\.0" .*expected exactly one of "slack" or "webhook"/);
  });
});
