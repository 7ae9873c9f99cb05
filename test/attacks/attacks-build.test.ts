// Attacks on the build host through the repository a service team owns (issue 12, findings 4, 5,
// 6, 7 and 8 on the build side), on the real stack: real git repositories in a temp folder,
// checked out by the real checkout activity and built by the real Docker engine. Each test is
// what an attacker commits or configures, and what must hold afterwards.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Dockerode from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createDockerActivities, type BuildImageInput } from '../../activities/docker';
import { renderDockerfile } from '../../activities/dockerfile';
import { buildsRoot, checkoutSource, removeWorkdir } from '../../activities/source';
import { registryAddress } from '../helpers/env';
import { expectApplicationFailure, git } from '../helpers/git';

const docker = new Dockerode();
const activities = createDockerActivities({ docker });
const registry = registryAddress();
const run = randomUUID().slice(0, 8);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'slipway-attack-build-'));
/** Outside every checkout: what an escaping link points at. */
const outside = path.join(scratch, 'host');
mkdirSync(outside);
const victimFile = path.join(outside, 'victim.txt');
const victimText = 'a file of the build host\n';
writeFileSync(victimFile, victimText);
const victimDir = path.join(outside, 'victim-dir');
mkdirSync(victimDir);
writeFileSync(path.join(victimDir, 'host-secret.txt'), 'host secret\n');

after(async () => {
  rmSync(scratch, { recursive: true, force: true });
  for (const dir of existsSync(buildsRoot()) ? readdirSync(buildsRoot()) : []) {
    if (dir.startsWith(`attack-${run}-`)) rmSync(path.join(buildsRoot(), dir), { recursive: true, force: true });
  }
  const images = await docker.listImages({ filters: { reference: [`${registry}/attack-${run}-*`] } });
  for (const image of images)
    await docker
      .getImage(image.Id)
      .remove({ force: true })
      .catch(() => undefined);
});

/** A node service repository; `plant` adds what the attacker commits (links included). */
function repository(name: string, plant: (dir: string) => void): { dir: string; commit: string } {
  const dir = path.join(scratch, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'index.js'), 'console.log("hello")\n');
  plant(dir);
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'initial');
  return { dir, commit: git(dir, 'rev-parse', 'HEAD') };
}

/** Checks the repository out and builds it as the pipeline would, with `build` settings. */
async function checkoutAndBuild(
  name: string,
  repo: { dir: string; commit: string },
  build: Partial<BuildImageInput> = {},
): Promise<void> {
  const buildId = `attack-${run}-${name}`;
  const { workdir } = await checkoutSource({ buildId, repoUrl: repo.dir, commit: repo.commit });
  const input: BuildImageInput = {
    buildId,
    workdir,
    service: `attack-${run}-${name}`,
    type: 'node',
    pipelineId: `pipeline/${name}/${repo.commit}`,
    commit: repo.commit,
    repository: `${registry}/attack-${run}-${name}`,
    tag: repo.commit.slice(0, 12),
    baseImages: { build: 'local/node:18', runtime: 'local/node:18-slim' },
    port: 8080,
    ...build,
  };
  try {
    await new MockActivityEnvironment().run(activities.buildImage, input);
  } finally {
    await removeWorkdir({ workdir });
  }
}

/** The build must fail at once (non-retryable), naming the linked path, with the host untouched. */
async function assertRefused(name: string, promise: Promise<unknown>, linkedPath: string): Promise<void> {
  const err = await expectApplicationFailure(promise);
  assert.equal(err.nonRetryable, true, `${name}: a retry cannot fix the repository: ${err.message}`);
  assert.ok(err.message.includes(linkedPath), `${name}: the error names ${linkedPath}: ${err.message}`);
  assert.match(err.message, /symbolic link/, `${name}: the error says why: ${err.message}`);
  assert.equal(readFileSync(victimFile, 'utf8'), victimText, `${name}: the host file is unchanged`);
  assert.deepEqual(readdirSync(victimDir), ['host-secret.txt'], `${name}: nothing was written into the host folder`);
}

