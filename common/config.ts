// The deploy config directory (SLIPWAY_CONFIG_DIR): `slipway.yaml` with the ordered environment
// chain, `services/*.yaml` with one service each, and optional per-environment Marathon templates
// `environments/<env>/<service>.json.hbs`. Validated once, here, at the edge: every error names the
// file, the field, the value and what was expected. Missing pieces fall back to the embedded
// defaults (MARATHON_URL, SLIPWAY_REGISTRY, the local base images).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors';
import { parseDuration } from './duration';
import { deliveryEventKinds } from './contract';
import type { VerifyPlan } from './contract';
import { cronProblem, timezoneProblem, type FreezeWindowConfig } from './freeze-windows';
import type { DeployStrategy } from './contract';

export const serviceTypes = ['node', 'java', 'python', 'dotnet'] as const;
export type ServiceType = (typeof serviceTypes)[number];

const duration = z
  .string()
  .refine((v) => parseDuration(v) !== undefined, { message: 'expected a duration like "90s", "5m", "72h"' })
  .refine((v) => (parseDuration(v) ?? 1) > 0, { message: 'expected a duration greater than zero, like "90s"' });
/** One Marathon id segment: dot-separated labels of lowercase letters, digits and inner "-". */
const idSegment = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const name = z
  .string()
  .regex(
    idSegment,
    'expected lowercase letters, digits, "-" and "." (a Marathon id segment: no "..", no "-" or "." at either end of a label)',
  );

/**
 * A value that lands in a Dockerfile line or a Marathon string: one line, no control character
 * (a newline would add a Dockerfile instruction of the author's choosing).
 */
const oneLine = z.string().refine((v) => !/[\x00-\x1f\x7f]/.test(v), {
  message: 'contains a control character (newline, carriage return, tab, ...): expected a single line of text',
});

/**
 * A value the worker reads from its own environment or a file at the moment it is used, so it
 * never enters workflow history: `{ secret: { env: NAME } }` or `{ secret: { file: /path } }`.
 */
const secretRef = z.strictObject({
  secret: z.union([
    z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name') }),
    z.strictObject({ file: z.string().startsWith('/', 'expected an absolute file path on the worker') }),
  ]),
});
export type SecretRef = z.infer<typeof secretRef>;
/** An app env or build arg value: literal text or a secret reference. */
export type ConfigValue = string | SecretRef;
const configValue = z.union([z.string(), secretRef]);

