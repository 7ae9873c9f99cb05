// Activity fakes for workflow tests: a small model of the outside world (build host, registry,
// Marathon apps with versions) that records every call, so tests assert what the workflows did —
// which deploys ran, in what order, how many at once, what was rolled back. The lane activities
// are the real ones, over the test environment's client.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { createLaneChecks } from '../../activities/lane-checks';
import { createLaneActivities } from '../../activities/lanes';
import { createPromotionActivities } from '../../activities/promotion';
import { verifyDecisionAttestation } from '../../activities/attestation';
import { createEventActivities } from '../../activities/events';
import { createFreezeActivities } from '../../activities/freeze';
import type { CommitStatusInput } from '../../activities/gitlab';
import type { FreezeWindowConfig } from '../../common/freeze-windows';
import type { BuildActivities, DeployActivities } from '../../activities';
import type { ApprovalRule, PipelinePlan } from '../../common/contract';
import { NonRetryable } from '../../common/errors';
import { createFakeVerify, type VerifyScript } from './fake-verify';

export interface WorldOptions {
  client: Client;
  environments?: {
    name: string;
    approval?: Partial<ApprovalRule> & { approvers: string[]; timeoutSeconds: number };
  }[];
  /** Images whose deploys never become healthy (by commit prefix). */
  unhealthyCommits?: Set<string>;
  /** Milliseconds awaitHealthy takes; cancellable. */
  healthDelayMs?: number;
  /** Commits whose health wait takes this long instead (heartbeating, so cancellation reaches it). */
  slowCommits?: Map<string, number>;
  /** Marathon app versions Marathon no longer holds (it keeps a bounded number). */
  forgottenVersions?: Set<string>;
  /** Commits whose deploy into `test` is verified (config `verify`), and how their version behaves. */
  verifyScripts?: Map<string, VerifyScript>;
  /**
   * The freeze windows the worker's config holds, read at every check (edit the array to change
   * the config). Only services named frozen-* are planned with freeze checks: the config of the
   * others has no `freeze:`.
   */
  freezeWindows?: FreezeWindowConfig[];
}

/**
 * The real delivery-event activity over a folder of its own: audit lines land in
 * `<folder>/audit`, and a config without notification targets keeps it from sending anything.
 */
function eventActivities() {
  // Inside the test run's audit folder (test/run.ts removes it at the end), else the system's.
  const folder = mkdtempSync(path.join(process.env.SLIPWAY_AUDIT_DIR ?? os.tmpdir(), 'world-events-'));
  writeFileSync(
    path.join(folder, 'slipway.yaml'),
    'environments:\n  - name: test\n    marathon: http://marathon.test\n',
  );
  const auditDir = path.join(folder, 'audit');
  return { auditDir, activities: createEventActivities({ auditDir, configDir: folder }) };
}

export interface DeployCall {
  appId: string;
  environment: string;
  pipelineId: string;
  image: string;
  version: string;
  previousVersion: string | null;
}

