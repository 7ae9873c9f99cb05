// Monorepos: services with `paths` start a pipeline only when a push changes one of their files.
// The pure part on GitLab's documented Push Hook (changed files from the commits' added /
// modified / removed), including the truncated payload (GitLab lists 20 commits at most) and a
// commit that lists no files, both settled by GitLab's compare API; then the real webhook server
// on the real Temporal dev server with a fake GitLab API answering the compare (and failing it).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { loadDeployConfig, type DeployConfig } from '../../common/config';
import { globMatches } from '../../common/path-glob';
import { ConfigError } from '../../common/errors';
import { interpretGitlabDelivery } from '../../client/webhook/gitlab-intake';
import { startWebhookServer, type WebhookServer } from '../../client/webhook';
import { startFakeGitlab, type FakeGitlab } from '../gitlab/fake-gitlab';
import { temporalAddress } from '../helpers/env';
import { deliver, fixture } from './helpers';
import { randomSha } from './world';

const suffix = randomUUID().slice(0, 6);
const project = `mono-${suffix}/repo`;
const names = { payments: `payments-${suffix}`, ledger: `ledger-${suffix}`, web: `web-${suffix}` };

function writeConfig(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `slipway-mono-${suffix}-`));
  mkdirSync(path.join(dir, 'services'));
  writeFileSync(path.join(dir, 'slipway.yaml'), 'environments:\n  - name: test\n    marathon: http://127.0.0.1:1\n');
  const service = (name: string, paths?: string[]) =>
    writeFileSync(
      path.join(dir, 'services', `${name}.yaml`),
      `name: ${name}\ntype: node\nrepository: /nonexistent\ngitlab: { project: ${project}, branches: [main], tags: ['v*'] }\n` +
        (paths ? `paths: ${JSON.stringify(paths)}\n` : ''),
    );
  service(names.payments, ['services/payments/**']);
  service(names.ledger, ['services/ledger/**', 'libs/money/*.ts']);
  service(names.web);
  return dir;
}

const configDir = writeConfig();
const config: DeployConfig = loadDeployConfig(configDir);

type Files = { added?: string[]; modified?: string[]; removed?: string[] };