/** A Docker image reference: [registry[:port]/]name[:tag][@sha256:digest], nothing else. */
const imageReference = z
  .string()
  .regex(
    /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::\w[\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/,
    'expected an image reference like "registry.example.com/team/node:18"',
  );

const healthCheck = z.strictObject({
  path: oneLine.pipe(z.string().startsWith('/')).default('/health'),
  protocol: z.enum(['HTTP', 'HTTPS', 'TCP']).default('HTTP'),
  gracePeriodSeconds: z.number().int().min(0).default(30),
  intervalSeconds: z.number().int().min(1).default(5),
  timeoutSeconds: z.number().int().min(1).default(3),
  maxConsecutiveFailures: z.number().int().min(0).default(3),
});

/**
 * Marathon readiness check (one per app): during a deployment a new task counts only once its
 * HTTP(S) endpoint answers one of `httpStatusCodesForReady`, and old tasks are killed only then.
 * It probes the port named "http" of the default template.
 */
const readinessCheck = z
  .strictObject({
    path: z.string().startsWith('/'),
    protocol: z.enum(['HTTP', 'HTTPS']).default('HTTP'),
    intervalSeconds: z.number().int().min(1).default(5),
    timeoutSeconds: z.number().int().min(1).default(3),
    httpStatusCodesForReady: z.array(z.number().int().min(100).max(599)).min(1).default([200]),
  })
  .refine((r) => r.timeoutSeconds < r.intervalSeconds, {
    message: 'expected timeoutSeconds below intervalSeconds (Marathon refuses it otherwise)',
  });

const upgradeStrategy = z.strictObject({
  minimumHealthCapacity: z.number().min(0).max(1).default(1),
  maximumOverCapacity: z.number().min(0).max(1).default(1),
});

/** One HTTP check sent straight to each task of the new version, once it is healthy. */
const smokeCheck = z.strictObject({
  path: oneLine.pipe(z.string().startsWith('/')),
  /** The status every task must answer. */
  status: z.number().int().min(100).max(599).default(200),
  /** A regular expression the response body must match. */
  body: z
    .string()
    .refine(
      (v) => {
        try {
          new RegExp(v);
          return true;
        } catch {
          return false;
        }
      },
      { message: 'expected a valid regular expression' },
    )
    .optional(),
  timeout: duration.default('5s'),
});

/** A Prometheus instant query and the bound its value must stay within while the new version runs. */
const metricCheck = z
  .strictObject({
    query: z.string().min(1),
    max: z.number().optional(),
    min: z.number().optional(),
    /** How long a breach must last before it fails the deploy (checked every `interval` of the soak). */
    for: duration.optional(),
    /** What an empty answer (no series, or NaN) means: no data fails by default. */
    noData: z.enum(['fail', 'pass']).default('fail'),
  })
  .refine((m) => m.max !== undefined || m.min !== undefined, { message: 'expected "max", "min" or both' });

/** What a service file may set under `verify` (everything but where Prometheus is). */
const verifyFields = {
  /** How long the new version is watched after it became healthy (restarts, health, instances). */
  soak: duration.optional(),
  /** How often the soak looks. */
  interval: duration.default('30s'),
  smoke: z.array(smokeCheck).default([]),
  metrics: z.array(metricCheck).default([]),
};
const verifyOverride = z.strictObject(verifyFields);

/**
 * Verification of a deploy, per environment: `prometheus` is the operator's (slipway.yaml), so a
 * service file can change the checks but never where the worker sends its queries.
 */
const verifySchema = z.strictObject({ ...verifyFields, prometheus: z.url().optional() });
/** One canary step: `instances` or `percent` of the configured instances, then an optional wait. */
const canaryStep = z
  .strictObject({
    instances: z.number().int().min(1).optional(),
    percent: z.number().min(1).max(100).optional(),
    verify: duration.optional(),
  })
  .refine((s) => (s.instances === undefined) !== (s.percent === undefined), {
    message: 'expected exactly one of "instances" or "percent"',
  });

/**
 * How a new version replaces the running one: `rolling` (Marathon's own upgrade, the default),
 * `blue-green` or `canary` (marathon-lb deployment groups; they need `servicePort` and
 * `altServicePort`). The short forms `blue-green` and `canary` take the defaults below.
 */
const strategy = z.union([
  z.enum(['rolling', 'blue-green', 'canary']),
  z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('rolling') }),
    z.strictObject({ type: z.literal('blue-green'), drain: duration.optional() }),
    z.strictObject({
      type: z.literal('canary'),
      steps: z
        .array(canaryStep)
        .min(1)
        .refine((steps) => steps.at(-1)?.percent === 100, {
          message: 'expected the last step to be { percent: 100 } (it promotes the canary)',
        }),
      drain: duration.optional(),
    }),
  ]),
]);
export type StrategyConfig = z.infer<typeof strategy>;

/** The per-environment tunables of an app; all optional so overrides can name just what changes. */
const appFields = {
  instances: z.number().int().min(0).max(1000),
  cpus: z.number().positive().max(64),
  mem: z.number().positive().max(1_048_576),
  disk: z.number().min(0),
  network: z.enum(['bridge', 'host']),
  port: z.number().int().min(1).max(65535),
  healthCheck: healthCheck.nullable(),
  readinessCheck: readinessCheck.nullable(),
  upgradeStrategy,
  env: z.record(z.string(), configValue),
  labels: z.record(z.string(), z.string()),
  constraints: z.array(z.array(z.string())),
  healthTimeout: duration,
  args: z.array(z.string()),
  /** Replaces the environment's verification checks for this service; null turns verification off. */
  verify: verifyOverride.nullable(),
  strategy,
  /** marathon-lb's port for the service (blue-green, canary): label HAPROXY_0_PORT. */
  servicePort: z.number().int().min(1).max(65535),
  /** The second app's Marathon service port (blue-green, canary): label HAPROXY_DEPLOYMENT_ALT_PORT. */
  altServicePort: z.number().int().min(1).max(65535),
};
const appOverride = z.strictObject(appFields).partial();

