// Planning activities: read the deploy config on the worker (SLIPWAY_CONFIG_DIR) and turn it into
// the data a pipeline needs — the environment chain, approval rules, build settings — and, per
// environment, the rendered and validated Marathon app definition for the one image digest.
// Running this as an activity records the plan in history, so a config change made while a
// pipeline runs never makes its replay diverge.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import {
  customAppTemplate,
  getEnvironment,
  getService,
  marathonAppId,
  repositoryUrl,
  resolveAppSettings,
  type ApprovalConfig,
  type DeployConfig,
} from '../common/config';
import { cachedDeployConfig } from '../common/config-cache';
import { parseDuration } from '../common/duration';
import { ConfigError, NonRetryable } from '../common/errors';
import { defaultConfigDir, templatesDir } from '../common/paths';
import type { ApprovalRule, Identities, PipelinePlan } from '../common/contract';
import { renderTemplate } from './render';
import { absoluteAppId, imageOf, networkModeOf, validateMarathonApp } from './marathon-app';
import { MarathonClient } from './marathon-client';
import { fieldsIgnoredBy, marathonVersionOf, type MarathonVersion } from './marathon-version';

/** An environment's approval rule as the pipeline needs it, approvers' identities included. */
function approvalRule(approval: ApprovalConfig, config: DeployConfig): ApprovalRule {
  const approverIdentities = Object.fromEntries(
    approval.approvers.flatMap((name) => {
      const id = config.identities[name];
      if (!id) return [];
      const identities: Identities = {
        gitlabUserIds: id.gitlabUserId ? [id.gitlabUserId] : [],
        gitlabUsernames: [id.gitlabUsername ?? name],
        emails: id.emails.map((e) => e.toLowerCase()),
      };
      return [[name, identities]];
    }),
  );
  return {
    approvers: approval.approvers,
    timeoutSeconds: parseDuration(approval.timeout) ?? 72 * 3600,
    authorMayApprove: approval.authorMayApprove,
    required: approval.required,
    requireVerified: approval.requireVerified,
    approverIdentities,
  };
}

export function configDir(): string {
  return process.env.SLIPWAY_CONFIG_DIR ?? defaultConfigDir;
}

/** Config errors cannot be fixed by retrying: fail the pipeline at once with the file and field. */
export function withConfig<T>(fn: (config: DeployConfig) => T, dir: string = configDir()): T {
  try {
    return fn(cachedDeployConfig(dir));
  } catch (err) {
    if (err instanceof ConfigError) throw ApplicationFailure.nonRetryable(err.message, NonRetryable.BadConfig);
    throw err;
  }
}

function assertNoCredentials(url: string, service: string): void {
  if (/^[a-z+]+:\/\/[^/@]*:[^/@]*@/i.test(url)) {
    throw new ConfigError(
      `service "${service}": the repository URL carries credentials; remove them and set GITLAB_TOKEN on the build workers`,
    );
  }
}

export async function planPipeline(input: { service: string; commit: string }): Promise<PipelinePlan> {
  if (!/^[0-9a-f]{7,64}$/i.test(input.commit)) {
    throw ApplicationFailure.nonRetryable(
      `commit "${input.commit}" is not a git SHA: expected 7-64 hex characters`,
      NonRetryable.BadConfig,
    );
  }
  return withConfig((config) => {
    const service = getService(config, input.service);
    const repository = repositoryUrl(config, service);
    assertNoCredentials(repository, service.name);
    const appDefaults = resolveAppSettings(config, service, config.environments[0]!.name);
    return {
      service: service.name,
      type: service.type,
      repository,
      imageRepository: `${config.registry}/${service.name}`,
      tag: input.commit.slice(0, 12),
      baseImages: config.baseImages[service.type],
      port: appDefaults.port,
      build: service.build,
      environments: config.environments.map((env) => ({
        name: env.name,
        marathonUrl: env.marathon,
        appId: marathonAppId(env, service.name),
        approval: env.approval && approvalRule(env.approval, config),
        healthTimeoutSeconds: resolveAppSettings(config, service, env.name).healthTimeoutSeconds,
        forceOverForeignDeployments: env.forceOverForeignDeployments,
        ...(env.imageTag ? { imageTag: env.imageTag } : {}),
      })),
      ...(config.freeze ? { freezeChecks: true } : {}),
    };
  });
}

export interface RenderAppInput {
  service: string;
  environment: string;
  image: string;
  pipelineId: string;
  commit: string;
}

