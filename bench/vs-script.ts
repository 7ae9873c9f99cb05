// 4. Slipway against a script: the same real work — check out examples/hello-node at a commit,
// build it from the same rendered Dockerfile, push it to the registry, deploy it to the Marathon
// emulator in containers mode (real containers, same app definition and health check), wait until
// healthy — done by a real Slipway worker (one environment, no approval; pipeline started -> its
// result) and by bench/script/deploy.sh (docker, curl, jq). Both poll health every 2 s.
// Cache state, the same for both: every timed run follows a one-line source edit committed just
// before it, with the dependency layer (npm ci) warm and the base images local; one untimed
// warm-up run each first (it also creates each one's Marathon app, so every timed run is an
// update). Runs alternate Slipway, script, Slipway, script...; the figures are medians.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildCaFile } from '../activities/docker';
import { renderDockerfile } from '../activities/dockerfile';
import { parseMarathonVersion } from '../activities/marathon-version';
import { renderMarathonAppFromConfig } from '../activities/plan';
import { startPipeline } from '../client/pipelines';
import { loadDeployConfig } from '../common/config';
import { generatedDir } from '../activities/dockerfile';
import { projectRoot } from '../common/paths';
import { startMarathonEmulator } from '../dev/marathon-emulator';
import { benchTempDir, commitOneLineEdit, exampleRepository, writeDeployConfig } from './fixtures';
import { startBenchWorker } from './processes';
import { atMost, info, median, seconds } from './stats';
import type { BenchContext, BenchResult } from './types';

const section = 'vs-script';
const example = 'hello-node';

function runScript(env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(projectRoot, 'bench', 'script', 'deploy.sh')], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`deploy.sh exited ${code}: ${output.slice(-400)}`)),
    );
  });
}

export default async function vsScript(ctx: BenchContext): Promise<BenchResult[]> {
  const rounds = Number(process.env.BENCH_VS_ROUNDS ?? 3);
  const work = benchTempDir(section);
  const emulator = await startMarathonEmulator({ mode: 'containers' });
  const service = `vs-${ctx.runId}`;
  const repo = exampleRepository(example, work);
  const configDir = writeDeployConfig(path.join(work, 'config'), {
    registry: ctx.registry,
    marathonUrl: emulator.url,
    environments: [{ name: 'test' }],
    services: [{ name: service, repository: repo }],
  });
  const config = loadDeployConfig(configDir);
  const worker = await startBenchWorker(
    section,
    { roles: ['deploy', 'build'] },
    { SLIPWAY_CONFIG_DIR: configDir, SLIPWAY_BUILD_HOST_ID: `bench-${section}-${ctx.runId}` },
  );
  const caFile = buildCaFile();
  let edits = 0;
  const bySlipway = async () => {
    const commit = commitOneLineEdit(repo, example, `slipway ${++edits}`);
    const started = Date.now();
    const { workflowId } = await startPipeline(ctx.client, {
      service,
      commit,
      trigger: { kind: 'manual', user: 'bench' },
    });
    const status = await ctx.client.workflow.getHandle(workflowId).result();
    if (status.state !== 'succeeded') throw new Error(`${workflowId} ended ${status.state}: ${status.error}`);
    return Date.now() - started;
  };
  const byScript = async () => {
    const commit = commitOneLineEdit(repo, example, `script ${++edits}`);
    // What the Jenkins job kept in its workspace: a Dockerfile and an app JSON rendered per build.
    const dockerfile = path.join(work, `Dockerfile.${commit.slice(0, 8)}`);
    const appJson = path.join(work, `app.${commit.slice(0, 8)}.json`);
    const settings = config.services.get(service)!;
    writeFileSync(
      dockerfile,
      renderDockerfile({
        service,
        type: settings.type,
        commit,
        pipelineId: `script/${commit}`,
        baseImages: config.baseImages[settings.type],
        port: 8080,
        caFile: caFile ? `${generatedDir}/ca.crt` : undefined,
        workdir: repo,
      }).text,
    );
    const app = renderMarathonAppFromConfig(config, {
      service,
      environment: 'test',
      image: '__IMAGE__',
      pipelineId: `script/${commit}`,
      commit,
      // The emulator the benchmark runs is in the 1.5 shape.
      target: parseMarathonVersion('1.5')!,
    });
    writeFileSync(appJson, JSON.stringify({ ...app, id: `${String(app.id)}-script` }));
    const started = Date.now();
    await runScript({
      REPO: repo,
      SHA: commit,
      DOCKERFILE: dockerfile,
      CA_FILE: caFile ?? '',
      IMAGE: `${ctx.registry}/${service}-script`,
      MARATHON: emulator.url,
      APP_JSON: appJson,
      POLL_SECONDS: '2',
    });
    return Date.now() - started;
  };
  try {
    await bySlipway();
    await byScript();
    const slipway: number[] = [];
    const script: number[] = [];
    for (let i = 0; i < rounds; i++) {
      slipway.push(await bySlipway());
      script.push(await byScript());
    }
    const ratio = median(slipway) / median(script);
    return [
      atMost(section, 'Slipway / script wall time', ratio, 1.05, (v) => v.toFixed(3)),
      info(section, 'Slipway wall time (median)', `${seconds(median(slipway))} [${slipway.map(seconds).join(', ')}]`),
      info(section, 'script wall time (median)', `${seconds(median(script))} [${script.map(seconds).join(', ')}]`),
      info(section, 'cache state', 'each run after a one-line edit; npm ci layer warm, base images local'),
    ];
  } finally {
    await worker.stop();
    await emulator.close();
    // Our own images only: both repositories carry this run's service name.
    const ours = execFileSync('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}'], { encoding: 'utf8' })
      .split('\n')
      .filter((ref) => ref.startsWith(`${ctx.registry}/${service}`));
    if (ours.length) execFileSync('docker', ['rmi', ...ours], { stdio: 'ignore' });
  }
}
