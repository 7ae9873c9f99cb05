// Source checkout against real git repositories made in a temp folder: the exact commit (not the
// branch tip), file:// and plain paths, short SHAs, retries reusing the folder, clear errors for an
// unknown SHA or an unreachable repository, and a token that reaches the server as a header but
// never appears in arguments, results or errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { buildsRoot, checkoutSource, removeWorkdir, type CheckoutResult } from '../../activities/source';
import { expectApplicationFailure } from '../helpers/git';

const root = mkdtempSync(path.join(os.tmpdir(), 'slipway-source-test-'));
const repo = path.join(root, 'repo');
const runId = path.basename(root);
after(() => {
  rmSync(root, { recursive: true, force: true });
  // Whatever a failed assertion left behind in the shared builds folder.
  for (const dir of existsSync(buildsRoot()) ? readdirSync(buildsRoot()) : []) {
    if (dir.startsWith(`${runId}-`)) rmSync(path.join(buildsRoot(), dir), { recursive: true, force: true });
  }
});

function git(...args: string[]): string {
  return execFileSync('git', args, {
    cwd: repo,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Carol Coder',
      GIT_AUTHOR_EMAIL: 'carol@example.com',
      GIT_COMMITTER_NAME: 'Carol Coder',
      GIT_COMMITTER_EMAIL: 'carol@example.com',
      GIT_COMMITTER_DATE: '2026-11-20T10:00:00Z',
    },
  }).trim();
}

execFileSync('git', ['init', '-q', '-b', 'main', repo]);
writeFileSync(path.join(repo, 'app.txt'), 'version 1\n');
git('add', '-A');
git('commit', '-q', '-m', 'one');
const first = git('rev-parse', 'HEAD');
writeFileSync(path.join(repo, 'app.txt'), 'version 2\n');
git('commit', '-q', '-am', 'two');
const second = git('rev-parse', 'HEAD');

test('checks out exactly the requested commit, not the branch tip, with its date and author', async () => {
  const out: CheckoutResult = await new MockActivityEnvironment().run(checkoutSource, {
    buildId: `${runId}-exact`,
    repoUrl: `file://${repo}`,
    commit: first,
  });
  try {
    assert.equal(out.workdir, path.join(buildsRoot(), `${runId}-exact`));
    assert.equal(out.commit, first);
    assert.equal(readFileSync(path.join(out.workdir, 'app.txt'), 'utf8'), 'version 1\n');
    assert.equal(out.committedAt, '2026-11-20T10:00:00.000Z');
    assert.equal(out.author, 'Carol Coder');
    assert.equal(out.authorEmail, 'carol@example.com');
  } finally {
    await removeWorkdir({ workdir: out.workdir });
  }
  assert.equal(existsSync(out.workdir), false);
  await removeWorkdir({ workdir: out.workdir }); // already gone: still fine
});

test('a retry reuses the folder: local edits are wiped and another commit can be taken', async () => {
  const buildId = `${runId}-retry`;
  const one = await checkoutSource({ buildId, repoUrl: repo, commit: first });
  writeFileSync(path.join(one.workdir, 'app.txt'), 'scribbled by a half-finished attempt\n');
  writeFileSync(path.join(one.workdir, 'stray.tmp'), 'x');
  const again = await checkoutSource({ buildId, repoUrl: repo, commit: first });
  assert.equal(again.workdir, one.workdir);
  assert.equal(readFileSync(path.join(again.workdir, 'app.txt'), 'utf8'), 'version 1\n');
  assert.equal(existsSync(path.join(again.workdir, 'stray.tmp')), false);
  const next = await checkoutSource({ buildId, repoUrl: repo, commit: second });
  assert.equal(readFileSync(path.join(next.workdir, 'app.txt'), 'utf8'), 'version 2\n');
  const short = await checkoutSource({
    buildId: `${runId}-short`,
    repoUrl: `file://${repo}`,
    commit: first.slice(0, 10),
  });
  assert.equal(short.commit, first);
  await removeWorkdir({ workdir: next.workdir });
  await removeWorkdir({ workdir: short.workdir });
});

