// Docker build and push on a build host, through the Docker Engine API (dockerode; DOCKER_HOST
// selects a remote daemon). The daemons these run against have no BuildKit, so builds use the
// classic builder: the context is a tar we make ourselves (honouring .dockerignore), with the
// rendered Dockerfile and, for Slipway's templates, the extra CA bundle added under .slipway-build/.
// Progress streams into heartbeats (step n of m, and a count of messages), so a dead build host is
// noticed and a cancellation reaches the daemon; a build or push whose stream stops moving is
// failed by a progress watchdog (progress-watchdog.ts) instead of holding the build slot. Pushes return the registry's digest: the one thing deployed.
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import dockerignore from '@balena/dockerignore';
import Dockerode from 'dockerode';
import tar from 'tar-fs';
import type { ConfigValue } from '../common/config';
import { NonRetryable } from '../common/errors';
import { createLogger } from '../common/log';
import { currentActivity } from './activity-context';
import { ensureCheckoutDir, readCheckoutFile, writeCheckoutFile } from './checkout-fs';
import { generatedDir, insideCheckout, renderDockerfile, sourceDir } from './dockerfile';
import { parseImageReference, RegistryClient, registryCredentials } from './registry';
import { ProgressWatchdog, stallLimitMs, type WatchdogOptions } from './progress-watchdog';
import { resolveSecretValues } from './secrets';

const log = createLogger('docker');

export interface BuildImageInput {
  buildId: string;
  workdir: string;
  service: string;
  type: 'node' | 'java' | 'python' | 'dotnet';
  pipelineId: string;
  commit: string;
  /** Where the image goes, e.g. 127.0.0.1:5000/hello-node */
  repository: string;
  tag: string;
  baseImages: { build: string; runtime: string };
  port: number;
  buildCommand?: string;
  startCommand?: string;
  /** Literal values or secret references, resolved here on the build worker (secrets.ts). */
  buildArgs?: Record<string, ConfigValue>;
  /** java (Maven): the module to ship, and whether to skip the tests. */
  module?: string;
  skipTests?: boolean;
  /** Repository-relative path of the service's own Dockerfile. */
  dockerfile?: string;
  /** Repository-relative path of the service's own Handlebars Dockerfile template. */
  template?: string;
  /** Repository-relative build context; default ".". */
  context?: string;
}

export interface BuildStep {
  n: number;
  instruction: string;
  cached: boolean;
}

export interface BuildImageResult {
  /** repository:tag */
  image: string;
  imageId: string;
  durationMs: number;
  steps: number;
  cachedSteps: number;
  /** Each step with whether the layer cache answered it (instructions shortened). */
  stepDetails?: BuildStep[];
}

export interface PushImageInput {
  /** repository:tag */
  image: string;
  /** More tags for the same manifest, set through the registry API after the push. */
  extraTags?: string[];
}

export interface PushImageResult {
  /** repository@sha256:... */
  digestRef: string;
  digest: string;
  /** The registry already held this image under the tag: nothing was uploaded. */
  alreadyPresent: boolean;
}

/** Lines of build output kept for errors and logs. */
const tailLines = 40;
/** The classic builder's "Step 3/12 : RUN npm ci" progress line. */
const stepLine = /^Step (\d+)\/(\d+) : (.*)$/;

/** Where the extra CA bundle for build stages comes from: SLIPWAY_BUILD_CA_FILE, empty = none. */
export function buildCaFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const configured = env.SLIPWAY_BUILD_CA_FILE;
  if (configured === '') return undefined;
  if (configured !== undefined) {
    if (!existsSync(configured)) {
      throw ApplicationFailure.nonRetryable(
        `SLIPWAY_BUILD_CA_FILE=${configured} does not exist on this build host`,
        NonRetryable.BadConfig,
      );
    }
    return configured;
  }
  const hostBundle = '/etc/ssl/certs/ca-certificates.crt';
  return existsSync(hostBundle) ? hostBundle : undefined;
}

