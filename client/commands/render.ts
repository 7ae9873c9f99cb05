// `slipway render <service>`: what a build and a deploy would use, without building or deploying —
// the Dockerfile rendered from the service's template and, per environment, the Marathon app JSON.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Command, InvalidArgumentError } from 'commander';
import { getEnvironment, getService, repositoryUrl, resolveAppSettings } from '../../common/config';
import { renderDockerfile } from '../../activities/dockerfile';
import { renderMarathonAppFromConfig } from '../../activities/plan';
import { MarathonClient } from '../../activities/marathon-client';
import { marathonVersionOf, parseMarathonVersion, type MarathonVersion } from '../../activities/marathon-version';
import { loadClientConfig } from '../cli-support';

interface RenderOptions {
  env?: string[];
  commit: string;
  source?: string;
  dockerfile?: boolean;
  app?: boolean;
  marathonVersion?: MarathonVersion;
}

function versionOption(value: string): MarathonVersion {
  const parsed = parseMarathonVersion(value);
  if (!parsed) throw new InvalidArgumentError(`expected a Marathon version like 1.4, 1.5 or 1.10.26, got "${value}"`);
  return parsed;
}

/** The version to render for: --marathon-version, else what the environment's Marathon says it runs. */
async function targetOf(url: string, environment: string, explicit?: MarathonVersion): Promise<MarathonVersion> {
  if (explicit) return explicit;
  try {
    return await marathonVersionOf(MarathonClient.fromEnv(url, environment));
  } catch (err) {
    throw new Error(
      `cannot ask ${url} (environment ${environment}) for its version: ${(err as Error).message}; ` +
        'pass --marathon-version (e.g. 1.4 or 1.5) to render without asking',
    );
  }
}

/** The checkout the templates look into for dependency manifests: --source, or a local repository. */
function sourceDir(repository: string, explicit?: string): string | undefined {
  if (explicit) return explicit;
  if (!repository.startsWith('file://')) return undefined;
  const dir = fileURLToPath(repository);
  return existsSync(dir) ? dir : undefined;
}

export function register(program: Command): void {
  program
    .command('render')
    .description('Print the Dockerfile and the Marathon app JSON Slipway would use for a service (builds nothing)')
    .argument('<service>', 'service name from the deploy config')
    .option('--env <environment...>', 'environments whose app JSON to print (default: all)')
    .option('--commit <sha>', 'commit to render for', '0000000000000000000000000000000000000000')
    .option('--source <dir>', 'a checkout of the service (default: the repository when it is local)')
    .option('--no-dockerfile', 'skip the Dockerfile')
    .option('--no-app', 'skip the Marathon app JSON')
    .option(
      '--marathon-version <version>',
      "render the app for this Marathon version (1.4: legacy networking fields; 1.5 and later: networks); default: ask each environment's Marathon (GET /v2/info)",
      versionOption,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  slipway render hello-node --env production\n  slipway render hello-node --marathon-version 1.4 --no-dockerfile\n',
    )
    .action(async (name: string, opts: RenderOptions) => {
      const config = loadClientConfig();
      const service = getService(config, name);
      const environments = (opts.env ?? config.environments.map((e) => e.name)).map((e) => getEnvironment(config, e));
      const commit = opts.commit;
      const pipelineId = `pipeline/${service.name}/${commit}`;
      const image = `${config.registry}/${service.name}@sha256:${'0'.repeat(64)}`;
      if (opts.dockerfile !== false) {
        const rendered = renderDockerfile({
          service: service.name,
          type: service.type,
          commit,
          pipelineId,
          baseImages: config.baseImages[service.type],
          port: resolveAppSettings(config, service, config.environments[0]!.name).port,
          workdir: sourceDir(repositoryUrl(config, service), opts.source),
          ...service.build,
        });
        process.stdout.write(`# ---- Dockerfile (${rendered.kind}: ${rendered.name})\n${rendered.text.trimEnd()}\n`);
      }
      if (opts.app !== false) {
        for (const env of environments) {
          const target = await targetOf(env.marathon, env.name, opts.marathonVersion);
          const app = renderMarathonAppFromConfig(config, {
            service: service.name,
            environment: env.name,
            image,
            pipelineId,
            commit,
            target,
          });
          process.stdout.write(
            `\n# ---- Marathon app for ${env.name} (Marathon ${target.version})\n${JSON.stringify(app, null, 2)}\n`,
          );
        }
      }
    });
}
