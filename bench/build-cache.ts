// 5. Build cache: per example, a cold build against a rebuild after a one-line source edit, both
// through Slipway's own buildImage activity (rendered template, classic builder, local base
// images). "Cold" = every layer of the app cold while the base images are local: the build gets
// a fresh value of a build argument, and the templates' RUN steps after the ARG then miss the
// cache (the classic builder keys RUN steps on the build arguments in scope). The rebuild keeps
// that value, so only what the edit invalidates is rebuilt. The figure: rebuild / cold.
import { randomUUID } from 'node:crypto';
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createDockerActivities, type BuildImageInput } from '../activities/docker';
import { loadDeployConfig, type ServiceType } from '../common/config';
import { examplesDir } from '../common/paths';
import { benchTempDir, editOneLine, randomSha, writeDeployConfig } from './fixtures';
import { atMost, info, seconds } from './stats';
import type { BenchContext, BenchResult } from './types';

const section = 'build-cache';
// The toy examples have no dependencies; the others fetch theirs (npm registry, PyPI, Maven
// Central) in the cold build, as a team's first build does. Build settings as in their service files.
const examples: { example: string; type: ServiceType; build?: Partial<BuildImageInput> }[] = [
  { example: 'hello-node', type: 'node' },
  { example: 'hello-python', type: 'python' },
  { example: 'hello-java', type: 'java' },
  { example: 'hello-maven', type: 'java' },
  { example: 'hello-pyproject', type: 'python', build: { startCommand: 'hello-pyproject' } },
  { example: 'hello-pnpm', type: 'node', build: { buildCommand: 'pnpm run build' } },
];

export default async function buildCache(ctx: BenchContext): Promise<BenchResult[]> {
  const work = benchTempDir(section);
  const config = loadDeployConfig(
    writeDeployConfig(path.join(work, 'config'), {
      registry: ctx.registry,
      marathonUrl: 'http://127.0.0.1:1',
      environments: [{ name: 'test' }],
      services: [],
    }),
  );
  const { buildImage } = createDockerActivities();
  const results: BenchResult[] = [];
  const images: string[] = [];
  try {
    for (const { example, type, build: settings } of examples) {
      const workdir = path.join(work, example);
      cpSync(path.join(examplesDir, example), workdir, {
        recursive: true,
        filter: (src) => !src.includes('node_modules'),
      });
      const service = `bench-cache-${example}-${ctx.runId}`;
      const cold = randomUUID();
      const build = async (commit: string) => {
        const input: BuildImageInput = {
          buildId: `${service}-${commit.slice(0, 8)}`,
          workdir,
          service,
          type,
          pipelineId: `pipeline/${service}/${commit}`,
          commit,
          repository: `${ctx.registry}/${service}`,
          tag: commit.slice(0, 12),
          baseImages: config.baseImages[type],
          port: 8080,
          ...settings,
          buildArgs: { SLIPWAY_BENCH_COLD: cold },
        };
        const built = await buildImage(input);
        images.push(built.image);
        return built;
      };
      const first = await build(randomSha());
      editOneLine(workdir, example, 'one line');
      const second = await build(randomSha());
      results.push(
        atMost(section, `${example} rebuild / cold`, second.durationMs / first.durationMs, 0.2, (v) => v.toFixed(2)),
        info(
          section,
          `${example} cold / rebuild`,
          `${seconds(first.durationMs)} (${first.cachedSteps}/${first.steps} steps cached) / ` +
            `${seconds(second.durationMs)} (${second.cachedSteps}/${second.steps} cached)`,
        ),
      );
    }
    return results;
  } finally {
    if (images.length) {
      try {
        execFileSync('docker', ['rmi', ...images], { stdio: 'ignore' });
      } catch {
        /* best effort: only our own tags */
      }
    }
    rmSync(work, { recursive: true, force: true });
  }
}