function badConfig(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, NonRetryable.BadConfig);
}

/** Keeps the last lines of a stream of text chunks. */
class LogTail {
  private lines: string[] = [];
  private partial = '';
  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    // The classic builder colours a step's stderr with ANSI escapes; keep the text only.
    for (const line of parts) if (line.trim()) this.lines.push(line.replace(/\x1b\[[0-9;]*m|\r/g, ''));
    if (this.lines.length > tailLines) this.lines.splice(0, this.lines.length - tailLines);
  }
  last(n: number): string[] {
    return [...this.lines, ...(this.partial.trim() ? [this.partial] : [])].slice(-n);
  }
}

/**
 * A tar of the context as `docker build` would send it: .dockerignore honoured, .git left out.
 * For a Dockerfile Slipway rendered, the service's files go under sourceDir/ and Slipway's own
 * under generatedDir/; a service's own Dockerfile gets the context as it is in the repository.
 */
function packContext(contextDir: string, layout: 'as-is' | 'split'): NodeJS.ReadableStream {
  const hasIgnoreFile = existsSync(path.join(contextDir, '.dockerignore')) || isLink(contextDir, '.dockerignore');
  const rules = hasIgnoreFile ? readCheckoutFile(contextDir, '.dockerignore', '.dockerignore').split('\n') : [];
  const matcher = dockerignore({ ignorecase: false }).add(rules);
  const pack = tar.pack(contextDir, {
    // A link in the context travels as a link (as the docker CLI sends it), never as what it points at.
    dereference: false,
    ignore: (file) => {
      const rel = path.relative(contextDir, file).split(path.sep).join('/');
      // Slipway's own files must reach the daemon whatever the service's .dockerignore says.
      if (rel === generatedDir || rel.startsWith(`${generatedDir}/`)) return false;
      if (rel === '.git' || rel.startsWith('.git/')) return true;
      return rel !== '' && matcher.ignores(rel);
    },
    // Owned by root inside the image, as the docker CLI sends it; the build cache ignores mtimes.
    map: (header) => ({
      ...header,
      name: layout === 'split' ? splitName(header.name) : header.name,
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
    }),
  });
  // tar-stream's Pack is a streamx Readable, which @types/dockerode does not know as a stream.
  return pack as unknown as NodeJS.ReadableStream;
}

function isLink(dir: string, name: string): boolean {
  try {
    return lstatSync(path.join(dir, name)).isSymbolicLink();
  } catch {
    return false;
  }
}

/** A context path in the split layout: Slipway's files stay where they are, the rest move under sourceDir/. */
function splitName(name: string): string {
  if (name === generatedDir || name.startsWith(`${generatedDir}/`)) return name;
  return name === '.' ? sourceDir : `${sourceDir}/${name}`;
}

interface BuildProgress {
  steps: BuildStep[];
  of: number;
  imageId?: string;
  error?: string;
}

function cancelledError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new CancelledFailure('build cancelled');
}

function isDaemonUnreachable(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return (
    code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT'
  );
}

/**
 * An abort signal that fires on the activity's cancellation or on a stall, and a way to start
 * the watchdog that fires it: a stalled build or push ends with the watchdog's error.
 */
function watched(cancellation: AbortSignal | undefined) {
  const controller = new AbortController();
  if (cancellation?.aborted) controller.abort(cancellation.reason);
  cancellation?.addEventListener('abort', () => controller.abort(cancellation.reason), { once: true });
  return {
    signal: controller.signal,
    watch: (opts: Omit<WatchdogOptions, 'onStall'>) =>
      new ProgressWatchdog({ ...opts, onStall: (err) => controller.abort(err) }).start(),
  };
}