/** GitLab's documented Push Hook, moved to this project and branch, with these commits' files. */
function push(commits: Files[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  const base = fixture('push-hook.json');
  const after = randomSha();
  const template = (base.commits as Record<string, unknown>[])[0] as Record<string, unknown>;
  const listed = commits.map((files, i) => {
    const c: Record<string, unknown> = { ...template, id: i === commits.length - 1 ? after : randomSha() };
    delete c.added;
    delete c.modified;
    delete c.removed;
    return { ...c, ...files };
  });
  return {
    ...base,
    ref: 'refs/heads/main',
    before: randomSha(),
    after,
    checkout_sha: after,
    project: { ...(base.project as object), path_with_namespace: project },
    commits: listed,
    total_commits_count: listed.length,
    ...extra,
  };
}

const interpret = (body: unknown, changed?: Parameters<typeof interpretGitlabDelivery>[5]) =>
  interpretGitlabDelivery('Push Hook', body, config, undefined, {}, changed);
const started = (d: ReturnType<typeof interpret>) =>
  d.kind === 'start' ? d.pipelines.map((p) => p.service).sort() : d.kind;

describe('paths globs', () => {
  test('** is any depth, * stays inside one segment, the rest is literal', () => {
    const cases: [string, string, boolean][] = [
      ['services/payments/**', 'services/payments/src/a.ts', true],
      ['services/payments/**', 'services/payments/Dockerfile', true],
      ['services/payments/**', 'services/payments-v2/Dockerfile', false],
      ['services/payments/**', 'services/paymentsX/a', false],
      ['services/*/Dockerfile', 'services/ledger/Dockerfile', true],
      ['services/*/Dockerfile', 'services/ledger/sub/Dockerfile', false],
      ['libs/money/*.ts', 'libs/money/round.ts', true],
      ['libs/money/*.ts', 'libs/money/sub/round.ts', false],
      ['libs/money/*.ts', 'libs/money/round.tsx', false],
      ['**/*.md', 'README.md', true],
      ['**/*.md', 'docs/a/b.md', true],
      ['docs/a.md', 'docs/aXmd', false],
    ];
    for (const [glob, file, expected] of cases) assert.equal(globMatches(glob, file), expected, `${glob} ~ ${file}`);
  });

  test('a path that leaves the repository or is absolute is a config error naming the field', () => {
    const dir = writeConfig();
    writeFileSync(path.join(dir, 'services', 'bad.yaml'), 'name: bad\ntype: node\npaths: ["/etc/**"]\n');
    assert.throws(
      () => loadDeployConfig(dir),
      (err: Error) =>
        err instanceof ConfigError &&
        /field "paths.0" is "\/etc\/\*\*": expected a repository-relative glob like "services\/payments\/\*\*"/.test(
          err.message,
        ),
    );
  });
});

describe('which services a push starts (pure)', () => {
  test('a push starts the services whose paths it touches, services without paths, and says who was skipped', () => {
    const d = interpret(push([{ modified: ['services/payments/src/app.ts'] }, { added: ['README.md'] }]));
    assert.deepEqual(started(d), [names.payments, names.web].sort());
    assert.equal(d.kind, 'start');
    assert.deepEqual(d.kind === 'start' && d.skipped, [
      `${names.ledger}: no changed file matches paths services/ledger/**, libs/money/*.ts`,
    ]);
    const removed = interpret(push([{ removed: ['libs/money/round.ts'] }]));
    assert.deepEqual(started(removed), [names.ledger, names.web].sort(), 'a removed file counts');
  });

  test('a push touching only files of no service with paths starts only the services without paths', () => {
    const d = interpret(push([{ modified: ['docs/intro.md'] }]));
    assert.deepEqual(started(d), [names.web]);
  });

  test('a truncated payload (20 of 25 commits) or a commit without file lists asks for the changed files', () => {
    const truncated = push(
      Array.from({ length: 20 }, () => ({ modified: ['docs/x.md'] })),
      { total_commits_count: 25 },
    );
    const first = interpret(truncated);
    assert.equal(first.kind, 'needs-changed-files');
    assert.match(first.kind === 'needs-changed-files' ? first.why : '', /lists 20 of 25 commits/);
    // The commits GitLab did not list touched payments: the compare says so.
    const decided = interpret(truncated, { files: ['docs/x.md', 'services/payments/pom.xml'] });
    assert.deepEqual(started(decided), [names.payments, names.web].sort());

    const noFiles = interpret(push([{}]));
    assert.equal(noFiles.kind, 'needs-changed-files');
    assert.match(noFiles.kind === 'needs-changed-files' ? noFiles.why : '', /lists no files/);
  });

  test('when the changed files cannot be known every service is delivered, with a note', () => {
    const d = interpret(push([{}]), { unknown: "GitLab's compare answered 500" });
    assert.deepEqual(started(d), Object.values(names).sort());
    assert.match(
      d.kind === 'start' ? (d.note ?? '') : '',
      /paths not checked, every service delivered: GitLab's compare answered 500/,
    );
  });

  test('a tag push and a new branch deliver regardless of paths', () => {
    const tag = fixture('tag-push-hook.json');
    const tagBody = {
      ...tag,
      ref: 'refs/tags/v1.0.0',
      project: { ...(tag.project as object), path_with_namespace: project },
    };
    assert.deepEqual(
      started(interpretGitlabDelivery('Tag Push Hook', tagBody, config, undefined, {})),
      Object.values(names).sort(),
    );
    const newBranch = push([{ modified: ['docs/x.md'] }], { before: '0'.repeat(40) });
    assert.deepEqual(started(interpret(newBranch)), Object.values(names).sort());
  });

  test('a push that starts nothing is ignored with the skipped services and why', () => {
    const onlyPaths = new Map([...config.services].filter(([name]) => name !== names.web));
    const d = interpretGitlabDelivery(
      'Push Hook',
      push([{ modified: ['docs/x.md'] }]),
      { ...config, services: onlyPaths },
      undefined,
      {},
    );
    assert.equal(d.kind, 'ignored');
    assert.match(d.kind === 'ignored' ? d.reason : '', /changes no file in the paths of its services/);
    assert.equal(d.kind === 'ignored' && d.skipped?.length, 2);
  });
});

describe('POST /webhooks/gitlab with monorepo paths', () => {
  const token = `hook-${randomUUID()}`;
  const gitlabToken = `glpat-${randomUUID()}`;
  let connection: Connection;
  let client: Client;
  let server: WebhookServer;
  let gitlab: FakeGitlab;
  const ids = new Set<string>();

  before(async () => {
    connection = await Connection.connect({ address: temporalAddress() });
    client = new Client({ connection });
    gitlab = await startFakeGitlab({ token: gitlabToken, projects: { [project]: { id: 77, refs: ['main'] } } });
    server = await startWebhookServer({
      port: 0,
      client,
      token,
      configDir,
      env: { GITLAB_URL: gitlab.url, GITLAB_TOKEN: gitlabToken },
    });
  });

  after(async () => {
    for (const id of ids)
      await client.workflow
        .getHandle(id)
        .terminate('test over')
        .catch(() => undefined);
    await server?.close();
    await gitlab?.close();
    await connection?.close();
  });

  const post = async (body: Record<string, unknown>) => {
    const res = await deliver(server.url, body, { 'X-Gitlab-Token': token });
    for (const p of (res.body.pipelines as { workflowId: string }[] | undefined) ?? []) ids.add(p.workflowId);
    if (typeof res.body.workflowId === 'string') ids.add(res.body.workflowId);
    return res;
  };

  test('a truncated push is settled by GitLab compare: only the services it touched start, the reply lists the rest', async () => {
    const body = push(
      Array.from({ length: 20 }, () => ({ modified: ['docs/x.md'] })),
      { total_commits_count: 21 },
    );
    gitlab.comparisons.set(`${String(body.before)}..${String(body.checkout_sha)}`, {
      commits: [{ id: String(body.checkout_sha) }],
      diffs: [
        { old_path: 'docs/x.md', new_path: 'docs/x.md' },
        { old_path: 'libs/money/old.ts', new_path: 'libs/money/round.ts' },
      ],
    });
    const res = await post(body);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const pipelines = (res.body.pipelines as { workflowId: string }[]).map((p) => p.workflowId).sort();
    assert.deepEqual(
      pipelines,
      [names.ledger, names.web].map((n) => `pipeline/${n}/${String(body.checkout_sha)}`).sort(),
    );
    assert.deepEqual(res.body.skipped, [`${names.payments}: no changed file matches paths services/payments/**`]);
    const compare = gitlab.requests.find((r) => r.path.includes('/repository/compare'));
    assert.ok(compare, 'GitLab compare was asked');
    assert.equal(compare.token, gitlabToken);
    assert.match(compare.path, new RegExp(`from=${String(body.before)}&to=${String(body.checkout_sha)}`));
  });

  test('a push listing every file asks GitLab nothing; one that touches no service with paths says so', async () => {
    const asked = gitlab.requests.length;
    const res = await post(push([{ modified: ['services/payments/a.ts'] }]));
    assert.equal(res.status, 202);
    assert.deepEqual(res.body.skipped, [
      `${names.ledger}: no changed file matches paths services/ledger/**, libs/money/*.ts`,
    ]);
    assert.equal(gitlab.requests.length, asked, 'no GitLab call');
  });

  test('when GitLab cannot compare (500), every service is delivered and the reply says why', async () => {
    gitlab.failNext(1);
    const res = await post(push([{}]));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal((res.body.pipelines as unknown[]).length, 3);
    assert.match(String(res.body.note), /paths not checked, every service delivered: GitLab's compare failed: .*500/);
  });
});