test('finding 4: a committed .slipway-build/Dockerfile link does not make the build host overwrite a file', async () => {
  const repo = repository('dockerfile-link', (dir) => {
    mkdirSync(path.join(dir, '.slipway-build'));
    symlinkSync(victimFile, path.join(dir, '.slipway-build', 'Dockerfile'));
  });
  await assertRefused('dockerfile-link', checkoutAndBuild('dockerfile-link', repo), '.slipway-build/Dockerfile');
});

test('finding 4: a committed .slipway-build link to a host folder gets nothing written into it', async () => {
  const repo = repository('generated-dir-link', (dir) => symlinkSync(victimDir, path.join(dir, '.slipway-build')));
  await assertRefused('generated-dir-link', checkoutAndBuild('generated-dir-link', repo), '.slipway-build');
});

test('finding 4: a build context that is a link does not send a host folder to the daemon', async () => {
  const repo = repository('context-link', (dir) => symlinkSync(victimDir, path.join(dir, 'app')));
  await assertRefused('context-link', checkoutAndBuild('context-link', repo, { context: 'app' }), 'app');
});

test('finding 4: linked package.json, .dockerignore, own Dockerfile and template are not read from the host', async () => {
  const cases: [string, (dir: string) => void, Partial<BuildImageInput>, string][] = [
    ['manifest-link', (dir) => symlinkSync(victimFile, path.join(dir, 'package.json')), {}, 'package.json'],
    ['ignore-link', (dir) => symlinkSync(victimFile, path.join(dir, '.dockerignore')), {}, '.dockerignore'],
    [
      'own-dockerfile-link',
      (dir) => symlinkSync(victimFile, path.join(dir, 'Dockerfile')),
      { dockerfile: 'Dockerfile' },
      'Dockerfile',
    ],
    [
      'template-link',
      (dir) => {
        mkdirSync(path.join(dir, 'ci'));
        symlinkSync(outside, path.join(dir, 'ci', 'templates'));
      },
      { template: 'ci/templates/victim.txt' },
      'ci/templates',
    ],
  ];
  for (const [name, plant, build, linked] of cases) {
    const repo = repository(name, plant);
    await assertRefused(name, checkoutAndBuild(name, repo, build), linked);
  }
});

test('finding 4: links inside the context that stay links still build (the tar never follows them)', async () => {
  const repo = repository('inner-link', (dir) => {
    symlinkSync(victimDir, path.join(dir, 'host-link'));
    writeFileSync(path.join(dir, '.dockerignore'), 'node_modules\n');
  });
  await checkoutAndBuild('inner-link', repo);
  const image = `${registry}/attack-${run}-inner-link:${repo.commit.slice(0, 12)}`;
  // The link arrives in the image as a link, never as the host folder's contents.
  const out = execFileSync(
    'docker',
    ['run', '--rm', '--entrypoint', 'sh', image, '-c', 'test -L /app/host-link && echo is-a-link; ls -A /app'],
    { encoding: 'utf8' },
  );
  assert.match(out, /^is-a-link$/m, `the link is kept as a link: ${out}`);
  assert.ok(!out.includes('host-secret.txt'), `the host folder was not copied: ${out}`);
});

const dockerfileInput = {
  service: 'svc',
  type: 'node',
  commit: 'a'.repeat(40),
  pipelineId: 'pipeline/svc/a',
  baseImages: { build: 'local/node:18', runtime: 'local/node:18-slim' },
  port: 8080,
};

test('finding 5: a newline in a build command, a base image or a file name adds no Dockerfile line', async () => {
  const cases: [string, Parameters<typeof renderDockerfile>[0], RegExp][] = [
    ['buildCommand', { ...dockerfileInput, buildCommand: 'npm test\nRUN touch /pwned' }, /buildCommand/],
    ['buildCommand', { ...dockerfileInput, buildCommand: 'npm test \\' }, /buildCommand/],
    [
      'base image',
      { ...dockerfileInput, baseImages: { build: 'local/node:18\nRUN touch /pwned', runtime: 'x' } },
      /buildImage/,
    ],
    ['startCommand', { ...dockerfileInput, startCommand: 'node .\rRUN x' }, /startCommand/],
  ];
  for (const [what, input, names] of cases) {
    assert.throws(
      () => renderDockerfile(input),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure, `${what}: ${String(err)}`);
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, names, `${what}: the error names the field`);
        assert.match(err.message, /control character|line/, `${what}: the error says what is wrong`);
        return true;
      },
    );
  }
  // A .NET project file named to inject a shell command into CMD or a line into COPY.
  const workdir = path.join(scratch, 'dotnet-names');
  mkdirSync(workdir);
  writeFileSync(path.join(workdir, 'x;touch pwned.csproj'), '<Project/>');
  assert.throws(
    () => renderDockerfile({ ...dockerfileInput, type: 'dotnet', workdir }),
    /"x;touch pwned\.csproj".*expected letters, digits/,
  );
});