const build = z.strictObject({
  /** Repository-relative path of the service's own Dockerfile: used as is. */
  dockerfile: oneLine.optional(),
  /** Repository-relative path of the service's own Handlebars Dockerfile template. */
  template: oneLine.optional(),
  context: oneLine.default('.'),
  buildCommand: oneLine.optional(),
  startCommand: oneLine.optional(),
  buildArgs: z.record(z.string(), configValue).default({}),
  /** java (Maven): the module of a multi-module build to ship, e.g. "service-api". */
  module: z
    .string()
    .regex(/^[\w.-]+(\/[\w.-]+)*\/?$/, 'expected a module directory inside the repository, like "server"')
    .refine((v) => !v.split('/').includes('..'), { message: 'expected a path inside the repository' })
    .optional(),
  /** java (Maven): `mvn package -DskipTests`. */
  skipTests: z.boolean().optional(),
});

/** A URL that may itself be a secret (Slack's incoming-webhook URLs carry their token). */
const notifyUrlExpected = 'expected an http(s) URL, or a secret reference like { secret: { env: SLACK_WEBHOOK_URL } }';
const notifyUrl = z.union([z.url({ protocol: /^https?$/, error: notifyUrlExpected }), secretRef], {
  error: notifyUrlExpected,
});
const notifyFilters = {
  /** Event kinds to send (default: all of them). */
  events: z.array(z.enum(deliveryEventKinds)).min(1).optional(),
  /** Only these services (default: all). */
  services: z.array(name).min(1).optional(),
  /** Only these environments (default: all, and events without one). */
  environments: z.array(name).min(1).optional(),
};
/**
 * Where delivery events are sent: a Slack-compatible incoming webhook (Slack, Mattermost,
 * Rocket.Chat take the same JSON), or a generic JSON webhook signed with HMAC-SHA256.
 */
const notifyTarget = z
  .strictObject({
    slack: z.strictObject({ url: notifyUrl }).optional(),
    webhook: z.strictObject({ url: notifyUrl, secret: secretRef }).optional(),
    ...notifyFilters,
  })
  .refine((t) => Number(!!t.slack) + Number(!!t.webhook) === 1, {
    message: 'expected exactly one of "slack" or "webhook"',
  });
export type NotifyTarget = z.infer<typeof notifyTarget>;

const serviceSchema = z.strictObject({
  name,
  type: z.enum(serviceTypes),
  /** Git URL: https://, ssh://, git@host:path, file:// or a local path. Default: GITLAB_URL + project. */
  repository: z.string().optional(),
  gitlab: z
    .strictObject({
      project: z.string().regex(/^[\w.-]+(\/[\w.-]+)+$/, 'expected a GitLab path_with_namespace like "group/project"'),
      branches: z.array(z.string()).default(['main']),
      tags: z.array(z.string()).default([]),
    })
    .optional(),
  /**
   * Monorepos: repository paths this service is built from (common/path-glob.ts: `**` any depth,
   * `*` within one segment). A branch push that changes none of them starts no pipeline for it.
   */
  paths: z
    .array(
      z
        .string()
        .min(1)
        .refine((g) => !g.startsWith('/') && !g.split('/').includes('..') && !g.split('/').includes(''), {
          message: 'expected a repository-relative glob like "services/payments/**" (no leading "/", no "..")',
        }),
    )
    .min(1, 'expected at least one glob; leave "paths" out to build on every push')
    .optional(),
  build: build.default({ context: '.', buildArgs: {} }),
  app: appOverride.default({}),
  environments: z.record(z.string(), appOverride).default({}),
  /** Notification targets for this service's events only, on top of slipway.yaml's. */
  notify: z.array(notifyTarget).default([]),
});

const approverName = z.string().regex(/^@?[\w.-]+$/, 'expected an approver name, or "@group" for an approver group');

const approvalSchema = z.strictObject({
  /** Approver names, and "@group" for a group from `approverGroups`. */
  approvers: z.array(approverName).min(1, 'expected at least one approver'),
  /** Distinct approvals needed before the promotion goes on. */
  required: z.number().int().min(1).default(1),
  /** Only decisions verified through the authenticated HTTP API count (no Temporal UI signals). */
  requireVerified: z.boolean().default(false),
  timeout: duration.default('72h'),
  /** Whether the author of the commit may approve its promotion into this environment. */
  authorMayApprove: z.boolean().default(false),
});

