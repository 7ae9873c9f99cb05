// The build activities against the real Docker engine and registry: each example is checked out
// from a git repository, built from its template on the local base images, pushed (digest read
// back from the registry API), run and asked for /health; a one-line edit then rebuilds with the
// dependency layers from cache. Also: a failing step, cancellation, the service's own Dockerfile,
// retagging in the registry. Build times are printed for the cold and the warm build.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Dockerode from 'dockerode';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createDockerActivities, type BuildImageInput, type BuildImageResult } from '../../activities/docker';
import { checkoutSource, removeWorkdir } from '../../activities/source';
import { examplesDir, projectRoot } from '../../common/paths';
import { registryAddress } from '../helpers/env';
import { git } from '../helpers/git';
import { until } from '../helpers/wait';

const docker = new Dockerode();
const activities = createDockerActivities({ docker });
const registry = registryAddress();
const run = randomUUID().slice(0, 8);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'slipway-build-test-'));
const cleanup: (() => Promise<unknown>)[] = [];

const baseImages = {
  node: { build: 'local/node:18', runtime: 'local/node:18-slim' },
  java: { build: 'local/jdk:17', runtime: 'local/jre:17' },
  python: { build: 'local/python:3.11', runtime: 'local/python:3.11-slim' },
} as const;
type Type = keyof typeof baseImages;

before(async () => {
  const needed = [...Object.values(baseImages).flatMap((b) => [b.build, b.runtime]), 'local/busybox:httpd'];
  for (const image of needed) {
    await docker
      .getImage(image)
      .inspect()
      .catch(() => assert.fail(`base image ${image} is missing: run bash dev/base-images.sh (npm test does it)`));
  }
});

after(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  rmSync(scratch, { recursive: true, force: true });
});

/** A git repository holding a copy of an example; returns its path and first commit. */
function exampleRepo(example: string): { dir: string; commit: string } {
  const dir = path.join(scratch, `${example}-repo`);
  cpSync(path.join(examplesDir, example), dir, { recursive: true, filter: (src) => !src.includes('node_modules') });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'initial');
  return { dir, commit: git(dir, 'rev-parse', 'HEAD') };
}

function editLine(dir: string, file: string, from: string, to: string): string {
  const full = path.join(dir, file);
  const text = readFileSync(full, 'utf8');
  assert.ok(text.includes(from), `${file} should contain ${from}`);
  writeFileSync(full, text.replace(from, to));
  git(dir, 'commit', '-q', '-am', `edit ${file}`);
  return git(dir, 'rev-parse', 'HEAD');
}

interface Heartbeat {
  step?: number;
  of?: number;
  instruction?: string;
}

async function build(input: BuildImageInput, onHeartbeat?: (hb: Heartbeat, env: MockActivityEnvironment) => void) {
  const env = new MockActivityEnvironment();
  const heartbeats: Heartbeat[] = [];
  env.on('heartbeat', (d: Heartbeat) => {
    heartbeats.push(d);
    onHeartbeat?.(d, env);
  });
  const result = (await env.run(activities.buildImage, input)) as BuildImageResult;
  cleanup.push(() => docker.getImage(result.image).remove({ force: true }));
  return { result, heartbeats };
}

async function registryDigest(repository: string, tag: string): Promise<string | null> {
  const name = repository.slice(repository.indexOf('/') + 1);
  const res = await fetch(`http://${registry}/v2/${name}/manifests/${tag}`, {
    method: 'HEAD',
    headers: {
      Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
    },
  });
  return res.status === 200 ? res.headers.get('docker-content-digest') : null;
}