// ---- finding 6: the checked-out commit must belong to the ref it is deployed as ----

test('finding 6: a commit that is not on the pushed branch is refused; an older one on it is accepted', async () => {
  const repo = repository('ref-check', () => undefined);
  const base = repo.commit;
  writeFileSync(path.join(repo.dir, 'index.js'), 'console.log("two")\n');
  git(repo.dir, 'commit', '-q', '-am', 'two');
  const head = git(repo.dir, 'rev-parse', 'HEAD');
  git(repo.dir, 'checkout', '-q', '-b', 'evil', base);
  writeFileSync(path.join(repo.dir, 'index.js'), 'console.log("evil")\n');
  git(repo.dir, 'commit', '-q', '-am', 'evil');
  const evil = git(repo.dir, 'rev-parse', 'HEAD');
  git(repo.dir, 'tag', 'v1', base);
  git(repo.dir, 'checkout', '-q', 'main');

  const checkout = (name: string, commit: string, ref: string) =>
    checkoutSource({ buildId: `attack-${run}-${name}`, repoUrl: repo.dir, commit, ref });
  const refused = await expectApplicationFailure(checkout('ref-evil', evil, 'refs/heads/main'));
  assert.equal(refused.nonRetryable, true);
  assert.match(refused.message, new RegExp(`${evil}.*not.*refs/heads/main`));
  assert.equal((await checkout('ref-head', head, 'refs/heads/main')).commit, head);
  assert.equal((await checkout('ref-older', base, 'refs/heads/main')).commit, base, 'a branch moved on since the push');
  assert.equal((await checkout('ref-tag', base, 'refs/tags/v1')).commit, base);
  const wrongTag = await expectApplicationFailure(checkout('ref-tag-wrong', head, 'refs/tags/v1'));
  assert.match(wrongTag.message, /refs\/tags\/v1/);
  const gone = await expectApplicationFailure(checkout('ref-missing', head, 'refs/heads/nope'));
  assert.match(gone.message, /refs\/heads\/nope/);
});

// ---- finding 7: git credentials only to the configured GitLab host, over https ----

