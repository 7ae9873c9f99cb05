// Shared by the webhook and CLI tests: a deploy config naming the projects of GitLab's documented
// example payloads (unique service names per test file, so pipelines of other files never collide),
// fixture loading, and a GitLab-like delivery.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';

export const fixturesDir = path.join(__dirname, '..', 'fixtures', 'gitlab');

export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(fixturesDir, name), 'utf8')) as Record<string, unknown>;
}

export interface TestConfig {
  dir: string;
  /** Service for mike/diaspora (branch master) — the documented Push Hook. */
  pushService: string;
  /** Service for jsmith/example (tags v*) — the documented Tag Push Hook. */
  tagService: string;
  tokens: Record<string, string>;
}

export function writeTestConfig(opts: { approverTokens?: Record<string, string> } = {}): TestConfig {
  const suffix = randomUUID().slice(0, 6);
  const dir = mkdtempSync(path.join(os.tmpdir(), `slipway-webhook-${suffix}-`));
  mkdirSync(path.join(dir, 'services'));
  const tokens = opts.approverTokens ?? {
    alice: `alice-${randomUUID()}`,
    bob: `bob-${randomUUID()}`,
    mallory: `mallory-${randomUUID()}`,
  };
  const digests = Object.entries(tokens).map(
    ([name, t]) => `  ${name}: ${createHash('sha256').update(t).digest('hex')}`,
  );
  writeFileSync(
    path.join(dir, 'slipway.yaml'),
    [
      'environments:',
      '  - name: test',
      '    marathon: http://127.0.0.1:1',
      '  - name: integration',
      '    marathon: http://127.0.0.1:1',
      '  - name: production',
      '    marathon: http://127.0.0.1:1',
      '    approval: { approvers: [alice, bob], timeout: 1h }',
      'approverTokens:',
      ...digests,
      '',
    ].join('\n'),
  );
  const pushService = `diaspora-${suffix}`;
  const tagService = `example-${suffix}`;
  writeFileSync(
    path.join(dir, 'services', `${pushService}.yaml`),
    `name: ${pushService}\ntype: node\nrepository: /nonexistent\ngitlab: { project: mike/diaspora, branches: [master, 'release/*'] }\n`,
  );
  writeFileSync(
    path.join(dir, 'services', `${tagService}.yaml`),
    `name: ${tagService}\ntype: node\nrepository: /nonexistent\ngitlab: { project: jsmith/example, branches: [], tags: ['v*'] }\n`,
  );
  return { dir, pushService, tagService, tokens };
}

export interface Delivery {
  status: number;
  body: Record<string, unknown>;
  ms: number;
}

export async function deliver(
  url: string,
  body: unknown,
  headers: Record<string, string | undefined> = {},
): Promise<Delivery> {
  const started = performance.now();
  const res = await fetch(`${url}/webhooks/gitlab`, {
    method: 'POST',
    headers: Object.fromEntries(
      Object.entries({ 'Content-Type': 'application/json', 'X-Gitlab-Event': 'Push Hook', ...headers }).filter(
        ([, v]) => v !== undefined,
      ),
    ) as Record<string, string>,
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
    ms: performance.now() - started,
  };
}