const environmentSchema = z.strictObject({
  name,
  marathon: z.url().optional(),
  approval: approvalSchema.optional(),
  /** How long a deploy may take to become healthy before Slipway rolls it back. */
  healthTimeout: duration.default('5m'),
  /** Marathon group the apps of this environment live in; default "/<name>". */
  group: z
    .string()
    .refine(
      (g) =>
        /^(\/[^/]+)+$/.test(g) &&
        g
          .split('/')
          .slice(1)
          .every((seg) => idSegment.test(seg)),
      {
        message: 'expected a Marathon group path like "/test"',
      },
    )
    .optional(),
  /** How deploys replace the running version here (services may override it per environment). */
  strategy: strategy.optional(),
  /** Force a deploy over a deployment Slipway did not start (normally it waits). */
  forceOverForeignDeployments: z.boolean().default(false),
  /**
   * A registry tag that follows what runs here (e.g. hello-node:production): set on the digest
   * once it is healthy, and again after a rollback.
   */
  imageTag: z
    .string()
    .regex(/^[\w][\w.-]{0,127}$/, 'expected a Docker tag: letters, digits, "_", "." and "-", at most 128')
    .optional(),
  /** Verification after "healthy": a soak, smoke checks, Prometheus thresholds; failing it rolls back. */
  verify: verifySchema.optional(),
});

/** A value checked by a function that says what is wrong with it (undefined: nothing). */
const checkedString = (problem: (v: string) => string | undefined) =>
  z.string().superRefine((v, ctx) => {
    const found = problem(v);
    if (found) ctx.addIssue({ code: 'custom', message: found });
  });

/** A freeze window: no deploys into its environments from each `cron` start for `duration`. */
const freezeWindowSchema = z.strictObject({
  cron: checkedString(cronProblem),
  duration,
  timezone: checkedString(timezoneProblem).default('UTC'),
  /** Environments it freezes; absent: all of them. */
  environments: z.array(z.string()).min(1, 'expected at least one environment, or no field for all').optional(),
  reason: z.string().min(1, 'expected why, like "weekend": everyone who waits sees it'),
});

const baseImage = z.union([imageReference, z.strictObject({ build: imageReference, runtime: imageReference })]);

const rootSchema = z.strictObject({
  registry: z.string().optional(),
  baseImages: z.partialRecord(z.enum(serviceTypes), baseImage).default({}),
  environments: z.array(environmentSchema).min(1, 'expected at least one environment'),
  /** Approver groups, defined once and named in approvals as "@<group>". */
  approverGroups: z
    .record(z.string().regex(/^[\w.-]+$/, 'expected a group name'), z.array(approverName).min(1))
    .default({}),
  /** Approvers' stable identities, told apart from a change's pusher and commit authors. */
  identities: z
    .record(
      z.string(),
      z.strictObject({
        gitlabUserId: z.number().int().positive().optional(),
        gitlabUsername: z.string().min(1).optional(),
        emails: z.array(z.email()).default([]),
      }),
    )
    .default({}),
  /** Approver tokens: name -> sha256 hex of the token, for the HTTP approval API. */
  approverTokens: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 hex digest')).default({}),
  /** App defaults for every service (overridden by the service's app and environment blocks). */
  defaults: appOverride.default({}),
  /** Where delivery events are sent (the audit log records them all regardless). */
  notify: z.array(notifyTarget).default([]),
  /** Freeze windows: no deploys then (an approver may override one for a pipeline). */
  freeze: z.array(freezeWindowSchema).optional(),
});

export type HealthCheckConfig = z.infer<typeof healthCheck>;
export type ReadinessCheckConfig = z.infer<typeof readinessCheck>;
export type AppOverride = z.infer<typeof appOverride>;
export type ServiceConfig = z.infer<typeof serviceSchema>;
export type EnvironmentConfig = z.infer<typeof environmentSchema> & { marathon: string; group: string };
export type IdentityConfig = z.infer<typeof rootSchema>['identities'][string];
export type ApprovalConfig = z.infer<typeof approvalSchema>;
export type VerifyConfig = z.infer<typeof verifyOverride>;

export interface DeployConfig {
  dir: string;
  registry: string;
  baseImages: Record<ServiceType, { build: string; runtime: string }>;
  environments: EnvironmentConfig[];
  services: Map<string, ServiceConfig & { file: string }>;
  approverTokens: Record<string, string>;
  identities: Record<string, IdentityConfig>;
  defaults: AppOverride;
  notify: NotifyTarget[];
  /**
   * Freeze windows; undefined when slipway.yaml has no `freeze:` (then pipelines check none).
   * `freeze: []` turns the checks on with no window yet, so windows added later reach running pipelines.
   */
  freeze?: FreezeWindowConfig[];
}