export function createDockerActivities(deps: { docker?: Dockerode } = {}) {
  const docker = deps.docker ?? new Dockerode();

  /** Follows a build or push stream, handing each JSON message to `onMessage`. */
  function follow<T>(stream: NodeJS.ReadableStream, onMessage: (msg: T) => void, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        (stream as Readable).destroy?.();
        reject(cancelledError(signal));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      docker.modem.followProgress(
        stream,
        (err: Error | null) => {
          signal?.removeEventListener('abort', onAbort);
          if (signal?.aborted) return reject(cancelledError(signal));
          if (err) reject(err);
          else resolve();
        },
        (msg: T) => onMessage(msg),
      );
    });
  }

  function prepareContext(input: BuildImageInput): {
    contextDir: string;
    dockerfilePath: string;
    dockerfileName: string;
    layout: 'as-is' | 'split';
  } {
    const contextDir = insideCheckout(input.workdir, input.context ?? '.', 'build context');
    const ownDockerfile = Boolean(input.dockerfile);
    // A service's own Dockerfile gets no CA file: its COPY instructions could carry it into the runtime image.
    const caSource = ownDockerfile ? undefined : buildCaFile();
    const caFile = caSource ? `${generatedDir}/ca.crt` : undefined;
    const rendered = renderDockerfile({ ...input, caFile });
    // Never through a link the repository committed under generatedDir (checkout-fs.ts).
    const shown = (name: string) => path.posix.join(input.context ?? '.', generatedDir, name);
    const writeGenerated = (name: string, content: Buffer | string) =>
      writeCheckoutFile(
        ensureCheckoutDir(contextDir, generatedDir, 'Slipway build folder'),
        name,
        content,
        shown(name),
      );
    if (caSource) writeGenerated('ca.crt', readFileSync(caSource));
    if (ownDockerfile) {
      const own = insideCheckout(input.workdir, input.dockerfile!, 'dockerfile');
      const rel = path.relative(contextDir, own);
      if (!rel.startsWith('..'))
        return {
          contextDir,
          dockerfilePath: rel.split(path.sep).join('/'),
          dockerfileName: rendered.name,
          layout: 'as-is',
        };
    }
    writeGenerated('Dockerfile', rendered.text);
    return {
      contextDir,
      dockerfilePath: `${generatedDir}/Dockerfile`,
      dockerfileName: rendered.name,
      layout: ownDockerfile ? 'as-is' : 'split',
    };
  }

  async function buildImage(input: BuildImageInput): Promise<BuildImageResult> {
    const { registry, name } = parseImageReference(`${input.repository}:${input.tag}`);
    const image = `${registry}/${name}:${input.tag}`;
    const ctx = currentActivity();
    const { signal, watch } = watched(ctx?.cancellationSignal);
    const started = Date.now();
    const { contextDir, dockerfilePath, dockerfileName, layout } = prepareContext(input);
    const tail = new LogTail();
    const progress: BuildProgress = { steps: [], of: 0 };
    // Long RUN steps print nothing for minutes: the build's stall limit is generous (30 min by
    // default, SLIPWAY_BUILD_STALL_SECONDS); heartbeats go on meanwhile, carrying the count.
    const watchdog = watch({
      what: `docker build of ${input.service}`,
      stallMs: stallLimitMs('SLIPWAY_BUILD_STALL_SECONDS', 1800),
      heartbeat: (details) => ctx?.heartbeat(details),
      details: () => {
        const current = progress.steps.at(-1);
        return { step: current?.n ?? 0, of: progress.of, instruction: current?.instruction };
      },
    });
    log.info('build started', { service: input.service, image, dockerfile: dockerfileName });
    try {
      const context = packContext(contextDir, layout);
      // Secret build args are read here, on the build worker, and go to the daemon only.
      const buildargs = resolveSecretValues(input.buildArgs ?? {}, 'build.buildArgs');
      let stream: NodeJS.ReadableStream;
      try {
        stream = await docker.buildImage(context, {
          t: image,
          dockerfile: dockerfilePath,
          buildargs,
          rm: true,
          forcerm: true,
          version: '1',
          abortSignal: signal,
        });
      } catch (err) {
        if (signal?.aborted) throw cancelledError(signal);
        if (isDaemonUnreachable(err)) throw new Error(`Docker daemon unreachable: ${(err as Error).message}`);
        throw ApplicationFailure.nonRetryable(
          `docker build of ${input.service} was refused: ${(err as Error).message}`,
          NonRetryable.BuildFailed,
        );
      }
      await follow<{ stream?: string; error?: string; errorDetail?: { message?: string }; aux?: { ID?: string } }>(
        stream,
        (msg) => {
          watchdog.advance();
          if (msg.aux?.ID) progress.imageId = msg.aux.ID;
          if (msg.error) {
            progress.error = msg.errorDetail?.message ?? msg.error;
            tail.push(`${progress.error}\n`);
          }
          if (msg.stream === undefined) return;
          tail.push(msg.stream);
          for (const line of msg.stream.split('\n')) {
            const step = line.match(stepLine);
            if (step) {
              progress.of = Number(step[2]);
              progress.steps.push({ n: Number(step[1]), instruction: step[3]!.slice(0, 160), cached: false });
              watchdog.beat();
            } else if (line.trim() === '---> Using cache' && progress.steps.length > 0) {
              progress.steps.at(-1)!.cached = true;
            }
          }
        },
        signal,
      );
      if (progress.error) {
        const step = progress.steps.at(-1);
        const where = step ? `step ${step.n}/${progress.of} (${step.instruction})` : 'before the first step';
        throw ApplicationFailure.nonRetryable(
          `docker build of ${input.service} failed at ${where}: ${progress.error}\n--- last build output ---\n${tail.last(20).join('\n')}`,
          NonRetryable.BuildFailed,
          { step: step?.n, of: progress.of, logTail: tail.last(20) },
        );
      }
      const imageId = progress.imageId ?? (await docker.getImage(image).inspect()).Id;
      const result: BuildImageResult = {
        image,
        imageId,
        durationMs: Date.now() - started,
        steps: progress.of,
        cachedSteps: progress.steps.filter((s) => s.cached).length,
        stepDetails: progress.steps,
      };
      log.info('build finished', {
        service: input.service,
        image,
        ms: result.durationMs,
        steps: result.steps,
        cached: result.cachedSteps,
      });
      return result;
    } finally {
      watchdog.stop();
    }
  }

  /** The config digest of a pushed manifest, to compare with a local image ID. */
  function configDigest(manifest: Buffer): string | undefined {
    try {
      return (JSON.parse(manifest.toString()) as { config?: { digest?: string } }).config?.digest;
    } catch {
      return undefined;
    }
  }

  async function pushImage(input: PushImageInput): Promise<PushImageResult> {
    const ref = parseImageReference(input.image);
    if (!ref.tag || ref.digest) throw badConfig(`pushImage needs repository:tag, got "${input.image}"`);
    const repository = `${ref.registry}/${ref.name}`;
    const ctx = currentActivity();
    const { signal, watch } = watched(ctx?.cancellationSignal);
    const registry = new RegistryClient(ref.registry);

    let local: Dockerode.ImageInspectInfo;
    try {
      local = await docker.getImage(input.image).inspect();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) {
        // Retryable on purpose: when the attempts run out, the pipeline claims a build host again
        // and rebuilds, which is the only cure for an image that vanished from this daemon.
        throw new Error(`image ${input.image} is not on this build host (built elsewhere or removed)`);
      }
      throw err;
    }

    // The same image already under this tag (a retried push, a re-run pipeline): nothing to upload.
    const existing = await registry.getManifest(ref.name, ref.tag);
    let digest: string;
    let alreadyPresent = false;
    if (existing && configDigest(existing.body) === local.Id) {
      digest = existing.digest;
      alreadyPresent = true;
    } else {
      const creds = registryCredentials();
      const authconfig = creds
        ? { ...creds, serveraddress: ref.registry }
        : { username: '', password: '', serveraddress: ref.registry };
      const tail = new LogTail();
      let pushed: string | undefined;
      let error: string | undefined;
      const stream = await docker.getImage(input.image).push({ tag: ref.tag, authconfig, abortSignal: signal });
      const watchdog = watch({
        what: `docker push of ${input.image}`,
        stallMs: stallLimitMs('SLIPWAY_STALL_SECONDS', 120),
        heartbeat: (details) => ctx?.heartbeat(details),
        details: () => ({ phase: 'push' }),
      });
      try {
        await follow<{
          status?: string;
          id?: string;
          error?: string;
          errorDetail?: { message?: string };
          aux?: { Digest?: string };
        }>(
          stream,
          (msg) => {
            watchdog.advance();
            if (msg.aux?.Digest) pushed = msg.aux.Digest;
            if (msg.error) error = msg.errorDetail?.message ?? msg.error;
            if (msg.status) tail.push(`${msg.id ? `${msg.id}: ` : ''}${msg.status}\n`);
          },
          signal,
        );
      } finally {
        watchdog.stop();
      }
      if (error) {
        if (/unauthorized|authentication required|denied/i.test(error)) {
          throw ApplicationFailure.nonRetryable(
            `registry ${ref.registry} refused the push of ${input.image}: ${error} (check SLIPWAY_REGISTRY_USERNAME/SLIPWAY_REGISTRY_PASSWORD)`,
            NonRetryable.Unauthorized,
          );
        }
        // The registry's own error codes for a request that is wrong in itself (distribution spec).
        if (
          /name invalid|name unknown|manifest invalid|tag invalid|unsupported|blob unknown to registry/i.test(error)
        ) {
          throw ApplicationFailure.nonRetryable(
            `registry ${ref.registry} refused the push of ${input.image}: ${error} (not retried: the registry refuses the request itself)`,
            NonRetryable.BuildFailed,
          );
        }
        throw new Error(`push of ${input.image} failed: ${error}; last output: ${tail.last(5).join(' | ')}`);
      }
      // The registry is the authority on what the tag now points to.
      const stored = await registry.getManifest(ref.name, ref.tag);
      digest = stored?.digest ?? pushed ?? '';
      if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`push of ${input.image} reported no digest`);
      if (pushed && stored && pushed !== stored.digest) {
        log.warn('push stream and registry disagree on the digest; using the registry', {
          pushed,
          stored: stored.digest,
        });
      }
    }
    const digestRef = `${repository}@${digest}`;
    for (const tag of input.extraTags ?? []) await tagImageInRegistry({ digestRef, tag });
    log.info('pushed', { image: input.image, digestRef, alreadyPresent });
    return { digestRef, digest, alreadyPresent };
  }

  /** Points another tag at the same manifest through the registry API: no pull, no rebuild, no new digest. */
  async function tagImageInRegistry(input: { digestRef: string; tag: string }): Promise<void> {
    const ref = parseImageReference(input.digestRef);
    if (!ref.digest) throw badConfig(`tagImageInRegistry needs repository@sha256:digest, got "${input.digestRef}"`);
    if (!/^[\w][\w.-]{0,127}$/.test(input.tag)) throw badConfig(`tag "${input.tag}" is not a valid Docker tag`);
    const registry = new RegistryClient(ref.registry);
    const manifest = await registry.getManifest(ref.name, ref.digest);
    if (!manifest) {
      throw ApplicationFailure.nonRetryable(
        `${input.digestRef} is not in registry ${ref.registry}`,
        NonRetryable.BuildFailed,
      );
    }
    const current = await registry.getManifest(ref.name, input.tag);
    if (current?.digest === ref.digest) return;
    // The exact bytes go back, so the registry computes the same digest.
    const digest = await registry.putManifest(ref.name, input.tag, manifest.mediaType, manifest.body);
    if (digest && digest !== ref.digest)
      throw new Error(`registry stored ${ref.name}:${input.tag} as ${digest}, expected ${ref.digest}`);
  }

  return { buildImage, pushImage, tagImageInRegistry };
}