async function captureServer(
  host = '127.0.0.1',
): Promise<{ url: string; authorization: () => string | undefined; close(): void }> {
  let authorization: string | undefined;
  const server = http.createServer((req, res) => {
    authorization ??= req.headers.authorization;
    res.writeHead(403).end('forbidden');
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://${host}:${port}`, authorization: () => authorization, close: () => server.close() };
}

async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('finding 7: the git token goes to the GitLab host only, and SLIPWAY_GIT_TOKEN wins over GITLAB_TOKEN', async () => {
  const gitlab = await captureServer();
  const elsewhere = await captureServer();
  const basic = (token: string) => `Basic ${Buffer.from(`oauth2:${token}`).toString('base64')}`;
  try {
    await withEnv(
      { GITLAB_URL: gitlab.url, GITLAB_TOKEN: 'gitlab-api-token', SLIPWAY_GIT_TOKEN: 'git-clone-token' },
      async () => {
        const commit = 'b'.repeat(40);
        await expectApplicationFailure(
          checkoutSource({ buildId: `attack-${run}-cred-gl`, repoUrl: `${gitlab.url}/g/app.git`, commit }),
        );
        await expectApplicationFailure(
          checkoutSource({ buildId: `attack-${run}-cred-else`, repoUrl: `${elsewhere.url}/g/app.git`, commit }),
        );
      },
    );
    assert.equal(gitlab.authorization(), basic('git-clone-token'), 'SLIPWAY_GIT_TOKEN is the clone credential');
    assert.equal(elsewhere.authorization(), undefined, 'no credential to a host other than GITLAB_URL');
  } finally {
    gitlab.close();
    elsewhere.close();
    for (const n of ['cred-gl', 'cred-else'])
      await removeWorkdir({ workdir: path.join(buildsRoot(), `attack-${run}-${n}`) });
  }
});

test('finding 7: a redirect from the GitLab host does not carry the git token to another host', async () => {
  const elsewhere = await captureServer('127.0.0.2');
  const gitlab = http.createServer((req, res) => res.writeHead(301, { Location: `${elsewhere.url}${req.url}` }).end());
  await new Promise<void>((resolve) => gitlab.listen(0, '127.0.0.1', resolve));
  const gitlabUrl = `http://127.0.0.1:${(gitlab.address() as AddressInfo).port}`;
  try {
    await withEnv({ GITLAB_URL: gitlabUrl, GITLAB_TOKEN: 'gitlab-api-token', SLIPWAY_GIT_TOKEN: undefined }, () =>
      expectApplicationFailure(
        checkoutSource({
          buildId: `attack-${run}-redirect`,
          repoUrl: `${gitlabUrl}/g/app.git`,
          commit: 'b'.repeat(40),
        }),
      ),
    );
    assert.equal(elsewhere.authorization(), undefined, 'the redirected request carries no credential');
  } finally {
    gitlab.close();
    elsewhere.close();
    await removeWorkdir({ workdir: path.join(buildsRoot(), `attack-${run}-redirect`) });
  }
});

test('finding 7: no git credential over plain http to a host that is not loopback', async () => {
  // Nothing listens on 192.0.2.1 (TEST-NET-1); git is asked only to show the header it would send.
  await withEnv({ GITLAB_URL: 'http://192.0.2.1', GITLAB_TOKEN: 'gitlab-api-token' }, async () => {
    const { gitCredentialHeader } = await import('../../activities/git-credentials');
    assert.equal(gitCredentialHeader('http://192.0.2.1/g/app.git'), undefined);
    assert.ok(gitCredentialHeader('http://127.0.0.1/g/app.git') === undefined, 'loopback, but not the GitLab host');
  });
  await withEnv({ GITLAB_URL: 'https://gitlab.example.com', GITLAB_TOKEN: 't' }, async () => {
    const { gitCredentialHeader } = await import('../../activities/git-credentials');
    assert.ok(gitCredentialHeader('https://gitlab.example.com/g/app.git'));
    assert.equal(gitCredentialHeader('http://gitlab.example.com/g/app.git'), undefined, 'plain http');
    assert.equal(gitCredentialHeader('https://gitlab.example.com.evil.test/g/app.git'), undefined);
  });
});

// ---- finding 8: a stalled transfer is failed by the progress watchdog, not held for hours ----

test('finding 8: a git fetch that stops making progress fails after the stall limit', async () => {
  // Accepts connections and never answers: a transfer that hangs forever.
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const beats: unknown[] = [];
  try {
    await withEnv({ SLIPWAY_STALL_SECONDS: '2' }, async () => {
      const env = new MockActivityEnvironment();
      env.on('heartbeat', (d: unknown) => beats.push(d));
      const started = Date.now();
      const err = await env
        .run(checkoutSource, {
          buildId: `attack-${run}-stall`,
          repoUrl: `http://127.0.0.1:${port}/g/app.git`,
          commit: 'c'.repeat(40),
        })
        .then(
          () => assert.fail('a stalled fetch must fail'),
          (e: unknown) => e as Error,
        );
      assert.match(err.message, /no progress for 2 s/);
      assert.ok(Date.now() - started < 30_000, 'failed by the watchdog, not by a far timeout');
    });
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
    await removeWorkdir({ workdir: path.join(buildsRoot(), `attack-${run}-stall`) });
  }
  assert.ok(beats.length > 0, 'heartbeats were sent');
  assert.ok(
    beats.every((b) => typeof (b as { progress?: unknown }).progress === 'number'),
    `heartbeats carry progress: ${JSON.stringify(beats)}`,
  );
});