/** Resolved settings of one service in one environment: defaults <- service.app <- environment override. */
export interface AppSettings {
  instances: number;
  cpus: number;
  mem: number;
  disk: number;
  network: 'bridge' | 'host';
  port: number;
  healthCheck: HealthCheckConfig | null;
  readinessCheck: ReadinessCheckConfig | null;
  upgradeStrategy: { minimumHealthCapacity: number; maximumOverCapacity: number };
  env: Record<string, ConfigValue>;
  labels: Record<string, string>;
  constraints: string[][];
  healthTimeoutSeconds: number;
  args?: string[];
  /** Verification after "healthy": the environment's, or the service's override; null: none. */
  verify: VerifyConfig | null;
  strategy?: StrategyConfig;
  servicePort?: number;
  altServicePort?: number;
}

const builtinDefaults: AppSettings = {
  instances: 1,
  cpus: 0.1,
  mem: 128,
  disk: 0,
  network: 'bridge',
  port: 8080,
  healthCheck: healthCheck.parse({}),
  readinessCheck: null,
  upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
  env: {},
  labels: {},
  constraints: [],
  healthTimeoutSeconds: 300,
  verify: null,
};

const localBaseImages: Record<ServiceType, { build: string; runtime: string }> = {
  node: { build: 'local/node:18', runtime: 'local/node:18-slim' },
  java: { build: 'local/jdk:17', runtime: 'local/jre:17' },
  python: { build: 'local/python:3.11', runtime: 'local/python:3.11-slim' },
  dotnet: { build: 'mcr.microsoft.com/dotnet/sdk:8.0', runtime: 'mcr.microsoft.com/dotnet/aspnet:8.0' },
};

function describeIssue(file: string, issue: z.core.$ZodIssue, input: unknown): ConfigError {
  const field = issue.path.map(String).join('.') || '(top level)';
  let value: unknown = input;
  for (const key of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey];
  const shown = value === undefined ? 'missing' : JSON.stringify(value);
  return new ConfigError(`${file}: field "${field}" is ${shown}: ${issue.message}`, file, field);
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`, file);
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`, file);
  }
}

function validate<T>(schema: z.ZodType<T>, file: string, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) throw describeIssue(file, result.error.issues[0] as z.core.$ZodIssue, input);
  return result.data;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
}

export function loadDeployConfig(dir: string, opts: LoadOptions = {}): DeployConfig {
  const env = opts.env ?? process.env;
  const rootFile = path.join(dir, 'slipway.yaml');
  if (!existsSync(rootFile)) {
    throw new ConfigError(
      `${rootFile}: missing; SLIPWAY_CONFIG_DIR must be a directory with slipway.yaml and services/*.yaml`,
      rootFile,
    );
  }
  const root = validate(rootSchema, rootFile, readYaml(rootFile));

  const seen = new Set<string>();
  const environments: EnvironmentConfig[] = root.environments.map((e, i) => {
    if (seen.has(e.name))
      throw new ConfigError(
        `${rootFile}: field "environments.${i}.name" is "${e.name}": expected each environment once`,
        rootFile,
      );
    seen.add(e.name);
    const marathon = e.marathon ?? env.MARATHON_URL;
    if (!marathon) {
      throw new ConfigError(
        `${rootFile}: field "environments.${i}.marathon" is missing: expected a Marathon URL here or in MARATHON_URL`,
        rootFile,
      );
    }
    const approval =
      e.approval && expandApprovers(e.approval, root.approverGroups, `${rootFile}: field "environments.${i}.approval`);
    return { ...e, approval, marathon: marathon.replace(/\/+$/, ''), group: e.group ?? `/${e.name}` };
  });

  root.freeze?.forEach((window, i) =>
    window.environments?.forEach((name, j) => {
      if (!seen.has(name))
        throw new ConfigError(
          `${rootFile}: field "freeze.${i}.environments.${j}" is "${name}": expected one of ${[...seen].join(', ')}`,
          rootFile,
          `freeze.${i}.environments.${j}`,
        );
    }),
  );

  const baseImages = { ...localBaseImages };
  for (const [type, image] of Object.entries(root.baseImages)) {
    baseImages[type as ServiceType] = typeof image === 'string' ? { build: image, runtime: image } : image;
  }

  const services = new Map<string, ServiceConfig & { file: string }>();
  const servicesDir = path.join(dir, 'services');
  const files = existsSync(servicesDir)
    ? readdirSync(servicesDir)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
    : [];
  for (const f of files) {
    const file = path.join(servicesDir, f);
    const service = validate(serviceSchema, file, readYaml(file));
    if (services.has(service.name)) {
      throw new ConfigError(
        `${file}: field "name" is "${service.name}": expected a unique name, also used in ${services.get(service.name)?.file}`,
        file,
        'name',
      );
    }
    for (const envName of Object.keys(service.environments)) {
      if (!seen.has(envName)) {
        throw new ConfigError(
          `${file}: field "environments.${envName}" names an unknown environment: expected one of ${[...seen].join(', ')}`,
          file,
          `environments.${envName}`,
        );
      }
    }
    if (service.build.dockerfile && service.build.template) {
      throw new ConfigError(
        `${file}: field "build" has both dockerfile and template: expected at most one`,
        file,
        'build',
      );
    }
    services.set(service.name, { ...service, file });
  }

  return {
    dir,
    registry: root.registry ?? env.SLIPWAY_REGISTRY ?? '127.0.0.1:5000',
    baseImages,
    environments,
    services,
    approverTokens: root.approverTokens,
    identities: root.identities,
    defaults: root.defaults,
    notify: root.notify,
    ...(root.freeze ? { freeze: root.freeze } : {}),
  };
}

