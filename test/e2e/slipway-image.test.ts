// Slipway delivers Slipway, then runs on its own image. First a pipeline builds the image of the
// deploy worker from this checkout with Slipway's own build path (deploy/ is its deploy config:
// the node Dockerfile template on the Node 20 base image, `npm run build`), pushes it and walks it
// through the environments. Then that image runs as the only deploy worker — a container on the
// host network, talking to the test's Temporal server and the Marathon emulator — and completes a
// delivery of hello-node, its /healthz and /metrics answering from inside the container.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { freePort } from '../../common/free-port';
import { projectRoot } from '../../common/paths';
import { approveAndFinish, runPipeline } from '../chaos/driver';
import { temporalAddress } from '../helpers/env';
import { scrape } from '../helpers/prometheus';
import { startStack, type Stack } from '../helpers/stack';
import { until } from '../helpers/wait';

const run = promisify(execFile);
const deployConfig = path.join(projectRoot, 'deploy');
let stack: Stack;
let work: string;
let slipwayService: string;
let image: string;
let container: string | undefined;

/** This checkout as a repository of its own: what is committed plus what is not ignored. */
function snapshotCheckout(dir: string): string {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: projectRoot,
    encoding: 'utf8',
  })
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    // A file deleted in the work tree but still in the index is not part of what is tested.
    try {
      cpSync(path.join(projectRoot, file), path.join(dir, file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'Carol',
        GIT_AUTHOR_EMAIL: 'c@example.com',
        GIT_COMMITTER_NAME: 'Carol',
        GIT_COMMITTER_EMAIL: 'c@example.com',
      },
    }).trim();
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'Slipway under test');
  return git('rev-parse', 'HEAD');
}

before(async () => {
  stack = await startStack({ marathonMode: 'simulated', example: 'hello-node' });
  work = mkdtempSync(path.join(os.tmpdir(), 'slipway-image-'));
  const repo = path.join(work, 'slipway');
  const commit = snapshotCheckout(repo);

  // The deploy worker's service and base images from deploy/, pointed at the snapshot.
  slipwayService = `slipway-deploy-worker-${stack.service.slice('hello-node-'.length)}`;
  const service = parse(
    readFileSync(path.join(deployConfig, 'services', 'slipway-deploy-worker.yaml'), 'utf8'),
  ) as Record<string, unknown>;
  writeFileSync(
    path.join(stack.configDir, 'services', `${slipwayService}.yaml`),
    stringify({
      ...service,
      name: slipwayService,
      repository: repo,
      gitlab: { project: `e2e/${slipwayService}`, branches: ['main'] },
    }),
  );
  const { baseImages } = parse(readFileSync(path.join(deployConfig, 'slipway.yaml'), 'utf8')) as {
    baseImages: unknown;
  };
  appendFileSync(path.join(stack.configDir, 'slipway.yaml'), stringify({ baseImages }));

  stack.startWorker('deploy');
  stack.startWorker('build');
  const workflowId = await runPipeline(stack.client, slipwayService, commit);
  const status = await approveAndFinish(stack, workflowId);
  image = status.image!;
  await stack.killWorkers('SIGTERM');
});

after(async () => {
  if (container) await run('docker', ['rm', '-f', container]).catch(() => undefined);
  // The image stays in the registry; the local copy (600 MB, a new top layer every run) goes. The
  // build stage's cached dependency layers stay, so the next build is warm.
  if (image) {
    const id = (await run('docker', ['image', 'inspect', '--format', '{{.Id}}', image]).catch(() => undefined))?.stdout;
    if (id) await run('docker', ['rmi', '-f', id.trim()]).catch(() => undefined);
  }
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test("Slipway's pipeline built its deploy worker image on Node 20 from this checkout", async () => {
  assert.match(image, new RegExp(`/${slipwayService}@sha256:[0-9a-f]{64}$`));
  const { stdout } = await run('docker', ['run', '--rm', '--entrypoint', 'node', image, '--version']);
  assert.match(stdout.trim(), /^v20\./);
  const labels = JSON.parse(
    (await run('docker', ['inspect', '--format', '{{json .Config.Labels}}', image])).stdout,
  ) as Record<string, string>;
  assert.equal(labels['slipway.service'], slipwayService);
});

test('the image runs as the deploy worker on the host network and delivers hello-node', async () => {
  const metricsPort = await freePort();
  container = `slipway-e2e-${stack.service}`;
  await run('docker', [
    'run',
    '-d',
    '--name',
    container,
    '--network',
    'host',
    '-e',
    `TEMPORAL_ADDRESS=${temporalAddress()}`,
    '-e',
    `MARATHON_URL=${stack.marathonUrl}`,
    '-e',
    'SLIPWAY_CONFIG_DIR=/config',
    '-e',
    'SLIPWAY_STATE_DIR=/tmp/slipway',
    '-e',
    `PORT=${metricsPort}`,
    '-v',
    `${stack.configDir}:/config:ro`,
    image,
  ]);
  const worker = `http://127.0.0.1:${metricsPort}`;
  await until(
    'the containerised deploy worker to answer /healthz',
    90_000,
    async () => {
      const state = (await run('docker', ['inspect', '--format', '{{.State.Status}}', container!])).stdout.trim();
      if (state !== 'running')
        throw new Error(`the container is ${state}: ${(await run('docker', ['logs', container!])).stderr}`);
      const res = await fetch(`${worker}/healthz`).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    },
    { failFast: true },
  );
  stack.startWorker('build');

  const workflowId = await runPipeline(stack.client, stack.service, stack.commit('delivered by the image'));
  await approveAndFinish(stack, workflowId);

  const metrics = await scrape(`${worker}/metrics`);
  for (const environment of ['test', 'integration', 'production'])
    assert.equal(
      metrics.value(`slipway_deploys_total{environment="${environment}",outcome="success"}`),
      1,
      `the container deployed ${environment}`,
    );
  assert.ok(metrics.value('temporal_workflow_completed') >= 1, 'the container completed workflows');
  const logs = (await run('docker', ['logs', container])).stderr;
  assert.match(logs, /"msg":"worker running"/);
});