/**
 * Renders (without sending) the app definition for a Marathon of version `target`; used by the
 * pipeline and by `slipway render --marathon-version`.
 *
 * The shape is decided here, at render time, rather than by re-shaping a 1.5 definition at deploy
 * time: a team's own template is then checked for fields the target ignores before the pipeline
 * records the definition (and long before any PUT), the definition in history and in `slipway
 * render` is byte for byte what Marathon receives, and templates may branch on the target's
 * version. The deploy activity checks the same rule again against the version it sees then, so a
 * Marathon downgraded between render and deploy is still refused before the PUT.
 */
export function renderMarathonAppFromConfig(
  config: DeployConfig,
  input: RenderAppInput & { target: MarathonVersion },
): Record<string, unknown> {
  const service = getService(config, input.service);
  const env = getEnvironment(config, input.environment);
  const settings = resolveAppSettings(config, service, env.name);
  const custom = customAppTemplate(config, service.name, env.name);
  const templateFile = custom ?? path.join(templatesDir, 'marathon', 'app.json.hbs');
  const vars = {
    ...settings,
    id: marathonAppId(env, service.name),
    service: service.name,
    environment: env.name,
    image: input.image,
    commit: input.commit,
    pipelineId: input.pipelineId,
    bridge: settings.network === 'bridge',
    args: settings.args ?? null,
    env: {
      ...settings.env,
      SLIPWAY_SERVICE: service.name,
      SLIPWAY_ENVIRONMENT: env.name,
      SLIPWAY_COMMIT: input.commit,
    },
    labels: { ...settings.labels, SLIPWAY_SERVICE: service.name, SLIPWAY_COMMIT: input.commit },
    marathon: {
      version: input.target.version,
      shape: input.target.shape,
      legacyNetworking: input.target.shape === '1.4',
    },
  };
  const text = renderTemplate({ name: templateFile, source: readFileSync(templateFile, 'utf8'), vars, target: 'json' });
  let app: Record<string, unknown>;
  try {
    app = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw ApplicationFailure.nonRetryable(
      `${templateFile} rendered invalid JSON for ${service.name}/${env.name}: ${(err as Error).message}`,
      NonRetryable.TemplateError,
    );
  }
  const problems = [
    ...identityProblems(app, { id: vars.id, image: input.image, network: settings.network }),
    ...validateMarathonApp(app),
    ...fieldsIgnoredBy(app, input.target),
  ];
  if (problems.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `${templateFile} rendered an invalid Marathon app for ${service.name}/${env.name} (Marathon ${input.target.version}): ${problems.join('; ')}`,
      NonRetryable.TemplateError,
    );
  }
  return app;
}

/**
 * What the rendered app must be, whatever the template (ours or a team's) and the values did:
 * the app this service and environment own, the image this pipeline built, and the configured
 * network mode. Anything else is refused before it reaches the lane or Marathon.
 */
function identityProblems(
  app: Record<string, unknown>,
  meant: { id: string; image: string; network: 'bridge' | 'host' },
): string[] {
  const problems: string[] = [];
  const id = typeof app.id === 'string' ? absoluteAppId(app.id) : String(app.id);
  if (id !== meant.id) problems.push(`id ${JSON.stringify(app.id)} is not this service's app: expected "${meant.id}"`);
  const image = imageOf(app);
  if (image !== meant.image) {
    problems.push(`image ${JSON.stringify(image)} is not the image this pipeline built: expected "${meant.image}"`);
  }
  const networks = Array.isArray(app.networks) ? (app.networks as Record<string, unknown>[]) : [];
  const modes = new Set([networkModeOf(app), ...networks.map((n) => networkModeOf({ networks: [n] }))]);
  if (modes.size !== 1 || !modes.has(meant.network)) {
    problems.push(
      `network ${JSON.stringify(app.networks ?? null)} is not the configured one: expected ${meant.network}`,
    );
  }
  return problems;
}

/** The activity: asks the environment's Marathon its version (cached), then renders for it. */
export async function renderMarathonApp(
  input: RenderAppInput,
  dir: string = configDir(),
): Promise<Record<string, unknown>> {
  const marathonUrl = withConfig((config) => getEnvironment(config, input.environment).marathon, dir);
  const target = await marathonVersionOf(MarathonClient.fromEnv(marathonUrl, input.environment));
  return withConfig((config) => renderMarathonAppFromConfig(config, { ...input, target }), dir);
}