/** Replaces "@group" entries with the group's members, and checks `required` against them. */
function expandApprovers(approval: ApprovalConfig, groups: Record<string, string[]>, where: string): ApprovalConfig {
  const approvers = new Set<string>();
  for (const entry of approval.approvers) {
    if (!entry.startsWith('@')) {
      approvers.add(entry);
      continue;
    }
    const members = groups[entry.slice(1)];
    if (!members) {
      const known =
        Object.keys(groups)
          .map((g) => `@${g}`)
          .join(', ') || 'none defined in approverGroups';
      throw new ConfigError(`${where}.approvers" names the unknown group "${entry}": expected one of ${known}`);
    }
    for (const m of members) approvers.add(m);
  }
  if (approval.required > approvers.size) {
    throw new ConfigError(
      `${where}.required" is ${approval.required}: expected at most the ${approvers.size} distinct approvers (${[...approvers].join(', ')})`,
    );
  }
  return { ...approval, approvers: [...approvers] };
}

export function getService(config: DeployConfig, service: string): ServiceConfig & { file: string } {
  const found = config.services.get(service);
  if (!found) {
    const known = [...config.services.keys()].join(', ') || 'none';
    throw new ConfigError(
      `unknown service "${service}": expected one of ${known} (files in ${path.join(config.dir, 'services')})`,
    );
  }
  return found;
}

export function getEnvironment(config: DeployConfig, environment: string): EnvironmentConfig {
  const found = config.environments.find((e) => e.name === environment);
  if (!found) {
    throw new ConfigError(
      `unknown environment "${environment}": expected one of ${config.environments.map((e) => e.name).join(', ')}`,
    );
  }
  return found;
}

export function resolveAppSettings(config: DeployConfig, service: ServiceConfig, environment: string): AppSettings {
  const env = getEnvironment(config, environment);
  const layers: AppOverride[] = [config.defaults, service.app, service.environments[environment] ?? {}];
  const out: AppSettings = {
    ...builtinDefaults,
    healthTimeoutSeconds: parseDuration(env.healthTimeout) ?? 300,
    // The checks only: where queries go stays with the worker, out of templates and history.
    verify: env.verify ? checksOf(env.verify) : null,
    ...(env.strategy ? { strategy: env.strategy } : {}),
  };
  for (const layer of layers) {
    const { healthTimeout, env: vars, labels, ...rest } = layer;
    Object.assign(out, Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)));
    if (vars) out.env = { ...out.env, ...vars };
    if (labels) out.labels = { ...out.labels, ...labels };
    if (healthTimeout) out.healthTimeoutSeconds = parseDuration(healthTimeout) ?? out.healthTimeoutSeconds;
  }
  return out;
}

function checksOf(verify: NonNullable<EnvironmentConfig['verify']>): VerifyConfig {
  const { soak, interval, smoke, metrics } = verify;
  return { ...(soak ? { soak } : {}), interval, smoke, metrics };
}