export function createFakeWorld(opts: WorldOptions) {
  const environments = opts.environments ?? [
    { name: 'test' },
    { name: 'integration' },
    { name: 'production', approval: { approvers: ['alice', 'bob'], timeoutSeconds: 3600 } },
  ];
  const apps = new Map<string, { version: string; image: string }>();
  const deploys: DeployCall[] = [];
  const rollbacks: { appId: string; toVersion: string; reason: string }[] = [];
  const builds: string[] = [];
  /** Registry tags as the fake registry holds them now: "repository:tag" -> digest reference. */
  const tags = new Map<string, string>();
  const tagCalls: { digestRef: string; tag: string }[] = [];
  /** What the fake registry holds: "repository:tag" -> digest reference, as pushImage stored it. */
  const pushed = new Map<string, string>();
  const gitlabDeployments: Parameters<DeployActivities['reportDeployment']>[0][] = [];
  const registryChecks: { imageRepository: string; tag: string; digestRef?: string }[] = [];
  const inFlight = new Map<string, number>();
  let maxConcurrentPerApp = 0;
  const events = eventActivities();
  let versionCounter = 0;
  const verify = createFakeVerify(opts.verifyScripts ?? new Map(), (version) => {
    const pipelineId = deploys.find((d) => d.version === version)?.pipelineId ?? '';
    return pipelineId.slice(pipelineId.lastIndexOf('/') + 1);
  });
  const commitStatuses: CommitStatusInput[] = [];

  const sleep = (ms: number) => {
    try {
      return Context.current().sleep(ms);
    } catch {
      return new Promise((r) => setTimeout(r, ms));
    }
  };

  const deploy: Partial<DeployActivities> = {
    async planPipeline({ service, commit }): Promise<PipelinePlan> {
      return {
        service,
        type: 'node',
        repository: `file:///repos/${service}`,
        imageRepository: `registry.test/${service}`,
        tag: commit.slice(0, 12),
        baseImages: { build: 'local/node:18', runtime: 'local/node:18-slim' },
        port: 8080,
        build: { context: '.', buildArgs: {} },
        environments: environments.map((e) => ({
          name: e.name,
          marathonUrl: 'http://marathon.test',
          appId: `/${e.name}/${service}`,
          approval: e.approval && { authorMayApprove: false, ...e.approval },
          healthTimeoutSeconds: 60,
          forceOverForeignDeployments: false,
          // Services named tagged-* keep a registry tag per environment (config `imageTag`).
          ...(service.startsWith('tagged-') ? { imageTag: e.name } : {}),
        })),
        ...(service.startsWith('frozen-') ? { freezeChecks: true } : {}),
      };
    },
    async renderMarathonApp({ service, environment, image }) {
      return fakeApp(service, environment, image);
    },
    async deployToMarathon({ app, environment, pipelineId }) {
      const appId = String(app.id);
      const image = (app as { container: { docker: { image: string } } }).container.docker.image;
      const previous = apps.get(appId);
      const version = `v${++versionCounter}`;
      deploys.push({ appId, environment, pipelineId, image, version, previousVersion: previous?.version ?? null });
      apps.set(appId, { version, image });
      inFlight.set(appId, (inFlight.get(appId) ?? 0) + 1);
      maxConcurrentPerApp = Math.max(maxConcurrentPerApp, inFlight.get(appId)!);
      return {
        appId,
        deploymentId: `dep-${version}`,
        version,
        previousVersion: previous?.version ?? null,
        previousImage: previous?.image ?? null,
        unchanged: false,
      };
    },
    async awaitHealthy({ appId, version }) {
      try {
        const image = apps.get(appId)?.image ?? '';
        const commit = deploys.find((d) => d.version === version)?.pipelineId ?? '';
        const slow = [...(opts.slowCommits ?? [])].find(([c]) => commit.includes(c));
        if (slow) {
          const until = Date.now() + slow[1];
          while (Date.now() < until) {
            Context.current().heartbeat();
            await Context.current().sleep(50);
          }
        } else {
          await sleep(opts.healthDelayMs ?? 10);
        }
        if ([...(opts.unhealthyCommits ?? [])].some((c) => commit.includes(c))) {
          throw ApplicationFailure.nonRetryable(
            `${appId} ${version} not healthy within 60 s (healthy 0/1) [${image}]`,
            NonRetryable.HealthTimeout,
          );
        }
        return { appId, version, instances: 1, healthy: 1, running: 1, tookMs: opts.healthDelayMs ?? 10 };
      } finally {
        inFlight.set(appId, (inFlight.get(appId) ?? 1) - 1);
      }
    },
    async rollbackMarathonApp({ appId, toVersion, reason }) {
      rollbacks.push({ appId, toVersion, reason });
      const version = `v${++versionCounter}`;
      const image = deploys.find((d) => d.version === toVersion)?.image ?? 'unknown';
      apps.set(appId, { version, image });
      return { deploymentId: `dep-${version}`, version };
    },
    async reportCommitStatus(input) {
      commitStatuses.push(input);
      return null;
    },
    async reportDeployment(input) {
      gitlabDeployments.push(input);
      return input.deploymentId === undefined
        ? { deploymentId: gitlabDeployments.length }
        : { deploymentId: input.deploymentId };
    },
    verifyDecisionAttestation,
    ...events.activities,
    ...verify.activities,
    ...createFreezeActivities({ windows: () => opts.freezeWindows ?? [] }),
    ...createLaneActivities({ client: opts.client }),
    // The real lookups over the test's Temporal; Marathon's versions from this world.
    ...createPromotionActivities({
      client: opts.client,
      deploys: {
        targetOf: (lane) => ({
          marathonUrl: 'http://marathon.test',
          appId: `/${lane.environment}/${lane.service}`,
          healthTimeoutSeconds: 60,
        }),
      },
      versions: async (target) =>
        [...deploys.filter((d) => d.appId === target.appId).map((d) => d.version)].filter(
          (v) => !opts.forgottenVersions?.has(v),
        ),
    }),
    // The real checks against the pipeline a message names; what to deploy comes from this world.
    ...createLaneChecks({
      client: opts.client,
      deploys: {
        deployFor: async (lane, request) => ({
          marathonUrl: 'http://marathon.test',
          app: fakeApp(lane.service, lane.environment, request.image),
          healthTimeoutSeconds: 60,
          forceOverForeignDeployment: false,
          ...(lane.service.startsWith('tagged-') ? { imageTag: lane.environment } : {}),
          ...(lane.environment === 'test' && verify.planFor(request.commit)
            ? { verify: verify.planFor(request.commit) }
            : {}),
        }),
        targetOf: (lane) => ({
          marathonUrl: 'http://marathon.test',
          appId: `/${lane.environment}/${lane.service}`,
          healthTimeoutSeconds: 60,
          ...(lane.service.startsWith('tagged-') ? { imageTag: lane.environment } : {}),
        }),
      },
    }),
  };

  const build: Partial<BuildActivities> = {
    async claimBuildHost() {
      return { hostId: 'test-host', taskQueue: 'slipway-build@test-host' };
    },
    async checkoutSource({ commit }) {
      return {
        workdir: `/tmp/fake/${commit}`,
        commit,
        committedAt: '2026-11-26T10:00:00.000Z',
        author: 'carol',
        authorEmail: 'carol@example.com',
      };
    },
    async buildImage({ repository, tag, commit }) {
      builds.push(commit);
      return {
        image: `${repository}:${tag}`,
        imageId: `sha256:${'1'.repeat(64)}`,
        durationMs: 5,
        steps: 3,
        cachedSteps: 0,
      };
    },
    async pushImage({ image }) {
      const repo = image.slice(0, image.lastIndexOf(':'));
      const digest = `sha256:${Buffer.from(image).toString('hex').padEnd(64, '0').slice(0, 64)}`;
      pushed.set(image, `${repo}@${digest}`);
      return { digestRef: `${repo}@${digest}`, digest, alreadyPresent: false };
    },
    async removeWorkdir() {},
    async verifyPromotionImage(input) {
      registryChecks.push(input);
      const found = input.digestRef
        ? [...pushed.values()].find((d) => d === input.digestRef && d.startsWith(`${input.imageRepository}@`))
        : pushed.get(`${input.imageRepository}:${input.tag}`);
      if (!found)
        throw ApplicationFailure.nonRetryable(
          `no build of this commit: no pipeline found and no ${input.imageRepository}:${input.tag} in the registry`,
          NonRetryable.NotPromotable,
        );
      return { digestRef: found, createdAt: '2026-11-26T10:00:00.000Z' };
    },
    async tagImageInRegistry({ digestRef, tag }) {
      tagCalls.push({ digestRef, tag });
      // A registry that refuses tags, for services named tagged-refused-*.
      if (digestRef.includes('/tagged-refused-'))
        throw ApplicationFailure.nonRetryable(`registry refused tag ${tag}: denied`, NonRetryable.Unauthorized);
      tags.set(`${digestRef.split('@')[0]}:${tag}`, digestRef);
    },
  };

  return {
    deploy,
    build,
    apps,
    deploys,
    rollbacks,
    builds,
    tags,
    tagCalls,
    maxConcurrent: () => maxConcurrentPerApp,
    /** Where the delivery events of this world's workflows are audited. */
    auditDir: events.auditDir,
    verified: verify.record,
    pushed,
    registryChecks,
    gitlabDeployments,
    commitStatuses,
  };
}

function fakeApp(service: string, environment: string, image: string): Record<string, unknown> {
  return { id: `/${environment}/${service}`, instances: 1, container: { type: 'DOCKER', docker: { image } } };
}
