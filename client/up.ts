// `slipway up`: the whole local stack in one process tree — Temporal dev server (persistent db,
// Web UI, search attributes), registry, Marathon emulator, deploy and build workers, the webhook
// and status server — each started only where the environment does not already name one. Prints
// every URL, writes them to .slipway/endpoints.json once all answer, and stops everything it
// started whatever ends it: SIGINT, SIGTERM, SIGHUP, a closed stdout/stderr (`npm start | tee`
// after Ctrl-C killed tee), an uncaught error. What no handler can catch (SIGKILL) is cleaned up by
// the next `up`, from the PIDs recorded in .slipway/up-processes.json. A lock file makes a second
// `up` say so instead of failing on a port.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../common/log';
import { defaultConfigDir, stateDir } from '../common/paths';
import { connectClient, temporalSettingsFromEnv } from '../common/temporal-connection';
import { createWorkers } from '../worker';
import { installRuntimeLogging } from '../worker/runtime';
import { startMarathonEmulator } from '../dev/marathon-emulator';
import { startRegistry } from '../dev/registry';
import { processStartTime, StackRecord, stopLeftovers } from '../dev/stack-record';
import { startTemporal, type TemporalKind } from '../dev/temporal-kind';
import { startWebhookServer } from './webhook';
import { pushDemo } from './commands/demo';

export interface Endpoints {
  temporalAddress: string;
  temporalUi?: string;
  registry: string;
  marathon: string;
  webhook: string;
  configDir: string;
}

export const endpointsFile = path.join(stateDir, 'endpoints.json');
/** "<pid> <start time>" of the running `up`: the start time tells it from a process that got its PID later. */
const lockFile = path.join(stateDir, 'up.pid');
const stackRecord = new StackRecord(path.join(stateDir, 'up-processes.json'));

function runningUp(): number | undefined {
  if (!existsSync(lockFile)) return undefined;
  const [pid, startTime] = readFileSync(lockFile, 'utf8').trim().split(/\s+/);
  const current = processStartTime(Number(pid));
  return current !== undefined && (startTime === undefined || current === startTime) ? Number(pid) : undefined;
}

/**
 * Runs `stop` once, then exits, on every way `up` can end that a handler can see. Ctrl-C reaches
 * `up` alone (the servers run in sessions of their own), a closed terminal sends SIGHUP, and when
 * `up` runs under `| tee`, Ctrl-C kills tee too: the next write to stdout or stderr fails with
 * EPIPE, which without a handler would end `up` on the spot and leave the servers running.
 */
function stopOnEveryExit(stop: () => Promise<void>, log: ReturnType<typeof createLogger>): void {
  let ending = false;
  const end = (reason: string, code: number, err?: unknown) => {
    if (ending) return;
    ending = true;
    // Logging to a broken pipe would only raise the same error again.
    if (!reason.startsWith('broken')) log.info(`${reason}: stopping the stack`, err ? { error: err } : {});
    void stop().finally(() => process.exit(code));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => end(signal, 0));
  for (const [name, stream] of [
    ['stdout', process.stdout],
    ['stderr', process.stderr],
  ] as const) {
    stream.on('error', (err: NodeJS.ErrnoException) => end(`broken ${name} (${err.code ?? err.message})`, 1));
  }
  process.on('uncaughtException', (err) => {
    if (!ending) process.stderr.write(`slipway up: ${err.stack ?? err.message}\n`);
    end('uncaught error', 1, err);
  });
}

/** A secret kept in the state folder so the dev stack works with no configuration. */
function devSecret(name: string, envVar: string): string {
  if (process.env[envVar]) return process.env[envVar] as string;
  const file = path.join(stateDir, name);
  if (!existsSync(file)) writeFileSync(file, randomBytes(24).toString('base64url'), { mode: 0o600 });
  const value = readFileSync(file, 'utf8').trim();
  process.env[envVar] = value;
  return value;
}

/**
 * A newcomer's first pipeline: with the example deploy config, push examples/hello-node through
 * the stack just started (SLIPWAY_DEMO=0 skips it). A failure here never stops the stack.
 */
async function startDemo(endpoints: Endpoints, log: ReturnType<typeof createLogger>): Promise<void> {
  if (path.resolve(endpoints.configDir) !== path.resolve(defaultConfigDir)) return;
  try {
    const { status, answer } = await pushDemo({
      service: 'hello-node',
      webhook: endpoints.webhook,
      configDir: endpoints.configDir,
    });
    if (status !== 202 || !answer.workflowId) throw new Error(`webhook answered ${status}: ${JSON.stringify(answer)}`);
    const ui = endpoints.temporalUi
      ? `${endpoints.temporalUi}/namespaces/${process.env.TEMPORAL_NAMESPACE ?? 'default'}/workflows/${encodeURIComponent(answer.workflowId)}`
      : '(external Temporal UI)';
    process.stdout.write(
      [
        'Demo: examples/hello-node was pushed through the webhook (SLIPWAY_DEMO=0 skips this).',
        `  Pipeline           ${answer.workflowId}`,
        `  In the Temporal UI ${ui}`,
        `  Follow it          npx slipway watch ${answer.workflowId}`,
        `  Approve production npx slipway approve ${answer.workflowId} --env production --as alice`,
        '  Again              npx slipway demo',
        '',
      ].join('\n'),
    );
  } catch (err) {
    log.warn('the demo pipeline was not started', { error: (err as Error).message });
  }
}