/** The Git URL to check a service out from. */
export function repositoryUrl(
  config: DeployConfig,
  service: ServiceConfig,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (service.repository) {
    // A bare path is relative to the config directory: handy for local repositories.
    if (/^[a-z+]+:\/\//i.test(service.repository) || /^[\w.-]+@[\w.-]+:/.test(service.repository))
      return service.repository;
    return `file://${path.resolve(config.dir, service.repository)}`;
  }
  if (service.gitlab && env.GITLAB_URL) return `${env.GITLAB_URL.replace(/\/+$/, '')}/${service.gitlab.project}.git`;
  throw new ConfigError(
    `service "${service.name}": expected "repository", or "gitlab.project" together with GITLAB_URL`,
  );
}

export function marathonAppId(envConfig: EnvironmentConfig, service: string): string {
  return `${envConfig.group}/${service}`;
}

/** The per-environment Marathon template a team may keep: environments/<env>/<service>.json.hbs. */
export function customAppTemplate(config: DeployConfig, service: string, environment: string): string | undefined {
  const file = path.join(config.dir, 'environments', environment, `${service}.json.hbs`);
  return existsSync(file) ? file : undefined;
}

/**
 * The verification a deploy of `settings` goes through, in seconds, for workflow history: the
 * checks only (never the Prometheus URL, which the worker looks up itself). Undefined: none.
 */
export function verifyPlanOf(verify: VerifyConfig | null): VerifyPlan | undefined {
  if (!verify || (!verify.soak && verify.smoke.length === 0 && verify.metrics.length === 0)) return undefined;
  const seconds = (d: string) => parseDuration(d) ?? 0;
  return {
    ...(verify.soak ? { soakSeconds: seconds(verify.soak) } : {}),
    intervalSeconds: seconds(verify.interval),
    smoke: verify.smoke.map((c) => ({
      path: c.path,
      status: c.status,
      ...(c.body !== undefined ? { body: c.body } : {}),
      timeoutSeconds: seconds(c.timeout),
    })),
    metrics: verify.metrics.map((m) => ({
      query: m.query,
      ...(m.max !== undefined ? { max: m.max } : {}),
      ...(m.min !== undefined ? { min: m.min } : {}),
      ...(m.for ? { forSeconds: seconds(m.for) } : {}),
      noData: m.noData,
    })),
  };
}

/** Where this worker sends an environment's metric queries: its `verify.prometheus`, else SLIPWAY_PROMETHEUS_URL. */
export function prometheusUrlOf(
  config: DeployConfig,
  environment: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  return getEnvironment(config, environment).verify?.prometheus ?? env.SLIPWAY_PROMETHEUS_URL;
}
const defaultCanarySteps = [{ instances: 1, verify: '5m' }, { percent: 100 }];

/**
 * The strategy of a service in an environment (the service's setting over the environment's),
 * with the ports a blue-green or canary deploy needs; a missing port is a ConfigError naming the file.
 */
export function resolveStrategy(
  config: DeployConfig,
  service: ServiceConfig & { file?: string },
  environment: string,
): DeployStrategy {
  const settings = resolveAppSettings(config, service, environment);
  const chosen = typeof settings.strategy === 'string' ? { type: settings.strategy } : settings.strategy;
  if (!chosen || chosen.type === 'rolling') return { type: 'rolling' };
  const { servicePort, altServicePort } = settings;
  const where = service.file ?? `service "${service.name}"`;
  if (servicePort === undefined || altServicePort === undefined || servicePort === altServicePort) {
    throw new ConfigError(
      `${where}: strategy "${chosen.type}" in ${environment} needs "servicePort" and a different "altServicePort" (marathon-lb's HAPROXY_0_PORT and HAPROXY_DEPLOYMENT_ALT_PORT), got ${String(servicePort)} and ${String(altServicePort)}`,
      where,
      'servicePort',
    );
  }
  const drainSeconds = parseDuration(('drain' in chosen && chosen.drain) || '10s') ?? 10;
  const ports = { servicePort, altServicePort, drainSeconds };
  if (chosen.type === 'blue-green') return { type: 'blue-green', ...ports };
  const steps = ('steps' in chosen && chosen.steps) || defaultCanarySteps;
  return {
    type: 'canary',
    ...ports,
    steps: steps.map((s) => ({
      ...(s.instances !== undefined ? { instances: s.instances } : { percent: s.percent }),
      ...(s.verify ? { verifySeconds: parseDuration(s.verify) } : {}),
    })),
  };
}