/** Runs the image with a random host port and returns the JSON of /health and /version. */
async function serve(image: string): Promise<{ health: unknown; version: { version: string; commit: string | null } }> {
  const container = await docker.createContainer({
    Image: image,
    ExposedPorts: { '8080/tcp': {} },
    HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  cleanup.push(() => container.remove({ force: true }));
  await container.start();
  const info = await container.inspect();
  const hostPort = info.NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort;
  assert.ok(hostPort, 'container got a host port');
  const get = async (p: string) => {
    const res = await fetch(`http://127.0.0.1:${hostPort}${p}`, { signal: AbortSignal.timeout(2000) });
    assert.equal(res.status, 200, `${p} answered ${res.status}`);
    return res.json() as Promise<unknown>;
  };
  // docker-proxy accepts before the app listens: retry until the app answers.
  const answers = await until(
    `${image} to answer /health`,
    30_000,
    async () => ({
      health: await get('/health'),
      version: (await get('/version')) as { version: string; commit: string | null },
    }),
    { intervalMs: 200 },
  );
  await container.remove({ force: true });
  return answers;
}

function describeSteps(result: BuildImageResult): string {
  return `${result.cachedSteps}/${result.steps} steps cached`;
}

interface ExampleBuild {
  example: string;
  type: Type;
  file: string;
  from: string;
  to: string;
  dependencyStep: RegExp;
  /** The build settings of its service file (examples/deploy-config/services). */
  settings?: { buildCommand?: string; startCommand?: string };
}

const examples: ExampleBuild[] = [
  {
    example: 'hello-node',
    type: 'node',
    file: 'src/server.js',
    from: "const VERSION = '1.0.0';",
    to: "const VERSION = '1.0.1';",
    dependencyStep: /^RUN npm ci/,
  },
  {
    example: 'hello-python',
    type: 'python',
    file: 'app.py',
    from: 'VERSION = "1.0.0"',
    to: 'VERSION = "1.0.1"',
    dependencyStep: /^RUN python3 -m venv/,
  },
  // Plain javac has no dependencies to fetch; the CA bundle step stands for the set-up layers.
  {
    example: 'hello-java',
    type: 'java',
    file: 'src/main/java/hello/Main.java',
    from: 'VERSION = "1.0.0"',
    to: 'VERSION = "1.0.1"',
    dependencyStep: /^RUN cat \/etc\/ssl/,
  },
  // Real dependencies, fetched from Maven Central, PyPI and the npm registry through the build-only CA.
  {
    example: 'hello-maven',
    type: 'java',
    file: 'src/main/java/hello/maven/Main.java',
    from: 'VERSION = "1.0.0"',
    to: 'VERSION = "1.0.1"',
    dependencyStep: /go-offline/,
  },
  {
    example: 'hello-pyproject',
    type: 'python',
    file: 'src/hello_pyproject/app.py',
    from: 'VERSION = "1.0.0"',
    to: 'VERSION = "1.0.1"',
    dependencyStep: /tomllib/,
    settings: { startCommand: 'hello-pyproject' },
  },
  {
    example: 'hello-pnpm',
    type: 'node',
    file: 'src/server.ts',
    from: "const VERSION = '1.0.0';",
    to: "const VERSION = '1.0.1';",
    dependencyStep: /^RUN pnpm install --frozen-lockfile/,
    settings: { buildCommand: 'pnpm run build' },
  },
];

for (const { example, type, file, from, to, dependencyStep, settings } of examples) {
  test(`${example}: builds from its template, pushes once, serves /health; a one-line edit reuses the dependency layers`, async () => {
    const repo = exampleRepo(example);
    const repository = `${registry}/slipway-test/${example}-${run}`;
    const common = {
      service: example,
      type,
      repository,
      baseImages: baseImages[type],
      port: 8080,
      // A build arg unique to this run makes the first build really cold, whatever earlier runs cached.
      buildArgs: { SLIPWAY_TEST_RUN: run },
      ...settings,
    };

    const src1 = await checkoutSource({
      buildId: `${run}-${example}-1`,
      repoUrl: `file://${repo.dir}`,
      commit: repo.commit,
    });
    cleanup.push(() => removeWorkdir({ workdir: src1.workdir }));
    const cold = await build({
      ...common,
      buildId: `${run}-1`,
      workdir: src1.workdir,
      pipelineId: `pipeline/${example}/${repo.commit}`,
      commit: repo.commit,
      tag: repo.commit.slice(0, 12),
    });
    assert.equal(cold.result.image, `${repository}:${repo.commit.slice(0, 12)}`);
    assert.match(cold.result.imageId, /^sha256:[0-9a-f]{64}$/);
    assert.ok(cold.result.steps > 5);
    const stepBeats = cold.heartbeats.filter((h) => h.step && h.of);
    assert.ok(stepBeats.length >= cold.result.steps, 'a heartbeat per step');
    assert.deepEqual([stepBeats.at(-1)?.step, stepBeats.at(-1)?.of], [cold.result.steps, cold.result.steps]);
    const coldDep = cold.result.stepDetails?.find((s) => dependencyStep.test(s.instruction));
    assert.equal(coldDep?.cached, false, 'the first build runs the dependency step');

    const pushed = await activities.pushImage({ image: cold.result.image });
    assert.equal(pushed.alreadyPresent, false);
    assert.equal(pushed.digestRef, `${repository}@${pushed.digest}`);
    assert.equal(
      await registryDigest(repository, repo.commit.slice(0, 12)),
      pushed.digest,
      'registry API reports the pushed digest',
    );
    const again = await activities.pushImage({ image: cold.result.image });
    assert.deepEqual(again, { ...pushed, alreadyPresent: true }, 'pushing the same image again is a no-op');

    // Deploy the digest, not the tag: the container runs from repo@sha256:...
    const served = await serve(pushed.digestRef);
    assert.deepEqual(served.health, { status: 'ok' });
    assert.equal(served.version.version, '1.0.0');
    assert.equal(served.version.commit, repo.commit);
    // Slipway's generated Dockerfile and CA sit beside the source in the context, never in the image.
    const appFiles = execFileSync('docker', ['run', '--rm', '--entrypoint', 'ls', pushed.digestRef, '-a', '/app'], {
      encoding: 'utf8',
    });
    assert.doesNotMatch(appFiles, /slipway-build|Dockerfile|ca\.crt/, appFiles);

    const commit2 = editLine(repo.dir, file, from, to);
    const src2 = await checkoutSource({
      buildId: `${run}-${example}-2`,
      repoUrl: `file://${repo.dir}`,
      commit: commit2,
    });
    cleanup.push(() => removeWorkdir({ workdir: src2.workdir }));
    const warm = await build({
      ...common,
      buildId: `${run}-2`,
      workdir: src2.workdir,
      pipelineId: `pipeline/${example}/${commit2}`,
      commit: commit2,
      tag: commit2.slice(0, 12),
    });
    console.log(
      `[build] ${example}: cold ${(cold.result.durationMs / 1000).toFixed(1)} s (${describeSteps(cold.result)}), ` +
        `after a one-line edit ${(warm.result.durationMs / 1000).toFixed(1)} s (${describeSteps(warm.result)})`,
    );
    const warmDep = warm.result.stepDetails?.find((s) => dependencyStep.test(s.instruction));
    assert.equal(warmDep?.cached, true, `the dependency step (${dependencyStep}) comes from the cache`);
    assert.ok(warm.result.cachedSteps > 0);
    assert.equal(
      warm.result.stepDetails?.find((s) => s.instruction === 'COPY source/ ./')?.cached,
      false,
      'the edited source is copied anew',
    );
    const pushed2 = await activities.pushImage({ image: warm.result.image });
    assert.notEqual(pushed2.digest, pushed.digest);
    assert.equal((await serve(pushed2.digestRef)).version.version, '1.0.1');
  });
}

test('a failing build step is a non-retryable BuildFailed naming the step, with the log tail', async () => {
  const repo = exampleRepo('hello-python');
  const src = await checkoutSource({ buildId: `${run}-broken`, repoUrl: repo.dir, commit: repo.commit });
  cleanup.push(() => removeWorkdir({ workdir: src.workdir }));
  const err = await build({
    buildId: `${run}-broken`,
    workdir: src.workdir,
    service: 'hello-python',
    type: 'python',
    pipelineId: 'pipeline/broken',
    commit: repo.commit,
    repository: `${registry}/slipway-test/broken-${run}`,
    tag: 'broken',
    baseImages: baseImages.python,
    port: 8080,
    buildCommand:
      'echo "compiling assets for $SERVICE_NAME" && echo "error: assets/missing.css not found" >&2 && exit 3',
  }).then(
    () => assert.fail('the build should fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, String(err));
  assert.equal(err.type, 'BuildFailed');
  assert.equal(err.nonRetryable, true);
  assert.match(
    err.message,
    /docker build of hello-python failed at step \d+\/\d+ \(RUN echo "compiling assets for \$SERVICE_NAME" && .*exit 3\)/,
  );
  assert.match(err.message, /returned a non-zero code: 3/);
  assert.match(err.message, /--- last build output ---[\s\S]*error: assets\/missing\.css not found/);
  console.log(`[build] failing step reported as:\n${err.message.split('\n').slice(0, 4).join('\n')}`);
});

test('cancelling the activity stops the build on the daemon', async () => {
  const dir = path.join(scratch, 'slow');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'app.py'), 'print("slow")\n');
  const marker = `slipway-cancel-${run}`;
  const started = Date.now();
  const err = await build(
    {
      buildId: `${run}-cancel`,
      workdir: dir,
      service: 'slow',
      type: 'python',
      pipelineId: 'pipeline/slow',
      commit: 'c'.repeat(40),
      repository: `${registry}/slipway-test/slow-${run}`,
      tag: 'slow',
      baseImages: baseImages.python,
      port: 8080,
      buildCommand: `sleep 120 # ${marker}`,
    },
    (hb, env) => {
      if (hb.instruction?.includes(marker)) setTimeout(() => env.cancel(), 1500);
    },
  ).then(
    () => assert.fail('the build should be cancelled'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof CancelledFailure, `expected CancelledFailure, got ${String(err)}`);
  assert.ok(Date.now() - started < 30_000, 'cancellation does not wait for the step');
  // The daemon notices the closed connection and kills the step's container.
  await until('the build container of the cancelled step to stop', 15_000, async () =>
    (await docker.listContainers()).some((c) => c.Command.includes(marker)) ? undefined : true,
  );
});

test("a service's own Dockerfile is built as is, without Slipway's CA file", async () => {
  const dir = path.join(scratch, 'own');
  mkdirSync(path.join(dir, 'docker'), { recursive: true });
  mkdirSync(path.join(dir, 'www'));
  writeFileSync(path.join(dir, 'www', 'health'), 'ok\n');
  writeFileSync(path.join(dir, 'secret.env'), 'not for the image\n');
  writeFileSync(path.join(dir, '.dockerignore'), 'secret.env\n');
  writeFileSync(path.join(dir, 'docker', 'Dockerfile'), 'FROM local/busybox:httpd\nCOPY www /www\nCOPY . /ctx\n');
  const { result } = await build({
    buildId: `${run}-own`,
    workdir: dir,
    service: 'own',
    type: 'node',
    pipelineId: 'pipeline/own',
    commit: 'd'.repeat(40),
    repository: `${registry}/slipway-test/own-${run}`,
    tag: 'own',
    baseImages: baseImages.node,
    port: 8080,
    dockerfile: 'docker/Dockerfile',
  });
  assert.equal(existsSync(path.join(dir, '.slipway-build', 'ca.crt')), false);
  const container = await docker.createContainer({
    Image: result.image,
    Entrypoint: ['/bin/busybox', 'ls', '-A', '/ctx'],
  });
  cleanup.push(() => container.remove({ force: true }));
  await container.start();
  await container.wait();
  const logs = (await container.logs({ stdout: true })).toString();
  assert.match(logs, /docker/);
  assert.doesNotMatch(logs, /secret\.env/, '.dockerignore is honoured');
  assert.doesNotMatch(logs, /ca\.crt|slipway-build/);
});

// The package managers the examples do not use, from fixtures with real lock files (README there).
const lockFileFixtures: { name: string; type: Type; install: RegExp; settings?: { startCommand: string } }[] = [
  {
    name: 'yarn-classic',
    type: 'node',
    install: /^RUN yarn install --frozen-lockfile --non-interactive --production$/,
  },
  { name: 'yarn-berry', type: 'node', install: /^RUN yarn install --immutable$/ },
  {
    name: 'poetry',
    type: 'python',
    install: /poetry install --no-root --only main/,
    settings: { startCommand: 'fixture-poetry' },
  },
];

for (const { name, type, install, settings } of lockFileFixtures) {
  test(`${name}: the lock file installs for real and the image serves`, async () => {
    const dir = path.join(scratch, `fixture-${name}`);
    const fixtures = path.join(projectRoot, 'test', 'fixtures', 'builds');
    cpSync(path.join(fixtures, name), dir, { recursive: true });
    // The node fixtures share one server, kept once beside them.
    if (type === 'node') {
      mkdirSync(path.join(dir, 'src'), { recursive: true });
      cpSync(path.join(fixtures, 'node-server.js'), path.join(dir, 'src', 'server.js'));
    }
    const commit = 'f'.repeat(40);
    const { result } = await build({
      buildId: `${run}-${name}`,
      workdir: dir,
      service: name,
      type,
      pipelineId: `pipeline/${name}/${commit}`,
      commit,
      repository: `${registry}/slipway-test/${name}-${run}`,
      tag: 'v1',
      baseImages: baseImages[type],
      port: 8080,
      ...settings,
    });
    assert.ok(
      result.stepDetails?.some((s) => install.test(s.instruction)),
      `the build ran ${install}: ${result.stepDetails?.map((s) => s.instruction).join(' | ')}`,
    );
    const served = await serve(result.image);
    assert.deepEqual(served.health, { status: 'ok' });
    assert.equal(served.version.commit, commit);
  });
}

test('tagImageInRegistry points another tag at the same manifest without a rebuild', async () => {
  const dir = path.join(scratch, 'tiny');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'Dockerfile'), `FROM local/busybox:httpd\nLABEL run=${run}\n`);
  const repository = `${registry}/slipway-test/tiny-${run}`;
  const { result } = await build({
    buildId: `${run}-tiny`,
    workdir: dir,
    service: 'tiny',
    type: 'node',
    pipelineId: 'pipeline/tiny',
    commit: 'e'.repeat(40),
    repository,
    tag: 'v1',
    baseImages: baseImages.node,
    port: 8080,
    dockerfile: 'Dockerfile',
  });
  const pushed = await activities.pushImage({ image: result.image, extraTags: ['integration'] });
  await activities.tagImageInRegistry({ digestRef: pushed.digestRef, tag: 'production' });
  await activities.tagImageInRegistry({ digestRef: pushed.digestRef, tag: 'production' }); // idempotent
  for (const tag of ['v1', 'integration', 'production'])
    assert.equal(await registryDigest(repository, tag), pushed.digest, tag);
  await assert.rejects(
    activities.tagImageInRegistry({ digestRef: `${repository}@sha256:${'0'.repeat(64)}`, tag: 'x' }),
    /is not in registry/,
  );
});