test('an unknown SHA is a non-retryable SourceUnavailable naming the commit', async () => {
  const missing = 'deadbeef'.repeat(5);
  const err = await expectApplicationFailure(
    checkoutSource({ buildId: `${runId}-unknown`, repoUrl: `file://${repo}`, commit: missing }),
  );
  assert.equal(err.type, 'SourceUnavailable');
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, new RegExp(`commit ${missing} does not exist in file://`));
  const shortErr = await expectApplicationFailure(
    checkoutSource({ buildId: `${runId}-unknown-short`, repoUrl: repo, commit: 'deadbeef1' }),
  );
  assert.equal(shortErr.type, 'SourceUnavailable');
  await removeWorkdir({ workdir: path.join(buildsRoot(), `${runId}-unknown`) });
  await removeWorkdir({ workdir: path.join(buildsRoot(), `${runId}-unknown-short`) });
});

test('an unreachable repository is a non-retryable SourceUnavailable naming it', async () => {
  const err = await expectApplicationFailure(
    checkoutSource({ buildId: `${runId}-nowhere`, repoUrl: path.join(root, 'no-such-repo'), commit: first }),
  );
  assert.equal(err.type, 'SourceUnavailable');
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, /repository .*no-such-repo is unavailable: .*does not appear to be a git repository/);
  const refused = await expectApplicationFailure(
    checkoutSource({ buildId: `${runId}-refused`, repoUrl: 'http://127.0.0.1:1/group/app.git', commit: first }),
  );
  assert.equal(refused.type, 'SourceUnavailable');
  assert.match(refused.message, /127\.0\.0\.1:1.*unavailable/);
  const bad = await expectApplicationFailure(
    checkoutSource({ buildId: `${runId}-bad`, repoUrl: repo, commit: 'main' }),
  );
  assert.equal(bad.type, 'BadConfig');
  await removeWorkdir({ workdir: path.join(buildsRoot(), `${runId}-nowhere`) });
  await removeWorkdir({ workdir: path.join(buildsRoot(), `${runId}-refused`) });
});

test('the token reaches an http(s) server as a header and nowhere else', async () => {
  const token = `glpat-${runId}-secret`;
  const seen: { url?: string; authorization?: string } = {};
  const server = http.createServer((req, res) => {
    seen.url ??= req.url;
    seen.authorization ??= req.headers.authorization;
    res.writeHead(403).end('forbidden');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const saved = process.env.GITLAB_TOKEN;
  const savedUrl = process.env.GITLAB_URL;
  process.env.GITLAB_TOKEN = token;
  // The token goes to the configured GitLab host only (test/attacks covers the other hosts).
  process.env.GITLAB_URL = `http://127.0.0.1:${port}`;
  try {
    const repoUrl = `http://127.0.0.1:${port}/group/app.git`;
    const err = await expectApplicationFailure(checkoutSource({ buildId: `${runId}-token`, repoUrl, commit: first }));
    assert.equal(err.type, 'Unauthorized');
    assert.equal(err.nonRetryable, true);
    assert.match(seen.url ?? '', /^\/group\/app\.git\/info\/refs/);
    assert.equal(seen.authorization, `Basic ${Buffer.from(`oauth2:${token}`).toString('base64')}`);
    assert.ok(
      !err.message.includes(token) && !JSON.stringify(err).includes(token),
      'token must not appear in the error',
    );
    const config = readFileSync(path.join(buildsRoot(), `${runId}-token`, '.git', 'config'), 'utf8');
    assert.ok(!config.includes(token), 'token must not be stored in the checkout');
  } finally {
    if (saved === undefined) delete process.env.GITLAB_TOKEN;
    else process.env.GITLAB_TOKEN = saved;
    if (savedUrl === undefined) delete process.env.GITLAB_URL;
    else process.env.GITLAB_URL = savedUrl;
    server.close();
    await removeWorkdir({ workdir: path.join(buildsRoot(), `${runId}-token`) });
  }
});

test('removeWorkdir refuses folders that are not build folders', async () => {
  await assert.rejects(removeWorkdir({ workdir: root }), /not a Slipway build folder/);
  await assert.rejects(
    removeWorkdir({ workdir: path.join(buildsRoot(), '..', 'elsewhere') }),
    /not a Slipway build folder/,
  );
});