export async function up(opts: { temporal?: TemporalKind } = {}): Promise<void> {
  mkdirSync(stateDir, { recursive: true });
  const log = createLogger('up');
  const other = runningUp();
  if (other) {
    const endpoints = existsSync(endpointsFile) ? readFileSync(endpointsFile, 'utf8') : '(endpoints not written yet)';
    process.stdout.write(`slipway up is already running (pid ${other}); its endpoints:\n${endpoints}\n`);
    return;
  }
  writeFileSync(lockFile, `${process.pid} ${processStartTime(process.pid) ?? ''}`);
  for (const left of await stopLeftovers(stackRecord)) {
    process.stdout.write(`stopped the ${left.name} (pid ${left.pid}) that an earlier slipway up left running\n`);
  }
  rmSync(endpointsFile, { force: true });
  installRuntimeLogging();

  const stops: { name: string; stop: () => Promise<unknown> }[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const { name, stop } of stops.reverse()) {
        try {
          await stop();
        } catch (err) {
          log.warn(`stopping ${name} failed`, { error: (err as Error).message });
        }
      }
      // Also what was still starting when the end came (recorded at spawn, not yet in `stops`).
      await stopLeftovers(stackRecord, 5_000);
      rmSync(lockFile, { force: true });
      rmSync(endpointsFile, { force: true });
    })());
  stopOnEveryExit(stopAll, log);
  try {
    // Temporal
    let temporalAddress = process.env.TEMPORAL_ADDRESS;
    let temporalUi: string | undefined;
    if (!temporalAddress) {
      // dev: the dev server with its Web UI; postgres: the production server (temporal-cluster.ts).
      const kind = opts.temporal ?? 'dev';
      const server = await startTemporal(kind, {
        port: Number(process.env.TEMPORAL_PORT ?? 7233),
        uiPort: Number(process.env.TEMPORAL_UI_PORT ?? 8233),
        dataPath: path.join(stateDir, kind === 'dev' ? 'temporal.db' : 'temporal-cluster'),
        name: kind === 'dev' ? 'temporal' : 'temporal-cluster',
        onSpawn: (pid) => stackRecord.add(`Temporal ${kind} server`, pid),
      });
      stops.push({ name: `Temporal ${kind} server`, stop: () => server.stop() });
      temporalAddress = server.address;
      temporalUi = server.uiUrl;
      process.env.TEMPORAL_ADDRESS = temporalAddress;
      // The workers below learn the UI (GitLab commit status links) through configuration.
      process.env.SLIPWAY_TEMPORAL_UI_URL ??= temporalUi;
    }

    // Registry
    let registry = process.env.SLIPWAY_REGISTRY;
    if (!registry) {
      const started = await startRegistry(Number(process.env.SLIPWAY_REGISTRY_PORT ?? 5000), 'registry', (pid) =>
        stackRecord.add('registry', pid),
      );
      if (started.process) stops.push({ name: 'registry', stop: () => started.process!.stop() });
      registry = started.address;
      process.env.SLIPWAY_REGISTRY = registry;
    }

    // Marathon (the emulator stands in for it here)
    let marathon = process.env.MARATHON_URL;
    if (!marathon) {
      const emulator = await startMarathonEmulator({
        port: Number(process.env.SLIPWAY_MARATHON_PORT ?? 8080),
        mode: (process.env.SLIPWAY_MARATHON_MODE as 'containers' | 'simulated') ?? 'containers',
      });
      stops.push({ name: 'Marathon emulator', stop: () => emulator.close() });
      marathon = emulator.url;
      process.env.MARATHON_URL = marathon;
    }

    process.env.SLIPWAY_CONFIG_DIR ??= defaultConfigDir;
    devSecret('approval-key', 'SLIPWAY_APPROVAL_KEY');
    const webhookToken = devSecret('webhook-token', 'SLIPWAY_WEBHOOK_TOKEN');

    // Workers (both roles in this process)
    const settings = temporalSettingsFromEnv();
    const client = await connectClient(settings);
    stops.push({ name: 'Temporal client', stop: () => client.connection.close() });
    const workers = await createWorkers({ roles: ['deploy', 'build'], settings, client });
    const running = workers.run();
    stops.push({ name: 'workers', stop: async () => (workers.shutdown(), await running) });
    running.catch((err: unknown) => {
      log.error('a worker stopped', { error: err });
      void stopAll().then(() => process.exit(1));
    });

    // Webhook + status server
    const webhook = await startWebhookServer({
      port: Number(process.env.SLIPWAY_WEBHOOK_PORT ?? 8787),
      client,
      token: webhookToken,
    });
    stops.push({ name: 'webhook server', stop: () => webhook.close() });

    const endpoints: Endpoints = {
      temporalAddress,
      temporalUi,
      registry,
      marathon,
      webhook: `${webhook.url}/webhooks/gitlab`,
      configDir: process.env.SLIPWAY_CONFIG_DIR,
    };
    writeFileSync(endpointsFile, JSON.stringify(endpoints, null, 2) + '\n');
    process.stdout.write(
      [
        '',
        'Slipway is up.',
        `  Temporal UI        ${temporalUi ?? '(none: an external cluster, or --temporal postgres)'}`,
        `  Temporal gRPC      ${temporalAddress}`,
        `  Registry           ${registry}`,
        `  Marathon           ${marathon}${process.env.MARATHON_URL === marathon && !stops.some((s) => s.name === 'Marathon emulator') ? '' : '  (Marathon emulator: a development stand-in)'}`,
        `  Webhook            ${endpoints.webhook}   (X-Gitlab-Token: ${path.join(stateDir, 'webhook-token')})`,
        `  Status API         ${webhook.url}/pipelines`,
        `  Board              ${webhook.url}/board   (what runs where; JSON: ${webhook.url}/environments)`,
        `  Deploy config      ${endpoints.configDir}`,
        `  Endpoints file     ${endpointsFile}`,
        '',
        'Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
    if (process.env.SLIPWAY_DEMO !== '0') await startDemo(endpoints, log);
    await running;
  } catch (err) {
    await stopAll();
    throw err;
  }
}
